"""Video marking: the frame watermark (`watermark`), the streaming re-encode that keeps the input's codec family,
resolution, frame rate and pixel format (`codec`), the EU "AI" icon (`label`) and `VideoMarker`. Needs the
`video` extra (PyAV; the soundtrack's watermark also needs the `audio` extra's scipy); nothing here is imported by
the package root, so the rest of the library works without it."""
