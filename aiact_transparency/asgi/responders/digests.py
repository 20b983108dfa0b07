"""Integrity digests of the app's bytes: the one list of their field names, and their removal where we change
the bytes, in the header section and in HTTP trailers.

A digest the app computed no longer matches once a banner, notice, member, text wrapper or mark is in the body,
or once the body is compressed again: a client or cache that checks it would reject a correct response (or,
worse, a proxy would report it tampered with). Each is of the bytes we change:

- Content-Digest (RFC 9530 §2): the message content, as sent;
- Repr-Digest (RFC 9530 §3): the selected representation's data. We change the representation itself (its
  content is what we send, whole, in a 200), and its data is the encoded one (a gzip and an identity response
  differ): so it is stale too, even where only the compression changed and the decoded text did not;
- Content-MD5 (RFC 1864, obsolete) and Digest (RFC 3230, obsoleted by RFC 9530): the content, the instance.

RFC 9530 §2 and §3 allow the digest in a trailer section, so a responder that changes the body and passes the
app's trailers on removes the same fields there (`without_digests`). A response we pass through unchanged keeps
its digests, in both places: they still match. (A `Trailer` header field naming a digest may stay: it lists
fields that may be present, RFC 9110 §6.6.2.) None is computed anew: a streamed body's headers leave before
its bytes are known, and a recipient may ignore any digest (RFC 9530 §2), while a wrong one fails the response.
"""

from __future__ import annotations

from ...http_messages import Headers, Message

__all__ = ["DIGESTS_AND_LENGTH", "DIGEST_FIELDS", "DIGEST_NAME_SIZES", "TRAILERS", "remove_digests", "without_digests"]

DIGEST_FIELDS = frozenset({b"content-digest", b"repr-digest", b"content-md5", b"digest"})
# Their lengths: a name of another length is not one of them, without the lower() that makes a new object.
DIGEST_NAME_SIZES = frozenset(len(name) for name in DIGEST_FIELDS)
# With Content-Length (14 bytes, as Content-Digest): a bodiless answer's fields of the unchanged body, one pass.
DIGESTS_AND_LENGTH = DIGEST_FIELDS | {b"content-length"}
TRAILERS = "http.response.trailers"  # the ASGI HTTP Trailers extension's message


def remove_digests(headers: Headers, names: frozenset[bytes] = DIGEST_FIELDS) -> None:
    """Drops every digest field (or every field of `names`, lower case, each as long as a digest field's name:
    DIGESTS_AND_LENGTH) from `headers`, the responder's own list; rebuilt only when it holds one."""
    if any(len(name) in DIGEST_NAME_SIZES and name.lower() in names for name, _ in headers):
        headers[:] = [field for field in headers
                      if len(field[0]) not in DIGEST_NAME_SIZES or field[0].lower() not in names]


def without_digests(message: Message) -> Message:
    """A trailers message without the digest fields (a copy: the app's list is never changed in place); any
    other message as it is. For the non-body messages a responder that changed the body passes on."""
    if message["type"] != TRAILERS:
        return message
    headers: Headers = list(message.get("headers") or ())
    remove_digests(headers)
    return {**message, "headers": headers}
