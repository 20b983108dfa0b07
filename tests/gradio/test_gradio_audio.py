"""gr.Audio outputs of a wrapped demo are marked: file path returns and (rate, numpy) returns, on real Gradio."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.tools import require_module

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = require_module("gradio")
sf = require_module("soundfile")

import numpy as np  # noqa: E402

from aiact_transparency import TransparencyConfig, verify  # noqa: E402
from aiact_transparency.gradio import wrap  # noqa: E402
from aiact_transparency.gradio.marking import OutputMarker  # noqa: E402
from tests.gradio.served import connected, launched  # noqa: E402
from tests.provenance.audio.clips import music  # noqa: E402
from tests.tools import close_leaked_event_loops  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]
RATE = 22_050


def _config(**audio: object) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Voice", "provider": "Acme GmbH"}, model={"id": "acme/tts"},
                              audio=audio)


def _samples(seed: int) -> np.ndarray:
    return music(4.0, RATE, np.random.default_rng(seed))


@pytest.fixture(scope="module", autouse=True)
def _collect_gradio_garbage() -> Iterator[None]:
    yield
    close_leaked_event_loops()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("tts")

    def as_numpy(seed: float) -> tuple[int, np.ndarray]:
        return RATE, (_samples(int(seed)) * 32767).astype(np.int16)

    def as_file(seed: float) -> str:
        path = folder / f"speech-{int(seed)}.flac"
        sf.write(path, _samples(int(seed)), RATE, subtype="PCM_16", format="FLAC")
        return str(path)

    with gr.Blocks() as demo:
        number = gr.Number(value=1)
        number.submit(as_numpy, number, gr.Audio(), api_name="numpy")
        number.submit(as_file, number, gr.Audio(type="filepath"), api_name="file")
    wrap(demo, _config())
    with launched(demo, allowed_paths=[str(folder)]) as base, connected(base) as client:
        yield SimpleNamespace(client=client, folder=folder)


@pytest.mark.parametrize(("api", "media_type"), [("/numpy", "audio/wav"), ("/file", "audio/flac")])
def test_audio_outputs_are_marked(server: SimpleNamespace, api: str, media_type: str) -> None:
    path = server.client.predict(3, api_name=api)
    data = Path(path).read_bytes()
    report = verify(data, config=_config())
    assert report.media_type == media_type and report.c2pa["valid"] and report.c2pa["ai_generated"]
    assert report.watermark["found"] == (report.c2pa["soft_binding_alg"] is not None)
    assert sf.info(io.BytesIO(data)).samplerate == RATE
    if api == "/file":  # the app's own file stays as it was: a marked copy is served
        assert not verify((server.folder / "speech-3.flac").read_bytes()).marked


@pytest.mark.anyio
async def test_a_streamed_audio_output_is_left_unmarked_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chunk.wav"
    sf.write(path, _samples(1), RATE, subtype="PCM_16", format="WAV")
    file = {"path": str(path), "meta": {"_type": "gradio.FileData"}, "is_stream": True}
    with caplog.at_level(logging.WARNING, logger="aiact_transparency.gradio"):
        assert await OutputMarker(_config())(file, gr.Audio(streaming=True), None, False) == file
    assert any("streamed audio output is served unmarked" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_audio_disabled_leaves_audio_outputs_alone(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    sf.write(path, _samples(1), RATE, subtype="PCM_16", format="WAV")
    file = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
    assert await OutputMarker(_config(enabled=False))(file, gr.Audio(), None, False) == file
