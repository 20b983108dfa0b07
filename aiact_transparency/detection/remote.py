"""Ask a deployed detector (`aiact-transparency detect FILE --url URL`): POST the bytes, read its answer.

Only http(s) URLs; the body is the file as it is, with the type its bytes say (the detector decides anyway).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..provenance.formats import sniff_media_type
from .jws import JWS_MEDIA_TYPE
from .local import MEDIA_TYPES

__all__ = ["RemoteAnswer", "RemoteError", "detect_remote"]


class RemoteError(Exception):
    """The detector could not be reached or gave no usable answer; the message says which."""


@dataclass(frozen=True)
class RemoteAnswer:
    status: int
    result: dict[str, Any] | None = None  # the JSON result (200) or the problem (4xx/5xx)
    jws: str | None = None  # the compact JWS, when asked for and given


def _media_type(data: bytes) -> str:
    sniffed = sniff_media_type(data)
    return sniffed if sniffed in MEDIA_TYPES else "text/plain; charset=utf-8"


def detect_remote(data: bytes, url: str, *, signed: bool = False, timeout: float = 60.0) -> RemoteAnswer:
    if not url.lower().startswith(("https://", "http://")):
        raise RemoteError(f"{url!r} is not an http(s) URL. Fix: give the detector's address, e.g. "
                          "https://example.com/.well-known/ai-disclosure/detect")
    accept = JWS_MEDIA_TYPE if signed else "application/json"
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": _media_type(data), "Accept": accept, "User-Agent": f"aiact-transparency/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme is checked above
            status, kind, body = response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        status, kind, body = exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteError(f"{url}: cannot reach the detector ({getattr(exc, 'reason', exc)})") from None
    if status == 200 and signed and kind.startswith(JWS_MEDIA_TYPE):
        return RemoteAnswer(status, jws=body.decode("ascii", "replace").strip())
    try:
        parsed = json.loads(body)
    except ValueError:
        raise RemoteError(f"{url}: answered {status} with {kind or 'no type'}, not a detection result") from None
    if not isinstance(parsed, dict):
        raise RemoteError(f"{url}: answered {status} with JSON that is not an object")
    return RemoteAnswer(status, result=parsed)
