"""gr.Video outputs of a wrapped demo are marked (a file path return), on real Gradio."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.tools import require_module, require_tool

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = require_module("gradio")
require_module("av")

from aiact_transparency import TransparencyConfig, verify  # noqa: E402
from aiact_transparency.gradio import wrap  # noqa: E402
from tests.gradio.served import connected, launched  # noqa: E402
from tests.provenance.video.clips import ClipSpec, make_clip  # noqa: E402
from tests.tools import close_leaked_event_loops  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


def _config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Video", "provider": "Acme GmbH"}, model={"id": "acme/t2v"})


@pytest.fixture(scope="module", autouse=True)
def _collect_gradio_garbage() -> Iterator[None]:
    yield
    close_leaked_event_loops()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("t2v")
    clip = make_clip(ClipSpec("testsrc2", 160, 90, 2.0), folder, require_tool("ffmpeg"))

    def generate(prompt: str) -> str:
        path = folder / f"video-{len(prompt)}.mp4"
        shutil.copyfile(clip, path)
        return str(path)

    with gr.Blocks() as demo:
        prompt = gr.Textbox()
        prompt.submit(generate, prompt, gr.Video(), api_name="generate")
    wrap(demo, _config())
    with launched(demo, allowed_paths=[str(folder)]) as base, connected(base) as client:
        yield SimpleNamespace(client=client, folder=folder)


def test_video_outputs_are_marked(server: SimpleNamespace) -> None:
    result = server.client.predict("a cat", api_name="/generate")
    path = result["video"] if isinstance(result, dict) else result
    report = verify(Path(path).read_bytes(), config=_config())
    assert report.media_type == "video/mp4" and report.c2pa["valid"] and report.c2pa["ai_generated"]
    assert report.watermark["found"] and "frames" in report.watermark["found_by"]
    assert not verify((server.folder / "video-5.mp4").read_bytes()).marked  # the app's own file is untouched
