"""A detection result as a compact JWS (RFC 7515) signed with the system's signing identity.

Header: `alg` from the signer's C2PA algorithm (ES256/384/512, PS256/384/512, or Ed25519: RFC 9864's
fully-specified name, which deprecates "EdDSA"), `typ` "JOSE" (compact serialisation), `cty` "json", `x5c`
the certificate chain (base64 DER, leaf first, RFC 7515 §4.1.6) and `x5t#S256` the leaf's SHA-256
thumbprint. Any JOSE library verifies it with the leaf's public key. The chain makes the header about 1.5 KB:
libraries with a small default header limit (joserfc: 512 bytes) need it raised.

ManifestSigner returns what COSE wants; for ECDSA some signers (remote, KMS) return DER instead of raw
r||s. JWS needs the fixed-size r||s (RFC 7518 §3.4), so DER is converted here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ..provenance.keys import ManifestSigner

__all__ = ["JOSE_ALGS", "JWS_MEDIA_TYPE", "b64url", "sign_compact", "x5c_chain"]

JWS_MEDIA_TYPE = "application/jose"
JOSE_ALGS = {"es256": "ES256", "es384": "ES384", "es512": "ES512", "ps256": "PS256", "ps384": "PS384",
             "ps512": "PS512", "ed25519": "Ed25519"}
_EC_SIZES = {"es256": 32, "es384": 48, "es512": 66}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def x5c_chain(chain_pem: bytes) -> list[str]:
    certs = x509.load_pem_x509_certificates(chain_pem)
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii") for cert in certs]


def _raw_ecdsa(signature: bytes, size: int) -> bytes:
    if len(signature) == 2 * size:
        return signature
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise ValueError(f"the signer returned a {len(signature)}-byte ECDSA signature, neither raw r||s "
                         f"({2 * size} bytes) nor DER") from None
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign_compact(payload: dict[str, Any], signer: ManifestSigner) -> str:
    alg = signer.alg.lower()
    if alg not in JOSE_ALGS:
        raise ValueError(f"signing algorithm {signer.alg!r} has no JWS equivalent")
    chain = x5c_chain(signer.certificate_chain_pem)
    header = {"alg": JOSE_ALGS[alg], "typ": "JOSE", "cty": "json", "x5c": chain,
              "x5t#S256": b64url(hashlib.sha256(base64.b64decode(chain[0])).digest())}
    signing_input = f"{b64url(_json(header))}.{b64url(_json(payload))}".encode("ascii")
    signature = signer.sign(signing_input)
    if alg in _EC_SIZES:
        signature = _raw_ecdsa(signature, _EC_SIZES[alg])
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"
