"""The README is honest: its Python snippets run and its config example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiact_transparency import load_config

from .tools import close_leaked_event_loops

# The Gradio snippet builds a gr.Interface: Gradio leaves event loops and sockets for the collector.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_readme_has_snippets() -> None:
    assert PYTHON_BLOCKS and YAML_BLOCKS


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_snippet_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    close_leaked_event_loops()


@pytest.mark.parametrize("text", YAML_BLOCKS, ids=[f"yaml-{i}" for i in range(len(YAML_BLOCKS))])
def test_yaml_example_loads(text: str, tmp_path: Path, model_card: Path) -> None:
    (tmp_path / "aiact.yaml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "aiact.yaml")
    assert config.system.name


def test_quick_start_commands_exist_in_the_makefile() -> None:
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    for target in ("demo", "test", "bench", "lint"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in README
