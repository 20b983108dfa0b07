"""Config error messages: where, what, how to fix, and which variable sets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiact_transparency import ConfigError, load_config

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


def test_config_error_names_a_settable_environment_variable_for_list_items(tmp_path: Path) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text("disclosure:\n  routes:\n    - path: nope\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "disclosure.routes[0].path" in message
    # A list item cannot be set on its own from the environment: the variable is the whole list.
    assert "AIACT_DISCLOSURE__ROUTES__PATH" not in message
    assert "AIACT_DISCLOSURE__ROUTES]" in message
