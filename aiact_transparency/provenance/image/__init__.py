"""Images: the invisible watermark, the visible label, decoding and re-encoding, and the ImageMarker."""
