"""System tools the tests use: a missing one fails in CI (which installs it) and skips locally."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """A system tool the test needs: in CI its absence is a failure (CI installs it), locally a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run must install it")
        pytest.skip(f"{name} is not installed")
    return path
