"""aiact_transparency.gradio on real Gradio: a wrapped demo served on 127.0.0.1, called with gradio_client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.tools import require_module

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = require_module("gradio")
gradio_client = require_module("gradio_client")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from aiact_transparency import TransparencyConfig, TransparencyMiddleware  # noqa: E402
from aiact_transparency.gradio import hook as _gradio_hook  # noqa: E402
from aiact_transparency.gradio import mount, wrap  # noqa: E402
from aiact_transparency.gradio.banner import BANNER_ELEM_ID  # noqa: E402
from aiact_transparency.gradio.marking import OutputMarker, _medium_of, is_example_input_loader  # noqa: E402
from aiact_transparency.gradio.noscript import NoscriptNotice  # noqa: E402
from aiact_transparency.provenance.verify import verify  # noqa: E402
from tests.gradio.served import connected, launched  # noqa: E402
from tests.servers import serve  # noqa: E402
from tests.tools import close_leaked_event_loops  # noqa: E402

STREAM_PAUSE = 0.4
# Gradio leaves event loops and sockets for the garbage collector (its launch/close threads); not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # Gradio 6.31's queue analytics uses pandas options and keywords that pandas 3 deprecates.
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


def _config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"}, model={"id": "acme/studio"})


def _picture(seed: int, size: int = 192) -> np.ndarray:
    # Smooth, photo-like content: pixel-level patterns (noise, 1-px stripes) can lose the watermark under
    # a lossy re-encode, which would make the MCP test below depend on the random image id.
    y, x = np.mgrid[0:size, 0:size] / size
    red = 127 + 100 * np.sin(2 * np.pi * x * (seed % 5 + 1) + seed)
    green = 127 + 100 * np.cos(2 * np.pi * y * 2 + seed / 3)
    blue = 255 * (x + y) / 2
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def _build_demo(upload_probe: dict[str, str]) -> Any:
    def generate(seed: float) -> np.ndarray:
        return _picture(int(seed))

    def gallery(seed: float) -> list[Image.Image]:
        return [Image.fromarray(_picture(int(seed) + i)) for i in range(2)]

    def stream(seed: float) -> Iterator[np.ndarray]:
        for i in range(3):
            yield _picture(int(seed) + i)
            time.sleep(STREAM_PAUSE)

    def echo(path: str) -> str:
        upload_probe["path"] = path
        return path

    def chat(prompt: str, upload: str) -> list[dict[str, Any]]:
        drawn = Path(gr.utils.get_upload_folder()) / f"drawn-{prompt}.png"
        Image.fromarray(_picture(len(prompt))).save(drawn)
        return [
            {"role": "user", "content": [{"path": upload}, prompt]},
            {"role": "assistant", "content": {"path": str(drawn)}},
        ]

    with gr.Blocks() as demo:
        number = gr.Number(value=1)
        image = gr.Image()
        upload = gr.Image(type="filepath")
        number.submit(generate, number, image, api_name="generate")
        number.submit(gallery, number, gr.Gallery(), api_name="gallery")
        number.submit(stream, number, gr.Image(), api_name="stream")
        upload.upload(echo, upload, gr.Image(type="filepath"), api_name="echo")
        upload.upload(chat, [gr.Textbox(), upload], gr.Chatbot(), api_name="chat")
    return wrap(demo, _config())


@pytest.fixture(scope="module", autouse=True)
def _collect_gradio_garbage() -> Iterator[None]:
    # Gradio's App and Queue each set a new event loop as the main thread's current one, never closed
    # (gradio.utils.safe_get_lock). Close and collect them while this module's warning filters apply,
    # not in a later module or at exit.
    yield
    close_leaked_event_loops()


@pytest.fixture(scope="module")
def server() -> Iterator[SimpleNamespace]:
    probe: dict[str, str] = {}
    demo = _build_demo(probe)
    with launched(demo) as base, connected(base) as client:
        yield SimpleNamespace(demo=demo, base=base, client=client, probe=probe)


def _assert_marked(data: bytes) -> None:
    report = verify(data, config=_config()).to_dict()
    assert report["c2pa"]["found"] and report["c2pa"]["valid"], report["c2pa"]
    assert report["xmp"]["ai_generated"], report["xmp"]
    assert report["watermark"]["found"] and report["watermark"].get("system_matches"), report["watermark"]


def _predict_once(url: str, *args: Any, api_name: str) -> Any:
    with connected(url) as client:
        return client.predict(*args, api_name=api_name)


def _file_url(base: str, path: str) -> str:
    return f"{base}/gradio_api/file={path}"


# -- the private hook ---------------------------------------------------------------------------------


def test_hook_point_exists_in_this_gradio_and_is_patched() -> None:
    # Fails loudly when a Gradio upgrade moves or reshapes the private function the marking depends on.
    _gradio_hook.check_hook_point()
    from gradio import processing_utils

    wrap(gr.Interface(lambda x: x, "text", "text"), _config())
    hooked = processing_utils.async_move_files_to_cache
    assert getattr(hooked, "__aiact_transparency_hook__", False)
    assert tuple(__import__("inspect").signature(hooked.__wrapped__).parameters) == _gradio_hook.HOOK_SIGNATURE


def test_a_moved_hook_point_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio import processing_utils

    monkeypatch.delattr(processing_utils, "async_move_files_to_cache")
    with pytest.raises(_gradio_hook.GradioHookError, match="async_move_files_to_cache"):
        wrap(gr.Interface(lambda x: x, "text", "text"), _config())


def test_example_input_loaders_are_recognised() -> None:
    # Examples fill *input* components through these functions: their files must never be marked.
    with gr.Blocks() as demo:
        gr.Examples([["a.png"]], inputs=[gr.Image()])
    loaders = [fn for fn in demo.fns.values() if is_example_input_loader(fn)]
    assert loaders, "gradio.helpers no longer names its example loaders load_example/load_example_input"


def test_import_without_gradio_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['gradio'] = None\n"
        "try:\n    import aiact_transparency.gradio\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "aiact-transparency[gradio]"' in out


# -- wrap ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["interface", "blocks", "chat", "tabbed"])
def test_wrap_puts_the_banner_first_and_returns_the_same_demo(kind: str) -> None:
    def build() -> Any:
        if kind == "interface":
            return gr.Interface(lambda x: x, "text", "text")
        if kind == "chat":
            return gr.ChatInterface(lambda m, h: m)
        if kind == "tabbed":
            return gr.TabbedInterface([gr.Interface(lambda x: x, "text", "text")], ["One"])
        with gr.Blocks() as blocks:
            gr.Textbox()
        return blocks

    demo = build()
    assert wrap(demo, _config()) is demo
    assert wrap(demo, _config()) is demo  # twice: still one banner
    first = demo.children[0]
    assert isinstance(first, gr.HTML) and first.elem_id == BANNER_ELEM_ID
    assert sum(1 for c in demo.children if getattr(c, "elem_id", None) == BANNER_ELEM_ID) == 1
    assert 'role="region"' in first.value and 'href="/.well-known/ai-disclosure"' in first.value


def test_the_banner_follows_accept_language() -> None:
    demo = wrap(gr.Interface(lambda x: x, "text", "text"), _config())
    load = next(fn for fn in demo.fns.values() if fn.fn is not None and fn.fn.__name__ == "banner_for")
    assert load.api_visibility == "private" and not load.queue
    german = load.fn(SimpleNamespace(headers={"accept-language": "de-AT,de;q=0.9,en;q=0.5"}))
    assert 'lang="de"' in german and "KI-System" in german


# -- a served demo ------------------------------------------------------------------------------------


def test_image_output_is_marked_and_every_route_discloses(server: SimpleNamespace) -> None:
    path = server.client.predict(4, api_name="/generate")
    _assert_marked(Path(path).read_bytes())
    config = httpx.get(f"{server.base}/config")
    assert '<meta name="ai-disclosure"' in config.json()["head"]
    for response in (httpx.get(f"{server.base}/"), config):
        assert response.status_code == 200 and response.headers["ai-disclosure"].startswith("mode=ai-originated")
        assert 'rel="describedby"' in response.headers["link"]
    # The index carries the banner once: in the UI config, not injected by the middleware as well.
    assert f'id="{BANNER_ELEM_ID}"'.encode() not in httpx.get(f"{server.base}/").content[:4096]


def _noscript_notice(page: bytes) -> tuple[str, str]:
    """(the head's <noscript> markup, the body's), as a browser without JavaScript parses the page."""
    import html5lib

    tree = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False, scripting=False)
    head, body = tree.find("head"), tree.find("body")
    assert head is not None and body is not None
    in_head = [ET.tostring(n, encoding="unicode") for n in head.iter("noscript")]
    in_body = [ET.tostring(n, encoding="unicode") for n in body.iter("noscript")]
    assert len(in_head) == 1 and len(in_body) == 1, (in_head, in_body)
    # With scripting on (a normal browser), noscript is inert text: the only live banner is the component.
    live = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False, scripting=True)
    assert [n for n in live.iter() if n.get("id") == "aiact-disclosure"] == []
    return in_head[0], in_body[0]


def test_the_page_without_javascript_still_discloses(server: SimpleNamespace) -> None:
    response = httpx.get(f"{server.base}/", headers={"accept-language": "de-DE,de;q=0.9"})
    assert "accept-language" in response.headers["vary"].lower()
    head, body = _noscript_notice(response.content)
    assert '<meta name="ai-disclosure"' in head
    assert 'id="aiact-disclosure"' in body and 'lang="de"' in body and "KI-System" in body
    assert 'href="/.well-known/ai-disclosure"' in body


def test_the_discovery_document_describes_the_hooks_marking_and_gradios_routes(server: SimpleNamespace) -> None:
    document = httpx.get(f"{server.base}/.well-known/ai-disclosure").json()
    images = document["marking"]["images"]
    # The middleware marks nothing on a launched demo; the output hook does, signed by the development chain.
    assert images["enabled"] is True and images["signer"]["untrusted"] is True
    rules = {rule["path"]: rule for rule in document["disclosure"]["routes"]}
    assert rules["/*"]["event_stream_notice"] is False and rules["/*"]["html_banner"] is False
    page = httpx.get(f"{server.base}/.well-known/ai-disclosure", headers={"accept": "text/html"}).text
    assert "test certificate" in page


def test_file_route_serves_only_the_marked_copy(server: SimpleNamespace) -> None:
    job = server.client.submit(5, api_name="/generate")
    job.result()
    url = job.outputs()[-1]
    served = httpx.get(_file_url(server.base, url) if not url.startswith("http") else url)
    assert served.status_code == 200 and served.headers["ai-disclosure"]
    _assert_marked(served.content)


def test_gallery_images_are_marked(server: SimpleNamespace) -> None:
    items = server.client.predict(2, api_name="/gallery")
    assert len(items) == 2
    for item in items:
        _assert_marked(Path(item["image"]).read_bytes())


def test_queue_stream_is_incremental_and_every_yield_is_marked(server: SimpleNamespace) -> None:
    fn_index = next(i for i, fn in server.demo.fns.items() if fn.api_name == "stream")
    session = f"s{time.monotonic_ns()}"
    join = httpx.post(
        f"{server.base}/gradio_api/queue/join",
        json={"data": [1], "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
    )
    assert join.status_code == 200 and join.headers["ai-disclosure"]
    arrivals: list[tuple[float, str, Any]] = []
    start = time.monotonic()
    with httpx.stream("GET", f"{server.base}/gradio_api/queue/data", params={"session_hash": session}) as events:
        assert events.headers["ai-disclosure"] and events.headers["content-type"].startswith("text/event-stream")
        for line in events.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                arrivals.append((time.monotonic() - start, message["msg"], message.get("output")))
                if message["msg"] == "process_completed":
                    break
    generating = [(t, out) for t, msg, out in arrivals if msg == "process_generating"]
    completed = next(t for t, msg, _ in arrivals if msg == "process_completed")
    assert generating and completed - generating[0][0] > 2 * STREAM_PAUSE * 0.8, arrivals
    first_image = generating[0][1]["data"][0]
    _assert_marked(
        httpx.get(
            first_image["url"] if first_image["url"].startswith("http") else server.base + first_image["url"]
        ).content
    )


def test_uploads_stay_unmarked_and_outputs_of_them_are_marked_copies(server: SimpleNamespace, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.fromarray(_picture(9)).save(source)
    out = server.client.predict(gradio_client.handle_file(str(source)), api_name="/echo")
    _assert_marked(Path(out).read_bytes())
    uploaded = server.probe["path"]
    assert Path(uploaded).read_bytes() == source.read_bytes()
    served = httpx.get(_file_url(server.base, uploaded))
    assert served.status_code == 200 and served.content == source.read_bytes()  # not marked on the way out


def test_chatbot_marks_assistant_images_not_user_uploads(server: SimpleNamespace, tmp_path: Path) -> None:
    source = tmp_path / "mine.png"
    Image.fromarray(_picture(11)).save(source)
    history = server.client.predict("sun", gradio_client.handle_file(str(source)), api_name="/chat")
    user, assistant = history
    # gradio_client downloads every file of the answer and puts local paths in their place.
    user_file = next(part["file"] for part in user["content"] if part.get("type") == "file")
    assert Path(user_file).read_bytes() == source.read_bytes()
    _assert_marked(Path(assistant["content"][0]["file"]).read_bytes())


# -- idempotence and failures -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_already_marked_file_passes_through_unchanged(tmp_path: Path) -> None:
    marker = OutputMarker(_config())
    block = gr.Image()
    original = tmp_path / "out.png"
    Image.fromarray(_picture(3)).save(original)
    file = {"path": str(original), "url": f"/gradio_api/file={original}", "meta": {"_type": "gradio.FileData"}}
    first = await marker(file, block, None, False)
    assert first["path"] != str(original) and first["url"].endswith(first["path"])
    assert await marker(first, block, None, False) == first  # a copy we wrote
    again = tmp_path / "again.png"
    again.write_bytes(Path(first["path"]).read_bytes())  # e.g. a cached example handed through a second time
    repeat = {**file, "path": str(again), "url": f"/gradio_api/file={again}"}
    assert (await marker(repeat, block, None, False))["path"] == str(again)


@pytest.mark.anyio
@pytest.mark.parametrize("policy", ["fail-closed", "fail-open"])
async def test_an_unmarkable_output_follows_the_failure_policy(tmp_path: Path, policy: str) -> None:
    config = TransparencyConfig(images={"on_error": policy})
    gif = tmp_path / "anim.gif"
    Image.fromarray(_picture(1)).save(gif)
    file = {"path": str(gif), "url": f"/gradio_api/file={gif}", "meta": {"_type": "gradio.FileData"}}
    if policy == "fail-closed":
        with pytest.raises(gr.Error, match="could not be marked"):
            await OutputMarker(config)(file, gr.Image(), None, False)
    else:
        assert await OutputMarker(config)(file, gr.Image(), None, False) == file


# -- where Gradio itself drops marks (documented in the module docstring) ------------------------------


def test_gradio_mcp_server_reencodes_images_without_c2pa_and_xmp(server: SimpleNamespace) -> None:
    from gradio.mcp import GradioMCPServer

    path = server.client.predict(6, api_name="/generate")
    stub = object.__new__(GradioMCPServer)  # the real method, without the optional `mcp` package
    stub.types = SimpleNamespace(ImageContent=lambda **kw: kw, TextContent=lambda **kw: kw)
    content = GradioMCPServer.postprocess_output_data(
        stub, [{"path": path, "url": None, "meta": {"_type": "gradio.FileData"}}], ""
    )
    import base64

    reencoded = base64.b64decode(content[0]["data"])
    report = verify(reencoded, config=_config()).to_dict()
    assert not report["c2pa"]["found"] and not report["xmp"]["found"]
    assert report["watermark"]["found"]  # the pixels still carry the invisible mark


def test_chat_interface_api_returns_the_raw_value_not_served_files() -> None:
    source = Path(gr.utils.get_upload_folder()).parent / "aiact-chat-raw.png"
    Image.fromarray(_picture(2)).save(source)
    demo = wrap(gr.ChatInterface(lambda m, h: {"text": m, "files": [str(source)]}, api_name="chat"), _config())
    with launched(demo) as base:
        answer = _predict_once(base, "hi", api_name="/chat")
        assert answer == {"text": "hi", "files": [str(source)]}  # the function's raw return value
        assert httpx.get(_file_url(base, str(source))).status_code == 403  # and that path is not served


# -- mount --------------------------------------------------------------------------------------------


def test_mount_adds_one_middleware_and_discloses_under_the_path() -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(TransparencyMiddleware, config=_config())
    demo = gr.Interface(lambda s: _picture(int(s)), gr.Number(), gr.Image(), api_name="generate")
    mount(app, demo, "/gradio", _config())
    ours = [m for m in app.user_middleware if m.cls is TransparencyMiddleware]
    assert len(ours) == 1
    rules = [rule.path for rule in ours[0].kwargs["config"].disclosure.routes]
    assert rules[:2] == ["/gradio", "/gradio/*"]
    with serve(app, lifespan="on") as base:
        index = httpx.get(f"{base}/gradio/")
        assert index.headers["ai-disclosure"] and index.content.count(b'id="aiact-disclosure"') == 1
        assert 'id="aiact-disclosure"' in _noscript_notice(index.content)[1]  # only in <noscript>
        assert '<meta name="ai-disclosure"' in httpx.get(f"{base}/gradio/config").json()["head"]
        path = _predict_once(f"{base}/gradio/", 3, api_name="/generate")
        _assert_marked(Path(path).read_bytes())


def test_mounted_uploads_are_not_marked_by_the_middleware(tmp_path: Path) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    mount(app, gr.Interface(lambda p: p, gr.Image(type="filepath"), gr.Image(), api_name="echo"), "/g", _config())
    source = tmp_path / "photo.png"
    Image.fromarray(_picture(4)).save(source)
    with serve(app, lifespan="on") as base:
        upload = httpx.post(f"{base}/g/gradio_api/upload", files={"files": ("photo.png", source.read_bytes())})
        served = httpx.get(_file_url(f"{base}/g", upload.json()[0]))
        assert served.content == source.read_bytes()


def test_mount_puts_the_middleware_inside_an_existing_gzip_middleware() -> None:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from starlette.middleware.gzip import GZipMiddleware

    app = FastAPI()
    page = "<!DOCTYPE html><html><head><title>t</title></head><body>" + "<p>A page of the service.</p>" * 80

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    app.add_middleware(GZipMiddleware, minimum_size=100)
    mount(app, gr.Interface(lambda s: s, gr.Textbox(), gr.Textbox(), api_name="echo"), "/gradio", _config())
    assert [m.cls for m in app.user_middleware] == [GZipMiddleware, TransparencyMiddleware, NoscriptNotice]
    with serve(app, lifespan="on") as base:
        response = httpx.get(f"{base}/", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"  # compressed on the wire, banner inside
        assert response.text.count('id="aiact-disclosure"') == 1


def test_mount_refuses_a_transparency_middleware_outside_the_compression() -> None:
    from fastapi import FastAPI
    from starlette.middleware.gzip import GZipMiddleware

    app = FastAPI()
    app.add_middleware(TransparencyMiddleware, config=_config())
    app.add_middleware(GZipMiddleware)  # add_middleware puts the last one outermost: the documented order
    mount(app, gr.Interface(lambda s: s, gr.Textbox(), gr.Textbox(), api_name="echo"), "/g", _config())
    assert [m.cls for m in app.user_middleware] == [GZipMiddleware, TransparencyMiddleware, NoscriptNotice]
    wrong = FastAPI()
    wrong.add_middleware(GZipMiddleware)
    wrong.add_middleware(TransparencyMiddleware, config=_config())  # outermost: sees gzip bytes
    with pytest.raises(ValueError, match="Add GZipMiddleware after TransparencyMiddleware"):
        mount(wrong, gr.Interface(lambda s: s, gr.Textbox(), gr.Textbox(), api_name="echo"), "/g", _config())


def test_every_output_of_a_family_the_media_registry_claims_goes_to_a_marker() -> None:
    assert _medium_of({"mime_type": "image/gif"}, "x.gif")  # refused there under the failure policy, not skipped
    assert _medium_of({}, "out.webp") and not _medium_of({}, "notes.txt")
    assert _medium_of({}, "speech.wav") and _medium_of({}, "song.mp3")
