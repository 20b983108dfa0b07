"""Hostile configs and faults: each gets a start-up error naming the problem, safe escaping, or the failure policy.

What test_config.py, test_keys.py and test_image_middleware.py already cover (CR/LF in config text, Greek
provider, key loading on its own, a signer that raises, saturation, image disconnects) is not repeated here.
"""

from __future__ import annotations

import asyncio
import html.parser
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.responses import StreamingResponse

from aiact_transparency import ConfigError, KeyConfigError, TransparencyConfig, TransparencyMiddleware, load_config
from aiact_transparency.config import DisclosureConfig
from aiact_transparency.http_messages import Message, Receive, Scope, Send
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.keys.certs import cert_pem, key_pem

from ..chains import DAY, NOW, make_chain, write_pair
from ..samples import image_bytes
from ..servers import raw_get, serve
from .test_media_responder import (
    BrokenSigner,
    assert_marked,
    assert_problem,
    build_app,
    fetch,
    make_config,
)

pytestmark = pytest.mark.anyio


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("start-up must fail before any request reaches the app")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# == hostile config ===========================================================================================


def test_cjk_provider_is_a_startup_error_naming_provider_ascii(tmp_path: Path) -> None:
    path = write(tmp_path / "aiact.yaml", "system: {provider: 株式会社アクメ}\nimages: {enabled: false}\n")
    with pytest.raises(ConfigError) as info:  # valid text; only the header cannot carry it
        load_config(path)
    assert "system.provider" in str(info.value) and "provider_ascii" in str(info.value)
    config = TransparencyConfig(system={"provider": "株式会社アクメ"}, images={"enabled": False})
    with pytest.raises(ConfigError, match="provider_ascii"):
        TransparencyMiddleware(_unused_app, config=config)
    fixed = TransparencyMiddleware(_unused_app, config=config.model_copy(
        update={"system": config.system.model_copy(update={"provider_ascii": "Acme KK"})}))
    assert b'provider="Acme KK"' in fixed.disclosure.default_policy.header_prefix
    assert "株式会社アクメ" in json.dumps(fixed.discovery.document, ensure_ascii=False)


@pytest.mark.parametrize("model", [{"id": "acme/studio-🎨"}, {"name": "Studio ✨ XL"}])
def test_non_ascii_model_label_is_a_startup_error_naming_model_id(model: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"model\.id"):
        TransparencyMiddleware(_unused_app, config=TransparencyConfig(model=model, images={"enabled": False}))


def test_control_characters_from_a_model_card_cannot_reach_a_header(tmp_path: Path) -> None:
    # Card values bypass the config's control-character check: the header serialiser still refuses them.
    card = write(tmp_path / "card.md", '---\nmodel_name: "x\\r\\nSet-Cookie: a=b"\n---\n# x\n')
    with pytest.raises(ConfigError, match="AI-Disclosure header"):
        load_config(write(tmp_path / "aiact.yaml", f"model: {{card: {card.name}}}\nimages: {{enabled: false}}\n"))


def test_non_utf8_environment_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # An environment variable holding invalid UTF-8 arrives as a lone surrogate (PEP 383). Today it passes the
    # config's validators and Disclosure.__init__ dies encoding the SSE notice (disclosure.py: `.encode()`),
    # a traceback that names neither the variable nor the fix. Fix (config.py `_no_control_chars`): also reject
    # [\ud800-\udfff] with "is not valid UTF-8 text", so the error names AIACT_SYSTEM__NAME like other errors.
    monkeypatch.setenv("AIACT_SYSTEM__NAME", "Acme \udcff Studio")
    monkeypatch.setenv("AIACT_IMAGES__ENABLED", "false")
    with pytest.raises(ConfigError, match="AIACT_SYSTEM__NAME"):
        TransparencyMiddleware(_unused_app, config=load_config())


