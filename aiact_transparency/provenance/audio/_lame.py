"""MP3 encoding through the system's LAME library (Debian's libmp3lame0) when it is installed, through ctypes.

Why: PyAV's wheels carry the same LAME 3.100, built so that it encodes about 3x slower (measured on 30 s of
48 kHz stereo at 128 kbit/s, same API calls, same quality 3, same output size: 630 ms CPU in the wheel's
library, 200 ms in Debian's). No PyAV option recovers that without lowering the quality (`compression_level`
7 is 400 ms). Debian's `ffmpeg` command was measured too: 270 ms CPU, of which ~70 ms is starting the
process, and over a pipe its MP3 muxer cannot go back to write the encoder-delay header (the output is not
seekable), so decoders would keep LAME's 1105 priming samples. The library itself is called here instead:
one handle per clip (LAME is reentrant per handle; ctypes releases the GIL during each call), the Info tag
with the encoder delay and padding written into the first frame as LAME's own command line does.

The settings are those of FFmpeg's libmp3lame wrapper (what PyAV gives): CBR at the given bit rate, the
output sample rate fixed to the input's (LAME would otherwise choose one), joint stereo for two channels,
the bit reservoir on, LAME's default quality. `encoder()` is None when the library cannot be loaded, and
`encode` None for the low bit rates whose frames cannot hold the Info tag; the codec then encodes through
PyAV.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["LameEncoder", "encoder"]

_JOINT_STEREO, _MONO = 1, 3  # LAME's MPEG_mode values
_LOCK = threading.Lock()


class LameEncoder:
    """Encodes float samples to a CBR MP3 with one loaded libmp3lame."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.lib, self.path = lib, path
        lib.lame_init.restype = ctypes.c_void_p
        handle_functions = ("lame_set_num_channels", "lame_set_in_samplerate", "lame_set_out_samplerate",
                            "lame_set_brate", "lame_set_mode", "lame_set_bWriteVbrTag", "lame_init_params",
                            "lame_close")
        for name in handle_functions:
            getattr(lib, name).argtypes = [ctypes.c_void_p] + ([] if name in ("lame_init_params", "lame_close")
                                                               else [ctypes.c_int])
        lib.lame_encode_buffer_ieee_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                                      ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        lib.lame_encode_flush.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.lame_get_lametag_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.lame_get_lametag_frame.restype = ctypes.c_size_t
        lib.get_lame_version.restype = ctypes.c_char_p
        self.version = lib.get_lame_version().decode("ascii", "replace")

    def encode(self, samples: npt.NDArray[np.float32], rate: int, bit_rate: int) -> bytes | None:
        """[n, channels] float samples (full scale +-1, 1 or 2 channels) as an MP3 file; None when LAME could not
        write its Info tag (a CBR frame too small for it: at 16-48 kHz, 32-48 kbit/s), without which decoders
        would keep the encoder's priming and padding: the caller encodes through PyAV then, whose muxer
        writes the tag in a frame of its own."""
        lib, channels = self.lib, samples.shape[1]
        with _LOCK:  # lame_init touches LAME's global tables on first use
            handle = lib.lame_init()
        if not handle:
            raise MemoryError("lame_init failed")
        try:
            for setter, value in (("lame_set_num_channels", channels), ("lame_set_in_samplerate", rate),
                                  ("lame_set_out_samplerate", rate), ("lame_set_brate", bit_rate // 1000),
                                  ("lame_set_mode", _JOINT_STEREO if channels == 2 else _MONO),
                                  ("lame_set_bWriteVbrTag", 1)):
                getattr(lib, setter)(handle, value)
            if lib.lame_init_params(handle) < 0:
                raise ValueError(f"LAME refuses {channels} channels at {rate} Hz and {bit_rate // 1000} kbit/s")
            left = np.ascontiguousarray(samples[:, 0])
            right = np.ascontiguousarray(samples[:, -1])
            # LAME's documented worst case: 1.25 n + 7200 bytes
            out = ctypes.create_string_buffer(int(1.25 * len(samples)) + 7200)
            size = lib.lame_encode_buffer_ieee_float(handle, left.ctypes.data, right.ctypes.data, len(samples),
                                                     out, len(out))
            if size < 0:
                raise ValueError(f"LAME failed to encode (error {size})")
            flushed = lib.lame_encode_flush(handle, ctypes.addressof(out) + size, len(out) - size)
            if flushed < 0:
                raise ValueError(f"LAME failed to flush (error {flushed})")
            data = bytearray(out.raw[: size + flushed])
            # The first frame LAME wrote is a placeholder for the Info tag, which is only known now.
            tag = ctypes.create_string_buffer(4096)
            tag_size = lib.lame_get_lametag_frame(handle, tag, len(tag))
            if not 0 < tag_size <= len(data):
                return None
            data[:tag_size] = tag.raw[:tag_size]
            return bytes(data)
        finally:
            lib.lame_close(handle)


@lru_cache(maxsize=1)
def encoder() -> LameEncoder | None:
    """The system's libmp3lame, or None when it is not installed (or lacks the functions used here)."""
    path = ctypes.util.find_library("mp3lame")
    if path is None:
        return None
    try:
        return LameEncoder(ctypes.CDLL(path), path)
    except (OSError, AttributeError):
        return None
