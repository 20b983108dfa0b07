"""What the middleware does to one response body: notices (HTML banner, JSON member, SSE comment) and media
marking (media.py, with the marking service that bounds the work)."""
