"""routes[].media switches marking for every medium; the old name routes[].images still works, with a message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aiact_transparency import ConfigError, Disclosure, TransparencyConfig
from aiact_transparency.startup import load_config


def _config(rule: dict[str, object]) -> TransparencyConfig:
    return TransparencyConfig(images={"routes": ["/gen/*"]}, disclosure={"routes": [{"path": "/gen/logo*", **rule}]})


def test_media_false_turns_marking_off_on_a_route() -> None:
    disclosure = Disclosure(_config({"media": False}))
    assert not disclosure.policy_for("/gen/logo.png").images and disclosure.policy_for("/gen/a.wav").images


def test_the_old_name_still_works_and_says_to_rename(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aiact_transparency.config"):
        config = _config({"images": False})
    assert config.disclosure.routes[0].media is False
    assert not Disclosure(config).policy_for("/gen/logo.png").images
    assert any("routes[].images (path /gen/logo*) is deprecated: rename it to routes[].media" in r.getMessage()
               for r in caplog.records)


def test_both_names_disagreeing_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text("disclosure:\n  routes:\n    - {path: /x, media: true, images: false}\n")
    with pytest.raises(ConfigError, match="keep only media"):
        load_config(path)
