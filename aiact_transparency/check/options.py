"""What to probe: the command line's options, optionally extended by a small YAML file.

    pages: [/, /about]
    media: [/generate?prompt=sunset]
    streams:
      - path: /v1/chat/completions
        body: {"stream": true, "messages": [{"role": "user", "content": "hi"}]}
    lang: [fr, de, pl]
    detector: /.well-known/ai-disclosure/detect

Errors name the file, the entry and the fix, before anything is probed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DETECTOR = "/.well-known/ai-disclosure/detect"
DEFAULT_DISCOVERY = "/.well-known/ai-disclosure"


class CheckOptionsError(ValueError):
    """A bad option or probe file: the message names the problem and the fix."""


@dataclass(frozen=True)
class StreamProbe:
    path: str
    body: Any = None  # JSON to POST; None: GET


@dataclass(frozen=True)
class CheckOptions:
    base_url: str
    pages: tuple[str, ...] = ("/",)
    media: tuple[str, ...] = ()
    streams: tuple[StreamProbe, ...] = ()
    languages: tuple[str, ...] = ()
    browser: bool = False
    detector: str | None = None  # None: the discovery document's link, else DEFAULT_DETECTOR
    timeout_s: float = 10.0  # per request
    total_timeout_s: float = 300.0  # the whole check: probes not started by then are reported as skipped
    max_page_bytes: int = 4 * 1024 * 1024
    max_media_bytes: int = 16 * 1024 * 1024
    max_stream_bytes: int = 256 * 1024
    quiet: bool = False  # no progress lines (--json)

    def url(self, path: str) -> str:
        if urlsplit(path).scheme in ("http", "https"):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CheckOptionsError(f"{url!r} is not an http(s) URL. Fix: give the deployment's base URL, "
                                "e.g. https://example.org or http://127.0.0.1:8000")
    return url


def _paths(source: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CheckOptionsError(f"{source}: {key} must be a list of paths (strings), got {value!r}. "
                                f"Fix: write e.g. {key}: [/, /about]")
    return tuple(value)


def _streams(source: str, value: Any) -> tuple[StreamProbe, ...]:
    if not isinstance(value, list):
        raise CheckOptionsError(f"{source}: streams must be a list of {{path, body}} entries, got {value!r}")
    out = []
    for index, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise CheckOptionsError(f"{source}: streams[{index}] needs a path. Fix: - path: /v1/chat/completions")
        out.append(StreamProbe(entry["path"], entry.get("body")))
    return tuple(out)


def load_probe_file(path: Path) -> dict[str, Any]:
    """The YAML probe list as keyword arguments for CheckOptions."""
    import yaml

    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckOptionsError(f"{source}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise CheckOptionsError(f"{source}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CheckOptionsError(f"{source}: expected a mapping with pages, media, streams, lang")
    known = {"pages", "media", "streams", "lang", "detector"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CheckOptionsError(f"{source}: unknown key(s) {', '.join(unknown)}. Fix: use {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    for key in ("pages", "media"):
        if key in data:
            out[key] = _paths(source, key, data[key])
    if "streams" in data:
        out["streams"] = _streams(source, data["streams"])
    if "lang" in data:
        lang = data["lang"]
        out["languages"] = parse_languages(",".join(lang) if isinstance(lang, list) else str(lang))
    if "detector" in data:
        out["detector"] = str(data["detector"])
    return out


def parse_languages(text: str) -> tuple[str, ...]:
    languages = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for lang in languages:
        if not lang.replace("-", "").isalpha() or len(lang) > 12:
            raise CheckOptionsError(f"--lang: {lang!r} is not a language tag. Fix: e.g. --lang fr,de,pl")
    return languages


def parse_stream_body(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckOptionsError(f"--stream-body is not JSON ({exc}). Fix: quote it, e.g. "
                                "--stream-body '{\"stream\": true}'") from None
