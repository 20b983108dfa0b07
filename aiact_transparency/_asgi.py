"""Small helpers on raw ASGI messages, shared by the responders. Header names are lowercase per ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


def header_list(message: Message) -> Headers:
    """The start message's headers as a list we may change (apps may pass tuples or other iterables)."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = [(bytes(k), bytes(v)) for k, v in headers or ()]
        message["headers"] = headers
    return headers


def get_header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def get_all(headers: Headers, name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


def remove_header(headers: Headers, name: bytes) -> None:
    headers[:] = [(key, value) for key, value in headers if key.lower() != name]


def set_header(headers: Headers, name: bytes, value: bytes) -> None:
    remove_header(headers, name)
    headers.append((name, value))


def media_type(headers: Headers) -> tuple[str, str]:
    """(type/subtype, charset) from Content-Type, lowercased; ('', '') when absent or unreadable."""
    raw = get_header(headers, b"content-type")
    if raw is None:
        return "", ""
    text = raw.decode("latin-1")
    main, _, params = text.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return main.strip().lower(), charset


def weaken_etag(headers: Headers) -> None:
    """A changed body cannot keep a strong validator (RFC 9110 §8.8.3); a weak one still allows 304s."""
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"etag" and not value.startswith(b"W/"):
            headers[index] = (key, b"W/" + value)


def body_is_rewritable(status: int, headers: Headers) -> bool:
    """Responses whose body we may change at all: not informational/empty/partial, not already encoded."""
    if status < 200 or status in (204, 205, 206, 304):
        return False
    encoding = get_header(headers, b"content-encoding")
    return encoding is None or encoding.strip().lower() in (b"", b"identity")
