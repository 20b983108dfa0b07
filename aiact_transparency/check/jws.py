"""Verifying a compact JWS (RFC 7515) against the x5c certificate chain its header carries.

This proves the result was signed by the key of the chain's first certificate and that each certificate was
issued by the next; it does not make the chain trusted (no trust list is consulted), and the report says so.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}


class JwsError(ValueError):
    """Why a result is not a verifiable signed result."""


@dataclass
class VerifiedJws:
    header: dict[str, Any]
    payload: dict[str, Any]
    chain: list[x509.Certificate]

    @property
    def subject(self) -> str:
        return self.chain[0].subject.rfc4514_string()


def _b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JwsError(f"not base64url: {exc}") from None


def _verify_signature(alg: str, key: Any, signature: bytes, signed: bytes) -> None:
    if alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
        half = len(signature) // 2
        der = encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
        key.verify(der, signed, ec.ECDSA(_HASHES[alg[2:]]()))
    elif alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), _HASHES[alg[2:]]())
    elif alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
        digest = _HASHES[alg[2:]]()
        key.verify(signature, signed, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    elif alg in ("EdDSA", "Ed25519") and isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, signed)
    else:
        raise JwsError(f"alg {alg!r} does not fit the certificate's {type(key).__name__}")


def verify_compact_jws(token: str) -> VerifiedJws:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwsError(f"not a compact JWS: {len(parts)} dot-separated parts instead of 3")
    try:
        header = json.loads(_b64url(parts[0]))
        payload = json.loads(_b64url(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsError(f"header or payload is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JwsError("header and payload must be JSON objects")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or not parts[2]:
        raise JwsError(f"unsigned: alg {alg!r}")
    if alg not in ("EdDSA", "Ed25519") and alg[2:] not in _HASHES:
        raise JwsError(f"unsupported alg {alg!r}")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise JwsError("the header has no x5c certificate chain to verify against")
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in x5c]
    except ValueError as exc:
        raise JwsError(f"x5c holds a certificate that cannot be read: {exc}") from None
    for cert, issuer in itertools.pairwise(chain):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise JwsError(f"x5c chain broken: {cert.subject.rfc4514_string()} is not issued by "
                           f"{issuer.subject.rfc4514_string()} ({exc or type(exc).__name__})") from None
    try:
        _verify_signature(alg, chain[0].public_key(), _b64url(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        raise JwsError(f"the signature does not verify with the key of {chain[0].subject.rfc4514_string()}") from None
    return VerifiedJws(header, payload, chain)
