"""Small helpers on raw ASGI HTTP messages, shared by every HTTP transport (the middleware and its responders,
the detection service, the Gradio notice): the lowest layer, importing nothing of the package. Header names
are lowercase per ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


def header_list(message: Message) -> Headers:
    """A copy of the start message's headers, put into the message, for this response alone to change.

    Call it once per response, where the middleware first touches the start message; later changes go to
    ``message["headers"]``. Never change the app's own list in place: a reused response object (a module-level
    ``PlainTextResponse``) sends the same list every time, and would keep every header we added before.
    """
    raw = message.get("headers")
    # A shallow copy is enough (the tuples inside are immutable); apps may also pass tuples or other iterables.
    headers: Headers = raw.copy() if isinstance(raw, list) else [(bytes(k), bytes(v)) for k, v in raw or ()]
    message["headers"] = headers
    return headers


def request_header(scope: Scope, name: bytes) -> str | None:
    """A request header from the scope (names are lowercase there), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            # ASGI servers send bytes: decode them directly (a copy only for other buffers).
            return (value if type(value) is bytes else bytes(value)).decode("latin-1")
    return None


# Lookups compare lengths before lowercasing: most names differ in length, and lower() makes a new object.


def get_header(headers: Headers, name: bytes) -> bytes | None:
    size = len(name)
    for key, value in headers:
        if len(key) == size and key.lower() == name:
            return value
    return None


def get_all(headers: Headers, name: bytes) -> list[bytes]:
    # A plain loop, not a list comprehension (a frame of its own before Python 3.12): usually nothing matches.
    size = len(name)
    found: list[bytes] = []
    for key, value in headers:
        if len(key) == size and key.lower() == name:
            found.append(value)
    return found


def remove_header(headers: Headers, name: bytes) -> None:
    size = len(name)
    headers[:] = [(key, value) for key, value in headers if len(key) != size or key.lower() != name]


def set_header(headers: Headers, name: bytes, value: bytes) -> None:
    remove_header(headers, name)
    headers.append((name, value))


@lru_cache(maxsize=256)
def parse_media_type(raw: bytes) -> tuple[str, str]:
    """(type/subtype, charset) of a Content-Type value, lowercased. Cached: a service sends few distinct values,
    and the 256 entries of at most a header's length each bound the memory."""
    main, _, params = raw.decode("latin-1").partition(";")
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


def accept_weights(accept: str | None) -> dict[str, float]:
    """The q-value of each media range in an Accept header (RFC 9110 §12.5.1), lowercased; the first
    occurrence of a range wins. Bounded (2 KB, 32 ranges): the header is the client's to make huge."""
    weights: dict[str, float] = {}
    for part in (accept or "")[:2048].split(",")[:32]:
        kind, *params = part.strip().split(";")
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights.setdefault(kind.strip().lower(), q)
    return weights
