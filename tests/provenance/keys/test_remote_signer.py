"""RemoteSigner against the real example signing service, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anyio
import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiact_transparency.provenance import keys
from aiact_transparency.provenance.c2pa import manifest as cm
from aiact_transparency.provenance.keys.remote import ENV_SIGNER_TOKEN, RemoteSigner, RemoteSignerError

from ...servers import free_port, serve

TOKEN = "s3cret-token-for-tests"


def _load_example() -> ModuleType:
    # examples/ is not a package; load the service the way `python examples/signing_service.py` would.
    path = Path(__file__).resolve().parents[3] / "examples" / "signing_service.py"
    spec = importlib.util.spec_from_file_location("signing_service_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


service = _load_example()


@pytest.fixture(scope="module")
def local_signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("service-keys"))


@pytest.fixture(scope="module")
def service_url(local_signer: keys.LocalKeySigner) -> Iterator[str]:
    with serve(service.create_app(local_signer, token=TOKEN)) as url:
        yield url


def image_bytes(fmt: str) -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_signs_valid_manifest_through_the_service(service_url: str, local_signer: keys.LocalKeySigner,
                                                  fmt: str, media_type: str) -> None:
    signer = RemoteSigner(service_url, token=TOKEN)
    assert isinstance(signer, keys.ManifestSigner)
    signed = cm.sign_asset(image_bytes(fmt), media_type, signer=signer, software_agent="remote test")
    report = cm.read_manifest(signed, media_type)
    assert report.found and report.valid and report.validation_state == "Valid", report
    assert report.digital_source_type == cm.TRAINED_ALGORITHMIC_MEDIA
    leaf = x509.load_pem_x509_certificates(local_signer.certificate_chain_pem)[0]
    # c2pa reports as "issuer" the organization in the signing certificate's subject (who issued the claim).
    issuer_org = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert report.signer_common_name == signer.identity.common_name == local_signer.identity.common_name
    assert report.signer_issuer == issuer_org
    assert cm.is_signed_by(report, signer.identity)
    assert signer.identity.fingerprint_sha256 == local_signer.identity.fingerprint_sha256


def test_client_holds_no_key_and_repr_has_no_secrets(service_url: str) -> None:
    signer = RemoteSigner(service_url, token=TOKEN)
    assert not hasattr(signer, "__dict__")  # __slots__ only: nothing can hide a key on the instance
    assert not any("key" in name.lower() for name in RemoteSigner.__slots__)
    text = repr(signer)
    assert "BEGIN" not in text and TOKEN not in text
    assert signer.certificate_chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in signer.certificate_chain_pem


def test_token_from_environment(service_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SIGNER_TOKEN, TOKEN)
    assert RemoteSigner(service_url + "/").alg == "es256"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_401_without_the_token(service_url: str, token: str | None) -> None:
    with pytest.raises(RemoteSignerError) as info:
        RemoteSigner(service_url, token=token)
    message = str(info.value)
    assert info.value.status == 401 and service_url in message and ENV_SIGNER_TOKEN in message
    assert "wrong-token" not in message


def test_service_down_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteSignerError, match="could not be reached") as info:
        RemoteSigner(url, timeout=1)
    assert url in str(info.value) and info.value.status is None


def test_service_gone_after_start_fails_signing(local_signer: keys.LocalKeySigner) -> None:
    with serve(service.create_app(local_signer)) as url:
        signer = RemoteSigner(url, timeout=1)
    with pytest.raises(cm.C2paSigningError, match="could not be reached") as info:
        cm.sign_asset(image_bytes("PNG"), "image/png", signer=signer, software_agent="remote test")
    assert isinstance(info.value.__cause__, RemoteSignerError) and url in str(info.value)


class _WrongSignature:
    """A service-side signer that returns a well-formed but wrong signature (a KMS with the wrong key)."""

    def __init__(self, inner: keys.LocalKeySigner) -> None:
        self.alg, self.certificate_chain_pem, self.tsa_url = inner.alg, inner.certificate_chain_pem, None
        self._inner = inner

    def sign(self, data: bytes) -> bytes:
        return self._inner.sign(data + b"tampered")


def test_bad_signature_from_the_service_fails_signing(local_signer: keys.LocalKeySigner) -> None:
    with serve(service.create_app(_WrongSignature(local_signer))) as url:
        signer = RemoteSigner(url)
        with pytest.raises(cm.C2paSigningError, match="does not verify against its certificate"):
            cm.sign_asset(image_bytes("PNG"), "image/png", signer=signer, software_agent="remote test")


def _status(base_url: str, method: str, path: str, body: bytes = b"", *, token: str | None = TOKEN,
            headers: dict[str, str] | None = None, send_body: bool = True) -> int:
    # http.client rather than urllib: a test can announce a large body without sending it. A server that
    # rejects on the headers and closes would otherwise reset the connection while the client still writes.
    host_port = base_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host_port, timeout=5)
    try:
        conn.putrequest(method, path)
        all_headers = dict(headers or {})
        if "Transfer-Encoding" not in all_headers:
            all_headers.setdefault("Content-Length", str(len(body)))
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body if send_body and body else None)
        return conn.getresponse().status
    finally:
        conn.close()


def test_service_limits_methods_size_and_auth(service_url: str) -> None:
    too_big = {"Content-Length": str(service.MAX_BODY + 1)}
    assert _status(service_url, "POST", "/sign", headers=too_big, send_body=False) == 413
    assert _status(service_url, "POST", "/sign", headers=too_big, send_body=False, token=None) == 401
    assert _status(service_url, "POST", "/sign", token="wrong") == 401
    assert _status(service_url, "POST", "/sign") == 400
    assert _status(service_url, "POST", "/sign", b"claim") == 200
    assert _status(service_url, "POST", "/certificate", b"x") == 405
    assert _status(service_url, "GET", "/sign") == 405
    assert _status(service_url, "GET", "/certificate", token=None) == 401


def test_chunked_body_over_limit_is_413(local_signer: keys.LocalKeySigner) -> None:
    # No Content-Length: the service must count while reading, and stop at the limit.
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    with serve(service.create_app(local_signer, max_body=4096)) as url:
        status = _status(url, "POST", "/sign", chunk * 5 + b"0\r\n\r\n", token=None,
                         headers={"Transfer-Encoding": "chunked"})
    assert status == 413


# Answers a broken or hostile service might give, each under its own base path of one server.
FAKE_ANSWERS: dict[str, bytes] = {
    "html": b"<html>not json</html>",
    "no-chain": b'{"alg": "es256"}',
    "hs256": b'{"alg": "hs256", "certificate_chain_pem": "x"}',
    "not-pem": b'{"alg": "es256", "certificate_chain_pem": "not a pem"}',
}


@pytest.fixture(scope="module")
def fake_url(local_signer: keys.LocalKeySigner) -> Iterator[str]:
    answers = dict(FAKE_ANSWERS, es384=json.dumps({
        "alg": "es384", "certificate_chain_pem": local_signer.certificate_chain_pem.decode()}).encode())

    async def certificate(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "slow":
            await anyio.sleep(0.3)
        return Response(answers.get(name, b"{}"), media_type="application/json")

    with serve(Starlette(routes=[Route("/{name}/certificate", certificate)])) as url:
        yield url


@pytest.mark.parametrize(("name", "match"), [
    ("html", "did not return JSON"),
    ("no-chain", "did not return JSON"),
    ("hs256", "does not support"),
    ("not-pem", "no PEM certificate found"),
    ("es384", "announced es384, but algorithm 'es384' does not fit"),
])
def test_malformed_certificate_answers_are_typed_errors(fake_url: str, name: str, match: str) -> None:
    with pytest.raises(RemoteSignerError, match=match) as info:
        RemoteSigner(f"{fake_url}/{name}")
    assert f"{fake_url}/{name}/certificate" in str(info.value)


def test_timeout_is_a_typed_error(fake_url: str) -> None:
    with pytest.raises(RemoteSignerError, match="timed out"):
        RemoteSigner(f"{fake_url}/slow", timeout=0.05)


def test_not_found_names_the_fix(service_url: str) -> None:
    with pytest.raises(RemoteSignerError, match=r"HTTP 404.*check the base URL") as info:
        RemoteSigner(service_url + "/v1", token=TOKEN)
    assert info.value.status == 404


@pytest.mark.parametrize("url", ["ftp://host/", "127.0.0.1:8100", "http://user:pw@127.0.0.1:8100"])
def test_bad_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        RemoteSigner(url)


def test_token_with_newline_is_rejected_without_echo() -> None:
    with pytest.raises(ValueError) as info:
        RemoteSigner("http://127.0.0.1:1", token="abc\r\nX-Evil: 1")
    assert "X-Evil" not in str(info.value)
