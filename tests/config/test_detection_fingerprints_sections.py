"""The `detection:` and `fingerprints:` sections: parsed by TransparencyConfig, checked by load_config."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from aiact_transparency import ConfigError, load_config
from aiact_transparency.config import DetectionSettings, FingerprintSettings, TransparencyConfig
from aiact_transparency.detection import DetectionSettings as FromDetection
from aiact_transparency.fingerprints import FingerprintSettings as FromFingerprints


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_sections_default_and_re_exports() -> None:
    config = TransparencyConfig()
    assert config.detection == DetectionSettings() and config.detection.enabled
    assert config.fingerprints == FingerprintSettings() and not config.fingerprints.enabled
    assert config.fingerprints.store.startswith("sqlite:///") and config.fingerprints.store.endswith("fingerprints.db")
    assert FromDetection is DetectionSettings and FromFingerprints is FingerprintSettings


def test_sections_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "aiact.yaml", "detection: {path: /check, rate_limit: {per_client_per_minute: 5}}\n"
                 f"fingerprints: {{enabled: true, store: 'sqlite:///{tmp_path}/fp/f.db'}}\n")
    monkeypatch.setenv("AIACT_FINGERPRINTS__RETENTION_DAYS", "30")
    config = load_config(path)
    assert config.detection.path == "/check" and config.detection.rate_limit.per_client_per_minute == 5
    assert config.fingerprints.enabled and config.fingerprints.retention_days == 30


def test_bad_detection_path_names_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"detection\.path"):
        load_config(write(tmp_path / "aiact.yaml", "detection: {path: 'relative'}\n"))


def test_unreadable_trust_anchors(tmp_path: Path) -> None:
    path = write(tmp_path / "aiact.yaml", "detection: {trust_anchors: ./absent.pem}\n")
    with pytest.raises(ConfigError, match=r"detection\.trust_anchors: cannot read .*absent\.pem"):
        load_config(path)


def test_sqlite_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")  # a file where the store's folder would have to be
    path = write(tmp_path / "aiact.yaml", f"fingerprints: {{enabled: true, store: 'sqlite:///{tmp_path}/a-file/f.db'}}\n")
    with pytest.raises(ConfigError, match=r"fingerprints\.store: the folder .*a-file cannot hold"):
        load_config(path)


def test_sqlite_store_that_is_a_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "aiact.yaml", f"fingerprints: {{enabled: true, store: 'sqlite:///{tmp_path}'}}\n")
    with pytest.raises(ConfigError, match=r"fingerprints\.store: .* is a folder"):
        load_config(path)


def test_off_log_is_not_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "aiact.yaml", f"fingerprints: {{enabled: false, store: 'sqlite:///{tmp_path}'}}\n")
    assert not load_config(path).fingerprints.enabled


def test_postgres_without_psycopg_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pool(name: str, *args: Any, **kwargs: Any) -> Any:  # fault injection: the extra not installed
        if name.startswith("psycopg_pool"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pool)
    path = write(tmp_path / "aiact.yaml", "fingerprints: {enabled: true, store: 'postgresql://u@localhost/db'}\n")
    with pytest.raises(ImportError, match=r"aiact-transparency\[postgres\]"):
        load_config(path)


def test_default_store_is_the_user_data_dir_when_the_config_is_made(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("AIACT_FINGERPRINTS__ENABLED", "true")
    config = load_config()
    assert config.fingerprints.enabled
    assert config.fingerprints.store == f"sqlite:///{tmp_path / 'data' / 'aiact-transparency' / 'fingerprints.db'}"
