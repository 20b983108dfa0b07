"""Which body measures apply to a response, and bodiless answers (HEAD, 304) that agree with the 200.

RFC 9110 §15.4.5: a 304 carries the validator and Vary the 200 would; §8.6 and §9.3.2: a HEAD, the header
fields of the GET, with no Content-Length that differs from GET's.
"""

from __future__ import annotations

from ..disclosure import MEASURE_BANNER, MEASURE_EVENT_STREAM, MEASURE_JSON_BODY, MEASURE_TEXT_C2PA, RoutePolicy
from ..http_messages import Headers, Scope, get_header, parse_media_type, request_header, weaken_etag
from ..provenance.media import markable_types
from .responders.digests import DIGESTS_AND_LENGTH, remove_digests
from .responders.media import strip_stale_headers

__all__ = ["gets_banner", "gets_json_member", "like_get", "measures_for"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_MARKABLE = markable_types()
# Charsets in which ASCII bytes do not mean ASCII characters: the banner bytes would corrupt the page.
_NON_ASCII_CHARSETS = ("utf-16", "utf-32", "ucs-2", "ucs-4", "utf-7", "cp037", "ebcdic")
# JSON is UTF-8 (RFC 8259 §8.1); the member is spliced in as UTF-8 bytes, which would corrupt UTF-16/32 bodies.
_JSON_CHARSETS = frozenset({"", "utf-8", "utf8"})
# What a `text: c2pa` route appends the C2PA text wrapper to (asgi/responders/chat.py).
_TEXT_TYPES = frozenset({"text/event-stream", "application/json", "text/plain"})


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


def _banner_type(kind: str, charset: str) -> bool:
    return kind in _HTML_TYPES and not charset.startswith(_NON_ASCII_CHARSETS)


def _json_member_type(kind: str, charset: str) -> bool:
    return _is_json(kind) and charset in _JSON_CHARSETS


def gets_banner(kind: str, charset: str, policy: RoutePolicy) -> bool:
    return policy.banner and _banner_type(kind, charset)


def gets_json_member(kind: str, charset: str, policy: RoutePolicy) -> bool:
    return policy.json_body and _json_member_type(kind, charset)


def measures_for(kind: str, charset: str) -> int:
    """The RoutePolicy.measures bits (other than media marking) that may change a body of this type: a
    response whose type shares no bit with its route's measures gets no rewriter. `text: c2pa` routes always
    look (their responder picks the types it takes)."""
    return (
        MEASURE_TEXT_C2PA
        | (MEASURE_BANNER if _banner_type(kind, charset) else 0)
        | (MEASURE_EVENT_STREAM if kind == "text/event-stream" else 0)
        | (MEASURE_JSON_BODY if _json_member_type(kind, charset) else 0)
    )


def like_get(headers: Headers, content_type: bytes | None, policy: RoutePolicy, scope: Scope) -> None:
    """A bodiless answer (HEAD, or a 304) on a route where GET's 200 would be marked, or get a banner, notice or
    JSON member: it must carry the 200's validator and Vary (RFC 9110 §15.4.5), and a HEAD no Content-Length that
    differs from GET's (§8.6). The app's own length, strong ETag and digests describe the unchanged body."""
    if content_type is None:  # a 304 rarely names its type (Starlette's never does)
        _untyped_304_like_get(headers, policy, scope)
        return
    kind, charset = parse_media_type(content_type)
    if policy.images and kind in _MARKABLE:  # the marked 200 has no ETag: the app's names the original
        strip_stale_headers(headers)
        return
    html = gets_banner(kind, charset, policy)
    text = policy.text_c2pa and kind in _TEXT_TYPES and (kind == "text/event-stream" or charset in _JSON_CHARSETS)
    if html or text or (kind == "text/event-stream" and policy.event_stream) or gets_json_member(kind, charset, policy):
        _changed_body(headers, vary=html)


def _untyped_304_like_get(headers: Headers, policy: RoutePolicy, scope: Scope) -> None:
    """A 304 without Content-Type: the client's If-None-Match tells what its stored 200 carried."""
    etag = get_header(headers, b"etag")
    if_none_match = request_header(scope, b"if-none-match")
    if etag is not None and if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.encode("latin-1").split(b",")}
        # It holds W/ + the app's strong tag: we changed that 200 (banner, notice, member), so weaken again.
        # It holds the tag as the app sent it: the 200 went out unchanged, and so does its 304.
        if not etag.startswith(b"W/") and b"W/" + etag in tags and etag not in tags:
            _changed_body(headers, vary=policy.banner)
        return
    # No tag to go by (If-Modified-Since alone): judge by the route, as a typed answer there would be judged.
    if policy.images:
        strip_stale_headers(headers)
    elif policy.banner or policy.json_body or policy.event_stream or policy.text_c2pa:
        _changed_body(headers, vary=policy.banner)


def _changed_body(headers: Headers, *, vary: bool) -> None:
    # The app's length and digests are of the unchanged body: a HEAD's describe the GET's (RFC 9530 §3, RFC
    # 9110 §9.3.2), and a cache updates its stored 200 with a 304's fields (RFC 9111 §4.3.4), putting them back
    # on it. One pass drops both (Content-Length is 14 bytes long, as Content-Digest is: one size test).
    remove_digests(headers, DIGESTS_AND_LENGTH)
    weaken_etag(headers)
    if vary:  # the banner's language follows Accept-Language
        headers.append((b"vary", b"Accept-Language"))
