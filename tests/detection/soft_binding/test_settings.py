"""detection.soft_binding_path: the API's base, checked by load_config (never at the first request)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiact_transparency.config.detection import DEFAULT_SOFT_BINDING_PATH
from aiact_transparency.config.errors import ConfigError
from aiact_transparency.startup import load_config


def test_default_and_a_custom_base(tmp_path: Path) -> None:
    assert load_config(None).detection.soft_binding_path == DEFAULT_SOFT_BINDING_PATH == \
        "/.well-known/ai-disclosure/c2pa/v1"
    path = tmp_path / "aiact.yaml"
    path.write_text("detection: {soft_binding_path: /c2pa/v1}\n")
    assert load_config(path).detection.soft_binding_path == "/c2pa/v1"


@pytest.mark.parametrize(("value", "message"), [
    ("c2pa/v1", "absolute URL path"),
    ("/c2pa/v1/", "trailing '/'"),
    ("/", "absolute URL path"),
    ("/.well-known/ai-disclosure", "lies inside"),
])
def test_bad_bases_stop_load_config(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text(f"detection: {{soft_binding_path: '{value}', path: /.well-known/ai-disclosure/detect}}\n")
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert "detection" in str(raised.value) and str(path) in str(raised.value)
