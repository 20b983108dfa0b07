"""Signed results: compact JWS checked by an independent JOSE library (joserfc) with the x5c leaf's key."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection.jws import sign_compact
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.keys.certs import PrivateKey, cert_pem, issue_root_ca, issue_signer
from tests.detection.conftest import endpoint_for

pytestmark = pytest.mark.anyio
NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def _verify(token: str, algorithms: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    pem = leaf.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_type = {"ES": ECKey, "PS": RSAKey, "Ed": OKPKey}[header["alg"][:2]]
    # joserfc refuses headers over 512 bytes by default; an x5c chain is about 1.5 KB (the discovery text says so).
    registry = jws.JWSRegistry(algorithms=algorithms)
    registry.max_header_length = 16384
    verified = jws.deserialize_compact(token, key_type.import_key(pem), registry=registry)  # type: ignore[attr-defined]
    return verified.protected, json.loads(verified.payload)


def _signer(key: PrivateKey) -> keys.LocalKeySigner:
    ca = issue_root_ca("test root", not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    leaf = issue_signer(ca, "test signer", "test org", not_before=NOW - DAY, not_after=NOW + 30 * DAY, key=key)
    return keys.LocalKeySigner(key, cert_pem(leaf.cert, ca.cert))


class DerSigner:
    """A remote-style ECDSA signer that returns DER signatures (as KMS APIs do)."""

    alg, tsa_url = "es256", None

    def __init__(self, key: ec.EllipticCurvePrivateKey, chain: bytes) -> None:
        self.key, self.certificate_chain_pem = key, chain

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(("key", "alg"), [
    (ec.generate_private_key(ec.SECP256R1()), "ES256"), (ec.generate_private_key(ec.SECP384R1()), "ES384"),
    (rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256"),
    (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
])
def test_every_signer_algorithm_verifies_with_joserfc(key: PrivateKey, alg: str) -> None:
    signer = _signer(key)
    token = sign_compact({"verdict": "not-detected", "ü": "non-ASCII kept"}, signer)
    header, payload = _verify(token, [alg])
    assert header["alg"] == alg and header["typ"] == "JOSE" and len(header["x5c"]) == 2
    assert payload == {"verdict": "not-detected", "ü": "non-ASCII kept"}


def test_der_ecdsa_signatures_are_converted_to_raw_r_s() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DerSigner(key, _signer(key).certificate_chain_pem)
    token = sign_compact({"a": 1}, signer)
    assert len(base64.urlsafe_b64decode(token.split(".")[2] + "==")) == 64
    assert _verify(token, ["ES256"])[1] == {"a": 1}


def test_a_tampered_result_fails_verification(ours_signer: keys.LocalKeySigner) -> None:
    token = sign_compact({"verdict": "not-detected"}, ours_signer)
    head, _, signature = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"verdict":"generated-by-this-system"}').rstrip(b"=").decode()
    with pytest.raises(Exception, match="signature"):
        _verify(f"{head}.{forged}.{signature}", ["ES256"])


async def test_the_endpoint_signs_on_accept_jose_and_says_the_chain_is_untrusted(
        ours: TransparencyConfig, ours_signer: keys.LocalKeySigner, marked_jpeg: bytes) -> None:
    app = endpoint_for(ours, ours_signer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://acme.example") as client:
        for request in ({"headers": {"accept": "application/jose", "content-type": "image/jpeg"}},
                        {"headers": {"content-type": "image/jpeg"}, "params": {"format": "jws"}}):
            response = await client.post("/.well-known/ai-disclosure/detect", content=marked_jpeg, **request)
            assert response.status_code == 200 and response.headers["content-type"] == "application/jose"
            header, payload = _verify(response.text, ["ES256"])
            assert payload["verdict"] == "generated-by-this-system"
            assert payload["detector"] == "https://acme.example/.well-known/ai-disclosure/detect"
            assert payload["content_sha256"] and payload["checked_at"].endswith("Z")
            assert payload["signed_by"]["development"] is True and "UNTRUSTED" in payload["signed_by"]["trust"]
            leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
            assert payload["signed_by"]["fingerprint_sha256"] == leaf.fingerprint(hashes.SHA256()).hex()
