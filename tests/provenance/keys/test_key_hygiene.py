"""Key hygiene: a run of the demo with a known throwaway key never shows the key's bytes anywhere.

The demo's HTTP app (examples/chat_app.py + image_api.py, as examples/demo.py combines them, without its Gradio
mount) is served by a real uvicorn on 127.0.0.1, configured once with PEM files and once with
AIACT_SIGNING_*_PEM; every kind of response is requested, and every response header and body, every log
record (all loggers at DEBUG, uvicorn's included) and everything written to stdout/stderr is searched for the
private key in every encoding it plausibly could leak in.
"""

from __future__ import annotations

import base64
import importlib.util
import logging
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.responses import Response

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, load_config, verify
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.image.marker import ImageMarker
from aiact_transparency.provenance.keys.certs import cert_pem, key_pem
from aiact_transparency.provenance.keys.dev_chain import CA_KEY_FILE, KEY_FILE

from ...chains import make_chain
from ...samples import image_bytes
from ...servers import serve

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


@dataclass(frozen=True)
class Throwaway:
    cert_file: Path
    key_file: Path
    cert_pem: bytes
    key_pem: bytes
    serial: int
    needles: tuple[bytes, ...]  # every encoding of the private key that must never appear


def _encodings(data: bytes) -> list[bytes]:
    return [
        data,
        base64.b64encode(data),
        base64.urlsafe_b64encode(data),
        base64.b64encode(data).rstrip(b"="),
        data.hex().encode(),
        data.hex().upper().encode(),
        repr(data)[2:-1].encode(),  # as a log line's %r of the bytes shows them
    ]


def key_needles(key: ec.EllipticCurvePrivateKey) -> tuple[bytes, ...]:
    pkcs8_pem = key_pem(key)
    pkcs8_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    sec1_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
    scalar = key.private_numbers().private_value
    raw = scalar.to_bytes((key.curve.key_size + 7) // 8, "big")
    body_lines = [line for line in pkcs8_pem.splitlines() if line and not line.startswith(b"-----")]
    needles = [
        pkcs8_pem,
        b"".join(body_lines),  # the PEM body without its line breaks
        *body_lines,  # each 64-character line on its own (a log that wraps or truncates)
        *_encodings(pkcs8_der),
        *_encodings(sec1_der),
        *_encodings(raw),
        str(scalar).encode(),
        format(scalar, "x").encode(),
        b"PRIVATE KEY",
    ]
    # A random 32-byte scalar is unique enough; short fragments (a final PEM line) could match by chance.
    return tuple(n for n in needles if len(n) >= 16)


@pytest.fixture
def throwaway(tmp_path: Path) -> Throwaway:
    ca, leaf = make_chain()
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)
    directory = tmp_path / "signing"
    directory.mkdir(mode=0o700)
    cert_file, key_file = directory / "chain.pem", directory / "key.pem"
    chain = cert_pem(leaf.cert, ca.cert)
    cert_file.write_bytes(chain)
    key_file.write_bytes(key_pem(leaf.key))
    key_file.chmod(0o600)
    return Throwaway(cert_file, key_file, chain, key_pem(leaf.key), leaf.cert.serial_number, key_needles(leaf.key))


def _demo_app() -> Any:
    """The demo's HTTP side (examples/demo.py without its Gradio mount): the chat page, SSE and JSON chat, the
    image API, one TransparencyMiddleware configured from $AIACT_CONFIG and the environment."""
    from fastapi import FastAPI

    sys.path.insert(0, str(EXAMPLES))
    try:
        modules = {}
        for name in ("chat_app", "image_api"):
            sys.modules.pop(name, None)  # re-import on this test's environment
            spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # pydantic resolves the models' annotations through it
            spec.loader.exec_module(module)
            modules[name] = module
    finally:
        sys.path.remove(str(EXAMPLES))
    app = FastAPI(title="key hygiene demo")
    app.include_router(modules["chat_app"].router)
    app.include_router(modules["image_api"].router)
    app.add_middleware(TransparencyMiddleware, config=load_config())
    return app


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records, at every level
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "asgi", "aiact_transparency")
    levels = {name: logging.getLogger(name).level for name in names}
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def haystacks(responses: list[httpx.Response], caplog: pytest.LogCaptureFixture, out: str, err: str) -> list[bytes]:
    found: list[bytes] = []
    for response in responses:
        found.append(b"\r\n".join(k + b": " + v for k, v in response.headers.raw))
        found.append(response.content)
    for record in caplog.records:
        # The formatted line, the raw arguments and any traceback: a key passed as an unused argument counts too.
        text = f"{record.getMessage()}\n{record.args!r}\n{record.__dict__!r}\n{record.exc_text or ''}"
        found.append(text.encode("utf-8", "backslashreplace"))
    found.append(caplog.text.encode("utf-8", "backslashreplace"))
    found.append((out + err).encode("utf-8", "backslashreplace"))
    return found