def test_disclosure_json_key_from_a_file_loads(tmp_path: Path) -> None:
    # README documents `disclosure: {json: true}`. TransparencyConfig sets nested_model_default_partial_update,
    # so pydantic-settings merges the user's {"json": true} into the *field-name* dump of the default section
    # ({"json_body": false, ...}); with extra="forbid" the leftover `json_body` is rejected: "disclosure.json_body:
    # Extra inputs are not permitted", from a file, AIACT_DISCLOSURE__JSON=true or TransparencyConfig(disclosure=
    # {"json": True}) alike. Fix (config.py DisclosureConfig.model_config): add serialize_by_alias=True, so the
    # default dumps as {"json": false} and merges. (Per-route `json` and DisclosureConfig(json=True) both work.)
    config = load_config(write(tmp_path / "aiact.yaml", "disclosure: {json: true}\n"))
    assert config.disclosure.json_body


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class TagCollector(html.parser.HTMLParser):
    """Every start tag and attribute name a browser's tokenizer would see, plus all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(page: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(page)
    collector.close()
    return collector


async def test_markup_in_config_and_card_is_neutralised_in_banner_discovery_and_json(tmp_path: Path) -> None:
    card = write(tmp_path / "card.md", f"---\nlicense: '{HOSTILE}'\ndatasets: ['{HOSTILE}']\n---\n")
    config = TransparencyConfig(
        system={"name": f"Acme {HOSTILE}", "provider": f"Evil {HOSTILE}", "purpose": HOSTILE},
        model={"card": str(card), "id": "acme/<b>x</b>"},
        disclosure=DisclosureConfig(json=True, json_key='k"}</script>'),
        banner={"text": {"en": "{system} by {provider} " + HOSTILE}},
        images={"enabled": False},
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = b"application/json" if scope["path"] == "/api" else b"text/html"
        body = b'{"a": 1}' if scope["path"] == "/api" else b"<html><head><title>t</title></head><body><p>hi</p>"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": body})

    middleware = TransparencyMiddleware(app, config=config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        page = await client.get("/", headers={"accept-language": "en"})
        discovery_html = await client.get("/.well-known/ai-disclosure", headers={"accept": "text/html"})
        discovery_json = await client.get("/.well-known/ai-disclosure")
        api = await client.get("/api")
    for response in (page, discovery_html):
        parsed = parse_html(response.text)
        assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
        assert not [a for a in parsed.attributes if a.startswith("on")]
        assert HOSTILE in "".join(parsed.text)  # shown as text, not dropped
        response.content.decode("ascii")  # character references only: safe in any ASCII-compatible charset
    # The page itself is unchanged apart from the two insertions, which hold no raw markup from the config.
    assert parse_html(page.text).tags == ["html", "head", "meta", "title", "body", "aside", "p", "a", "p"]
    document = discovery_json.json()
    assert document["system"]["name"] == f"Acme {HOSTILE}" and document["model"]["license"] == HOSTILE
    assert document["model"]["datasets"] == [HOSTILE] and document["system"]["purpose"] == HOSTILE
    assert str(card) not in discovery_json.text and str(card) not in discovery_html.text
    payload = api.json()  # the hostile key is escaped inside valid JSON
    assert payload["a"] == 1 and payload['k"}</script>']["provider"] == f"Evil {HOSTILE}"
    assert int(api.headers["content-length"]) == len(api.content)
    # Headers: the model id is a valid RFC 9651 String (markup is harmless there), the meta tag escapes it.
    assert 'model="acme/<b>x</b>"' in page.headers["ai-disclosure"]
    assert "&lt;b&gt;" in page.text


def test_traversal_to_a_file_that_is_not_a_model_card_is_a_startup_error(tmp_path: Path) -> None:
    passwd = Path("/etc/passwd")
    if not passwd.is_file():
        pytest.skip("needs /etc/passwd")
    depth = "../" * len(tmp_path.parts)
    path = write(tmp_path / "aiact.yaml", f"model: {{card: '{depth}etc/passwd'}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "model.card" in message and "no YAML front matter" in message and "Fix:" in message
    assert "root:" not in message  # the file's content is never echoed


def test_traversal_to_a_real_card_works_and_the_path_is_never_disclosed(tmp_path: Path, model_card: Path) -> None:
    # The config's author is trusted (absolute paths are allowed too), so "../" is fine; what matters is that
    # the server's file layout never reaches a response.
    config_dir = tmp_path / "deploy" / "conf"
    config_dir.mkdir(parents=True)
    path = write(config_dir / "aiact.yaml", f"model: {{card: '../../{model_card.name}'}}\nimages: {{enabled: false}}\n")
    middleware = TransparencyMiddleware(_unused_app, config=load_config(path))
    assert middleware.disclosure.facts.license == "apache-2.0"
    rendered = json.dumps(middleware.discovery.document) + "".join(
        page.decode() for page in middleware.discovery._html.values()
    )
    assert model_card.name not in rendered and str(tmp_path) not in rendered


@pytest.mark.parametrize("target", ["cert", "key"])
def test_traversal_in_signing_paths_is_a_startup_error_without_echo(tmp_path: Path, target: str) -> None:
    cert_file, key_file = write_pair(tmp_path, *make_chain())
    depth = "../" * len(tmp_path.parts)
    files = {"cert": cert_file.name, "key": key_file.name, target: f"{depth}etc/passwd"}
    path = write(tmp_path / "aiact.yaml", f"images: {{signing: {{cert: '{files['cert']}', key: '{files['key']}'}}}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"images.signing.{target}" in str(info.value)
    assert "etc/passwd" in str(info.value) and "Fix:" in str(info.value) and "root:" not in str(info.value)


def _signing_file(tmp_path: Path, cert_file: Path, key_file: Path) -> Path:
    return write(tmp_path / "aiact.yaml", f"images: {{signing: {{cert: '{cert_file}', key: '{key_file}'}}}}\n")


def _signing_config(tmp_path: Path, cert_file: Path, key_file: Path) -> TransparencyConfig:
    return load_config(_signing_file(tmp_path, cert_file, key_file))


@pytest.mark.parametrize("problem", ["missing-cert", "missing-key", "expired", "not-yet-valid", "mismatched"])
def test_bad_signing_material_stops_start_up_not_the_first_request(tmp_path: Path, problem: str) -> None:
    if problem in ("expired", "not-yet-valid"):
        window = (NOW - 100 * DAY, NOW - DAY) if problem == "expired" else (NOW + DAY, NOW + 100 * DAY)
        ca, leaf = make_chain(not_before=window[0], not_after=window[1])
    else:
        ca, leaf = make_chain()
    other = make_chain()[1].key if problem == "mismatched" else None
    cert_file, key_file = write_pair(tmp_path, ca, leaf, key=other)
    if problem == "missing-cert":
        cert_file = tmp_path / "absent-chain.pem"
    elif problem == "missing-key":
        key_file = tmp_path / "absent-key.pem"
    path = _signing_file(tmp_path, cert_file, key_file)
    expected = {
        "missing-cert": "cannot be read", "missing-key": "cannot be read", "expired": "expired",
        "not-yet-valid": "not valid before", "mismatched": "does not belong",
    }[problem]
    # load_config opens and checks the files: under uvicorn the middleware is built at the first request.
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert "Fix:" in str(info.value) and "PRIVATE KEY" not in str(info.value)


def test_mismatched_pair_from_the_environment_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    ca, leaf = make_chain()
    monkeypatch.setenv(keys.ENV_CERT_PEM, cert_pem(leaf.cert, ca.cert).decode())
    monkeypatch.setenv(keys.ENV_KEY_PEM, key_pem(make_chain()[1].key).decode())
    with pytest.raises(KeyConfigError, match=f"{keys.ENV_KEY_PEM}.*does not belong"):
        TransparencyMiddleware(_unused_app, config=TransparencyConfig())


def test_certificate_expiring_soon_warns_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ca, leaf = make_chain(not_after=NOW + 5 * DAY)
    cert_file, key_file = write_pair(tmp_path, ca, leaf)
    with caplog.at_level(logging.WARNING):
        middleware = TransparencyMiddleware(_unused_app, config=_signing_config(tmp_path, cert_file, key_file))
    assert middleware.images is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "expires" in r.getMessage()]
    assert len(warnings) == 1 and str(cert_file) in warnings[0].getMessage()
    assert (NOW + 5 * DAY).date().isoformat() in warnings[0].getMessage()
    assert "PRIVATE KEY" not in caplog.text
    # A comfortable validity starts silently.
    caplog.clear()
    ca, leaf = make_chain(not_after=NOW + 90 * DAY)
    (tmp_path / "ok").mkdir()
    cert_file, key_file = write_pair(tmp_path / "ok", ca, leaf)
    with caplog.at_level(logging.WARNING):
        TransparencyMiddleware(_unused_app, config=_signing_config(tmp_path / "ok", cert_file, key_file))
    assert "expires" not in caplog.text


# == faults: signers ==========================================================================================


class WrongSignatureSigner(BrokenSigner):
    """Answers, but with bytes that do not verify against its certificate (a KMS holding another key)."""

    def sign(self, data: bytes) -> bytes:
        return b"\x01" * 64


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_a_signer_returning_a_wrong_signature_follows_the_policy(policy: str) -> None:
    app = build_app(make_config(on_error=policy), None)
    assert app.images is not None
    app.images.marker.markers["image"].signer = WrongSignatureSigner(app.images.marker.markers["image"].signer)
    response = await fetch(app, "/images/bytes/png")
    if policy == "fail-closed":
        body = assert_problem(response)
        assert "does not verify" in body["detail"]
    else:
        assert response.status_code == 200 and response.content == image_bytes("png")


class HangingSigner(BrokenSigner):
    """Signs only once `gate` opens, like a KMS call stuck on a dead connection."""

    def __init__(self, real: Any, gate: threading.Event) -> None:
        super().__init__(real)
        self._real = real
        self.gate = gate
        self.calls = 0
        self.entered = threading.Event()  # the test waits for this, not for a guessed delay

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        self.entered.set()
        self.gate.wait(30)
        return bytes(self._real.sign(data))


async def _until(condition: Any, seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)


@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_a_hanging_signer_times_out_per_policy_and_keeps_its_slot_until_it_returns(
    policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(on_error=policy, workers=1, max_queue=0)
    app = build_app(config, None)
    service = app.images
    assert service is not None
    # Long enough for the marking before the signer to finish on a loaded machine; the hang is what times out.
    service.timeout = 2.0
    gate = threading.Event()
    signer = HangingSigner(service.marker.markers["image"].signer, gate)
    service.marker.markers["image"].signer = signer
    threads_before = threading.active_count()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            started = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="aiact_transparency"):
                first, second = await asyncio.gather(
                    client.get("/images/bytes/png"),
                    _once(signer.entered, client.get("/images/bytes/jpeg")),  # while the first one hangs: queue full
                )
            assert time.monotonic() - started < 10
            assert second.status_code == 503 and second.headers["retry-after"] == "1"
            if policy == "fail-closed":
                body = assert_problem(first)
                assert body["title"] == "Image marking timed out" and "2 s" in body["detail"]
            else:
                assert first.status_code == 200 and first.content == image_bytes("png")
                assert "UNMARKED" in caplog.text and "did not finish within 2 s" in caplog.text
            # Python cannot stop the hung thread: it still holds the only worker slot, so the next image waits
            # for it and times out as well, instead of a second thread starting next to the stuck one.
            assert service.limiter().borrowed_tokens == 1 and service.waiting == 0
            third = await client.get("/images/bytes/webp")
            assert third.status_code == (500 if policy == "fail-closed" else 200)
            assert signer.calls == 1  # the third image never reached the signer
            gate.set()  # the signer returns: its thread gives the slot back by itself
            await _until(lambda: service.limiter().borrowed_tokens == 0)
            marked = await client.get("/images/bytes/png")
            assert_marked(marked, config, "image/png")
    finally:
        gate.set()
    assert service.waiting == 0
    await _until(lambda: threading.active_count() <= threads_before + service.workers)


async def _once(event: threading.Event, request: Any) -> httpx.Response:
    await _until(event.is_set)
    return await request  # type: ignore[no-any-return]


async def _after(delay: float, request: Any) -> httpx.Response:
    await anyio.sleep(delay)
    response: httpx.Response = await request
    return response


# == faults: apps that fail, clients that leave ==============================================================


def fault_config(**images: Any) -> TransparencyConfig:
    # JSON opted in, images marked on every route: every body-changing responder is in play.
    return TransparencyConfig(
        system={"name": "Acme Studio", "provider": "Acme GmbH"},
        model={"id": "acme/studio-xl"},
        disclosure=DisclosureConfig(json=True),
        images={"routes": ["*"], **images},
    )


class AppBoom(RuntimeError):
    pass


def failing_app(png: bytes, stopped: dict[str, threading.Event]) -> Any:
    """Raw ASGI routes that start a response, send part of it, then raise (or stream until cancelled)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        kinds = {"/html": b"text/html", "/sse": b"text/event-stream", "/json": b"application/json",
                 "/image": b"image/png", "/ok": b"text/plain", "/slow-html": b"text/html",
                 "/slow-sse": b"text/event-stream", "/tasks": b"text/plain"}
        if path.startswith("/slow-"):
            await StreamingResponse(endless(path), media_type=kinds[path].decode())(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kinds[path])]})
        first = {
            "/html": b"<html><head></head><body><p>one</p>", "/sse": b"data: one\n\n", "/json": b'{"a": ',
            "/image": png[: len(png) // 2],
        }
        if path in first:
            await send({"type": "http.response.body", "body": first[path], "more_body": True})
            raise AppBoom(f"app boom on {path}")
        if path == "/ok":
            await send({"type": "http.response.body", "body": b"ok"})
        else:  # /tasks
            await send({"type": "http.response.body", "body": str(len(asyncio.all_tasks())).encode()})

    async def endless(path: str) -> AsyncIterator[bytes]:
        try:
            yield b"<html><body>" if path == "/slow-html" else b"data: 0\n\n"
            for i in range(2000):
                await anyio.sleep(0.01)
                yield b"data: %d\n\n" % i
        finally:
            stopped[path].set()

    return app


@pytest.mark.parametrize("path", ["/html", "/sse", "/json", "/image"])
async def test_app_error_after_start_propagates_unchanged_in_process(path: str) -> None:
    app = TransparencyMiddleware(failing_app(image_bytes("png"), {}), config=fault_config())
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    with pytest.raises(AppBoom, match=f"app boom on {path}"):
        await app(scope, receive, send)
    # Streamed kinds already sent headers (and the banner/notice); buffered kinds sent nothing, so the server
    # can still answer 500 itself. Nothing claims to be complete.
    assert all(m.get("more_body", False) for m in sent if m["type"] == "http.response.body")
    if path in ("/json", "/image"):
        assert sent == []
    else:
        assert sent[0]["type"] == "http.response.start"
    assert app.images is not None and app.images.waiting == 0


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # Servers here run with log_config=None: uvicorn's dictConfig would otherwise replace the handlers of its
    # loggers (and stop propagation) when it starts, so nothing it logs would reach caplog.
    caplog.set_level(logging.INFO)
    return caplog


def test_app_error_after_start_under_uvicorn_truncates_only_by_the_apps_fault(
    server_log: pytest.LogCaptureFixture,
) -> None:
    app = TransparencyMiddleware(failing_app(image_bytes("png"), {}), config=fault_config())
    server_log.clear()  # start-up notes (the development chain) are not under test here
    with serve(app, log_config=None) as base, httpx.Client(base_url=base, timeout=10) as client:
        for path, marker in (("/html", b'<aside id="aiact-disclosure"'), ("/sse", b": AI-Disclosure:")):
            received = b""
            with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", path) as response:
                assert response.status_code == 200 and "ai-disclosure" in response.headers
                for chunk in response.iter_raw():
                    received += chunk
            assert marker in received  # what was sent before the fault arrived intact
        for path in ("/json", "/image"):
            # Nothing had left the middleware yet: the server answers 500 itself.
            response = client.get(path)
            assert response.status_code == 500 and response.text == "Internal Server Error"
        assert client.get("/ok").text == "ok"  # the server is fine
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    # Exactly one error per failed request, each the app's own exception: no secondary error from the middleware.
    assert len(errors) == 4, [r.getMessage() for r in errors]
    for record in errors:
        assert record.exc_info is not None and isinstance(record.exc_info[1], AppBoom), record.getMessage()
    ours = [r for r in server_log.records if r.name.startswith("aiact_transparency") and r.levelno >= logging.WARNING]
    assert not ours, [r.getMessage() for r in ours]
    assert app.images is not None and app.images.waiting == 0


@pytest.mark.parametrize(("path", "marker"), [("/slow-html", b"aiact-disclosure"), ("/slow-sse", b"AI-Disclosure")])
def test_client_disconnect_mid_stream_stops_the_app_quietly(
    path: str, marker: bytes, server_log: pytest.LogCaptureFixture
) -> None:
    stopped = {"/slow-html": threading.Event(), "/slow-sse": threading.Event()}
    app = TransparencyMiddleware(failing_app(image_bytes("png"), stopped), config=fault_config())
    with serve(app, log_config=None) as base:
        sock = raw_get(base, path)
        received = b""
        while marker not in received or received.count(b"data:") < 3:
            received += sock.recv(65536)
        sock.close()
        assert stopped[path].wait(5), "the app kept streaming to a client that had left"
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/ok").text == "ok"
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# == no leaks after a mixed burst ============================================================================


def test_no_task_or_thread_leaks_after_a_mixed_burst_with_faults(server_log: pytest.LogCaptureFixture) -> None:
    stopped = {"/slow-html": threading.Event(), "/slow-sse": threading.Event()}
    config = fault_config(workers=2)
    png = image_bytes("png")
    inner = failing_app(png, stopped)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/picture":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
            await send({"type": "http.response.body", "body": png})
            return
        await inner(scope, receive, send)

    middleware = TransparencyMiddleware(app, config=config)
    assert middleware.images is not None

    def tasks(base: str) -> int:
        with httpx.Client(base_url=base, timeout=10, headers={"connection": "close"}) as client:
            return int(client.get("/tasks").text)

    async def burst(base: str) -> list[str]:
        outcomes: list[str] = []
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

            async def one(path: str) -> None:
                try:
                    response = await client.get(path)
                    outcomes.append(f"{path} {response.status_code}")
                except httpx.RemoteProtocolError:
                    outcomes.append(f"{path} truncated")

            async def leave(path: str) -> None:
                async with client.stream("GET", path) as response:
                    async for _ in response.aiter_raw():
                        break  # gone after the first chunk
                outcomes.append(f"{path} left")

            jobs = [one(p) for p in ("/picture", "/ok", "/html", "/sse", "/json", "/image") for _ in range(6)]
            jobs += [leave(p) for p in ("/slow-html", "/slow-sse") for _ in range(4)]
            await asyncio.gather(*jobs)
        return outcomes

    with serve(middleware, log_config=None) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert_marked(client.get("/picture"), config, "image/png")  # warm up the worker threads
        time.sleep(0.2)
        threads_before, tasks_before = threading.active_count(), tasks(base)
        outcomes = asyncio.run(burst(base))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (tasks(base) > tasks_before or middleware.images.waiting):
            time.sleep(0.05)
        tasks_after = tasks(base)
    assert sorted(set(outcomes)) == sorted({
        "/picture 200", "/ok 200", "/html truncated", "/sse truncated", "/json 500", "/image 500",
        "/slow-html left", "/slow-sse left",
    }), outcomes
    assert tasks_after == tasks_before, (tasks_before, tasks_after)
    assert middleware.images.waiting == 0 and middleware.images.limiter().borrowed_tokens == 0
    # The server thread is gone now; anyio's idle worker threads (at most images.workers) may linger.
    threads_after = threading.active_count()
    assert threads_after <= threads_before - 1 + middleware.images.workers, (threads_before, threads_after)
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert all(r.exc_info is not None and isinstance(r.exc_info[1], AppBoom) for r in errors)
