"""A stand-in detector (the middleware serves the real one): a real detector over the project's verify(), answering
POSTed content with JSON or, for `Accept: application/jose`, a compact JWS signed with a throwaway ES256 key whose
x5c chain (leaf issued by a root CA) is generated here with `cryptography`. `signed=False` stands for a detector
that ignores the request for a signed result."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiact_transparency import verify
from aiact_transparency.provenance.errors import UnsupportedImageError

DETECT_PATH = "/.well-known/ai-disclosure/detect"


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
          ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA256()))


@cache
def throwaway_chain() -> tuple[ec.EllipticCurvePrivateKey, list[str]]:
    """(leaf key, x5c): standard base64 DER, leaf first (RFC 7515 §4.1.6)."""
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _cert("Test Detector Root", root_key, "Test Detector Root", root_key, ca=True)
    leaf = _cert("Test Detector", leaf_key, "Test Detector Root", root_key, ca=False)
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (leaf, root)]
    return leaf_key, x5c


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jws(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey | None = None,
             x5c: list[str] | None = None) -> str:
    chain_key, chain = throwaway_chain()
    key, x5c = key or chain_key, x5c or chain
    header = _b64url(json.dumps({"alg": "ES256", "typ": "JWT", "x5c": x5c}).encode())
    body = _b64url(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{header}.{body}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def detector_route(*, signed: bool = True) -> Route:
    async def detect(request: Request) -> Response:
        data = await request.body()
        try:
            report = verify(data)
        except UnsupportedImageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=415)
        layers = {"c2pa": report.c2pa, "xmp": report.xmp, "watermark": report.watermark}
        result = {
            "verdict": "ai-generated" if report.marked else "no-marks-found",
            "based_on": [name for name, layer in layers.items() if layer.get("ai_generated") or
                         (name == "watermark" and layer.get("found"))],
            "layers": {name: {"found": bool(layer.get("found"))} for name, layer in layers.items()},
            "content_sha256": hashlib.sha256(data).hexdigest(),
            "detector": str(request.url),
            "checked_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
        if signed and "application/jose" in request.headers.get("accept", ""):
            return Response(sign_jws(result), media_type="application/jose")
        return JSONResponse(result)

    return Route(DETECT_PATH, detect, methods=["POST"])
