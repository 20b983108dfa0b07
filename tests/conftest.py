from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiact_transparency import TransparencyConfig


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Tests see no AIACT_* settings of the machine, and keys go to a throwaway directory.
    for name in list(os.environ):
        if name.startswith("AIACT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIACT_KEYS_DIR", str(tmp_path_factory.mktemp("keys")))
    # The fingerprint log's default store is in the user data dir (platformdirs reads XDG_DATA_HOME): a
    # throwaway one too, also for the subprocesses tests start (the demo config turns the log on).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    yield


@pytest.fixture
def model_card(tmp_path: Path) -> Path:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text(
        "---\nlicense: apache-2.0\nbase_model: stabilityai/stable-diffusion-xl-base-1.0\n"
        "datasets:\n- laion/laion2B-en\nlanguage: [en, de]\npipeline_tag: text-to-image\n"
        "model_name: Studio XL\n---\n# Studio XL\nA model.\n",
        encoding="utf-8",
    )
    return card


@pytest.fixture
def config() -> TransparencyConfig:
    return TransparencyConfig(
        system={"name": "Acme Studio", "provider": "Acme GmbH", "contact": "mailto:ai@acme.example"},
        model={"id": "acme/studio-xl"},
    )


# Async tests run on asyncio through anyio's pytest plugin (`pytestmark = pytest.mark.anyio`).
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
