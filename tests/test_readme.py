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


def _runtime_dependencies() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]]


def test_the_watermark_runs_without_pywavelets_as_the_readme_says() -> None:
    import subprocess
    import sys

    assert "pywavelets" not in _runtime_dependencies()
    bullet = re.search(r"^- \*\*Watermark\*\*:(.*?)^- ", README, re.S | re.M)
    assert bullet is not None
    text = " ".join(bullet.group(1).split())
    # Named at all, PyWavelets must be called what it is: a test dependency, not what the mark is written with.
    assert "numpy and PyWavelets" not in text and ("PyWavelets" not in text or "test dependency" in text)
    code = (
        "import sys; sys.modules['pywt'] = None\n"  # any import of pywt now fails
        "from PIL import Image\n"
        "from aiact_transparency.provenance.payload import WatermarkPayload\n"
        "from aiact_transparency.provenance.image.watermark import detect_watermark, embed_watermark\n"
        "image = Image.radial_gradient('L').resize((256, 256)).convert('RGB')\n"
        "marked = embed_watermark(image, WatermarkPayload(system_id=7, image_id=42))\n"
        "found = detect_watermark(marked)\n"
        "assert found.payload == WatermarkPayload(system_id=7, image_id=42), found\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
