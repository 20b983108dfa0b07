"""Gradio apps get the detector and the fingerprint log: outputs the hook marks are logged, and the detector
(served by the middleware launch() and mount() add) finds one turned 90 degrees with its metadata stripped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tools import require_module

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = require_module("gradio")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from aiact_transparency import TransparencyConfig  # noqa: E402
from aiact_transparency.gradio import mount, wrap  # noqa: E402
from tests.gradio.served import connected, launched  # noqa: E402
from tests.servers import serve  # noqa: E402
from tests.tools import close_leaked_event_loops  # noqa: E402
from tests.wired.flows import DETECT, stripped  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module", autouse=True)
def _collect_gradio_garbage() -> Iterator[None]:
    yield
    close_leaked_event_loops()


def _config(tmp_path: Path) -> TransparencyConfig:
    store = f"sqlite:///{tmp_path / 'fingerprints.db'}"
    return TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"}, model={"id": "acme/studio"},
                              fingerprints={"enabled": True, "store": store, "flush_interval": 0.05})


def _picture(seed: int) -> np.ndarray:
    from ..fingerprints.images import photo

    return np.asarray(photo(["astronaut", "coffee", "chelsea"][seed % 3]))


def _demo() -> Any:
    return gr.Interface(lambda s: _picture(int(s)), gr.Number(), gr.Image(format="png"), api_name="generate")


def _generate(url: str) -> bytes:
    with connected(url) as client:
        return Path(client.predict(0, api_name="/generate")).read_bytes()


def _detected_by_fingerprint(base: str, data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for _ in range(100):  # the record is written off the response path
        result = httpx.post(base + DETECT, content=stripped(data, turn=True), headers={"content-type": "image/jpeg"},
                            timeout=60).json()
        if result["verdict"] != "not-detected":
            break
        httpx.get(base + "/.well-known/ai-disclosure", timeout=10)
    return result


def test_launched_demo_serves_the_detector_and_logs_its_outputs(tmp_path: Path) -> None:
    demo = wrap(_demo(), _config(tmp_path))
    with launched(demo) as base:
        assert httpx.get(base + DETECT, headers={"accept": "text/html"}).status_code == 200
        assert httpx.get(base + "/.well-known/ai-disclosure").json()["detection"]["url"] == DETECT
        result = _detected_by_fingerprint(base, _generate(base))
        assert result["verdict"] == "generated-by-this-system" and result["based_on"] == ["fingerprint"], result


def test_mounted_demo_serves_the_detector_and_logs_its_outputs(tmp_path: Path) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    mount(app, _demo(), "/gradio", _config(tmp_path))
    with serve(app, lifespan="on") as base:
        result = _detected_by_fingerprint(base, _generate(f"{base}/gradio/"))
    assert result["verdict"] == "generated-by-this-system" and result["based_on"] == ["fingerprint"], result
