"""Read one submission from the ASGI receive stream: bounded in bytes and time, held in memory only.

A Content-Length above max_bytes is refused (413) before a byte is read; a body that grows past it is
refused as soon as it does. The whole body must arrive within read_timeout, with no gap longer than
idle_timeout (slow senders get 408). multipart/form-data is parsed while it streams, by python-multipart's
low-level parser, which never writes to disk; only the `file` and `text` fields are kept. The parser's own
log lines can quote body bytes, so it gets a logger that drops everything (zero retention).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..http_messages import Receive, Scope, parse_media_type, request_header

__all__ = ["ClientGone", "Submission", "SubmissionError", "read_submission"]

_SILENT = logging.getLogger("aiact_transparency.detection.multipart")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False
_SILENT.setLevel(logging.CRITICAL + 1)
_FIELDS = ("file", "text")


class ClientGone(Exception):
    """The client disconnected before the body was complete: nothing to answer."""


class SubmissionError(Exception):
    def __init__(self, status: int, title: str, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.code = status, title, detail, code


@dataclass
class Submission:
    data: bytes
    declared_type: str | None  # the body's (or the file part's) Content-Type, without parameters
    is_text: bool  # text/plain body or the form's text field: read as text, never sniffed as an image
    form: bool  # came as multipart/form-data (a browser form)
    charset: str = ""


@dataclass
class _Part:
    name: str | None = None
    content_type: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _Form:
    """Callbacks for MultipartParser: keeps the data of the `file` and `text` parts, nothing else."""

    def __init__(self) -> None:
        self.parts: dict[str, _Part] = {}
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, object]:
        return {"on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
                "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._part, self._headers = _Part(), {}

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        self._part.name = name.decode("latin-1") if name is not None else None
        kind = self._headers.get(b"content-type")
        self._part.content_type = parse_media_type(kind)[0] if kind else None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part.name in _FIELDS:
            self._part.data += data[start:end]

    def _end(self) -> None:
        if self._part.name in _FIELDS and self._part.name not in self.parts:
            self.parts[self._part.name] = self._part


def _too_large(max_bytes: int) -> SubmissionError:
    return SubmissionError(413, "Content Too Large", f"the submission is larger than this detector accepts "
                           f"({max_bytes} bytes); nothing was kept", code="too_large")


def _declared_length(scope: Scope, max_bytes: int) -> None:
    raw = request_header(scope, b"content-length")
    if raw is None:
        return
    if not raw.strip().isdigit():
        raise SubmissionError(400, "Bad Request", "Content-Length is not a number", code="bad_request")
    if int(raw) > max_bytes:
        raise _too_large(max_bytes)


async def _chunks(receive: Receive, max_bytes: int, idle_timeout: float) -> AsyncIterator[bytes]:
    total = 0
    more = True
    while more:
        with anyio.fail_after(idle_timeout):
            message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = bytes(message.get("body", b""))
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(max_bytes)
        more = bool(message.get("more_body", False))
        yield chunk


def _multipart_parser(raw_type: str, form: _Form) -> MultipartParser:
    _, options = parse_options_header(raw_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise SubmissionError(400, "Bad Request", "multipart/form-data without a boundary parameter",
                              code="bad_request")
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    parser.logger = _SILENT
    return parser


def _from_form(form: _Form) -> Submission:
    upload, text = form.parts.get("file"), form.parts.get("text")
    if upload is not None and upload.data:
        declared = upload.content_type if upload.content_type != "application/octet-stream" else None
        return Submission(bytes(upload.data), declared, False, True)
    if text is not None and text.data.strip():
        return Submission(bytes(text.data), "text/plain", True, True, "utf-8")
    raise SubmissionError(400, "Bad Request", "nothing to check: send a non-empty form field 'file' or 'text'",
                          code="empty")


async def read_submission(scope: Scope, receive: Receive, *, max_bytes: int, read_timeout: float,
                          idle_timeout: float) -> Submission:
    _declared_length(scope, max_bytes)
    raw_type = request_header(scope, b"content-type") or ""
    kind, charset = parse_media_type(raw_type.encode("latin-1")) if raw_type else ("", "")
    form = _Form() if kind == "multipart/form-data" else None
    parser = _multipart_parser(raw_type, form) if form is not None else None
    body = bytearray()
    try:
        with anyio.fail_after(read_timeout):
            async for chunk in _chunks(receive, max_bytes, idle_timeout):
                if parser is not None:
                    parser.write(chunk)
                else:
                    body += chunk
    except TimeoutError:
        raise SubmissionError(408, "Request Timeout", f"the body did not arrive within {read_timeout:g} s (or "
                              f"paused for more than {idle_timeout:g} s); nothing was kept", code="timeout") from None
    except MultipartParseError as exc:
        offset = getattr(exc, "offset", -1)
        raise SubmissionError(400, "Bad Request", f"malformed multipart/form-data body (at byte {offset})",
                              code="bad_request") from None
    if form is not None and parser is not None:
        parser.finalize()
        return _from_form(form)
    if not body:
        raise SubmissionError(400, "Bad Request", "empty body: send the content to check", code="empty")
    return Submission(bytes(body), kind or None, kind == "text/plain", False, charset)
