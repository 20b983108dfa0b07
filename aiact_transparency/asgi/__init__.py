"""The ASGI transport: the middleware, its raw-message helpers, the HTML scanner and the body responders."""

from __future__ import annotations

from .middleware import TransparencyMiddleware

__all__ = ["TransparencyMiddleware"]
