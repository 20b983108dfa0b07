"""Audio marking: the imperceptible watermark (`watermark`) and decoding/encoding that keeps the input's
format (`codec`). Needs the `audio` extra (PyAV, soundfile, scipy); nothing here is imported by the package
root, so the rest of the library works without it."""
