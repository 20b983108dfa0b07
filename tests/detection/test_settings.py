"""The detection config section: defaults as the issue gives them, errors that name the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiact_transparency.detection import DetectionSettings


def test_defaults_are_the_issues() -> None:
    settings = DetectionSettings()
    assert settings.enabled and settings.path == "/.well-known/ai-disclosure/detect"
    assert settings.max_bytes == 33554432 and settings.rate_limit.per_client_per_minute == 60


@pytest.mark.parametrize("path", ["detect", "/", "//evil.example/x", "/a b", "/detect/*"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="absolute URL path"):
        DetectionSettings(path=path)


@pytest.mark.parametrize("url", ["ftp://x/y", "https://a b/", "https://x.example/\r\nSet-Cookie: a", "x"])
def test_bad_public_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="absolute http"):
        DetectionSettings(public_url=url)


def test_unknown_keys_and_bad_limits_are_refused() -> None:
    with pytest.raises(ValidationError):
        DetectionSettings(max_byte=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DetectionSettings(rate_limit={"per_client_per_minute": 0})  # type: ignore[arg-type]