def _exercise(base: str) -> list[httpx.Response]:
    responses: list[httpx.Response] = []
    chat = {"messages": [{"role": "user", "content": "hello"}]}
    with httpx.Client(base_url=base, timeout=60) as client:
        responses.append(client.get("/", headers={"accept-language": "de"}))
        responses.append(client.get("/health"))
        responses.append(client.post("/v1/chat/completions", json={**chat, "stream": True}))
        responses.append(client.post("/v1/chat/completions", json={**chat, "stream": False}))
        for fmt in ("png", "jpeg", "webp"):
            responses.append(client.get("/generate", params={"format": fmt, "size": 128, "prompt": fmt}))
        responses.append(client.head("/generate"))
        responses.append(client.get("/broken.png"))
        responses.append(client.get("/.well-known/ai-disclosure"))
        responses.append(client.get("/.well-known/ai-disclosure", headers={"accept": "text/html"}))
        responses.append(client.get("/.well-known/ai-disclosure?format=json"))
        responses.append(client.get("/no-such-route"))
    return responses


@pytest.mark.parametrize("source", ["files", "env"])
def test_demo_run_never_shows_the_key(
    source: str,
    throwaway: Throwaway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    all_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    files = f"  signing: {{cert: '{throwaway.cert_file}', key: '{throwaway.key_file}'}}\n"
    signing = files if source == "files" else ""
    config_file = tmp_path / "aiact.yaml"
    config_file.write_text(
        "system: {name: Key Hygiene Demo, provider: Acme GmbH}\n"
        "disclosure: {routes: [{path: /health, json: true}]}\n"
        "images:\n  visible_label: true\n  on_error: fail-closed\n" + signing,
        encoding="utf-8",
    )
    monkeypatch.setenv("AIACT_CONFIG", str(config_file))
    if source == "env":
        monkeypatch.setenv(keys.ENV_CERT_PEM, throwaway.cert_pem.decode())
        monkeypatch.setenv(keys.ENV_KEY_PEM, throwaway.key_pem.decode())
    app = _demo_app()
    truncated = image_bytes("png")[:2000]

    @app.get("/broken.png")
    async def broken() -> Response:
        return Response(truncated, media_type="image/png")  # fail-closed: a 500 problem, logged

    with serve(app, log_config=None) as base:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asgi"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        responses = _exercise(base)
    out, err = capfd.readouterr()

    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 200, 200, 200, 200, 405, 500, 200, 200, 200, 404], statuses
    config = load_config(config_file)
    for response in responses[4:7]:
        report = verify(response.content, config=config)
        assert report.c2pa["valid"], report.c2pa
        # Signed with the throwaway key, not the development chain.
        assert str(throwaway.serial) in str(report.c2pa), report.c2pa
    assert any(r.name == "uvicorn.access" for r in all_logs.records)  # uvicorn's logs really were captured
    assert any("fail-closed" in r.getMessage() for r in all_logs.records)
    searched = haystacks(responses, all_logs, out, err)
    for needle in throwaway.needles:
        for index, hay in enumerate(searched):
            assert needle not in hay, f"key material ({needle[:12]!r}...) found in haystack {index}"


def test_signer_marker_and_middleware_reprs_hold_no_key(throwaway: Throwaway, monkeypatch: pytest.MonkeyPatch) -> None:
    from_files = keys.load_signer_from_files(throwaway.cert_file, throwaway.key_file)
    monkeypatch.setenv(keys.ENV_CERT_PEM, throwaway.cert_pem.decode())
    monkeypatch.setenv(keys.ENV_KEY_PEM, throwaway.key_pem.decode())
    from_env = keys.load_signer_from_env()
    assert from_env is not None
    config = TransparencyConfig(images={"signing": {"cert": throwaway.cert_file, "key": throwaway.key_file}})
    marker = ImageMarker(config)
    middleware = TransparencyMiddleware(_no_app, config=config)
    assert middleware.images is not None
    objects: list[Any] = [from_files, from_env, from_files.identity, marker, marker.signer, middleware,
                          middleware.images, config, from_files.identity.describe()]
    text = "\n".join(f"{o!r}\n{o!s}\n{o!a}" for o in objects).encode()
    for needle in throwaway.needles:
        assert needle not in text
    assert not hasattr(from_files, "__dict__")  # __slots__: no attribute dump reaches the key by accident
    # Control: the needles do catch a leak, e.g. a debug line with the scalar in hex or the DER in base64.
    leaked_key = serialization.load_pem_private_key(throwaway.key_pem, password=None)
    assert isinstance(leaked_key, ec.EllipticCurvePrivateKey)
    der = leaked_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    line = throwaway.key_pem.splitlines()[2]
    leaks = (f"k={leaked_key.private_numbers().private_value:064x}", f"der={base64.b64encode(der).decode()}",
             f"pem line: {line.decode()}", f"der={der!r}")
    for leak in leaks:
        assert any(needle in leak.encode() for needle in throwaway.needles), leak


def test_generated_dev_key_files_are_private_even_under_a_permissive_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keys_dir = tmp_path / "fresh" / "keys"
    monkeypatch.setenv(keys.ENV_KEYS_DIR, str(keys_dir))
    old = os.umask(0)
    try:
        with caplog.at_level(logging.DEBUG):
            middleware = TransparencyMiddleware(_no_app, config=TransparencyConfig())
    finally:
        os.umask(old)
    assert middleware.images is not None
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for name in (KEY_FILE, CA_KEY_FILE):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600, name
    assert not list(keys_dir.glob(".*.tmp"))  # no half-written copies left behind
    for name in (KEY_FILE, CA_KEY_FILE):
        key = serialization.load_pem_private_key((keys_dir / name).read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        for needle in key_needles(key):
            assert needle not in caplog.text.encode()
    assert "UNTRUSTED" in caplog.text  # the generation is reported, by directory only
