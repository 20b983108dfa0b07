"""The `fingerprints:` config section: defaults, limits, and clear errors for bad store URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiact_transparency.fingerprints import FingerprintSettings, open_store


def test_defaults_are_off_with_a_sqlite_file_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: object) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = FingerprintSettings()
    assert (settings.enabled, settings.retention_days, settings.max_distance, settings.dihedral) == (
        False, 365, 31, True)
    assert settings.store == f"sqlite:///{tmp_path}/aiact-transparency/fingerprints.db"
    assert settings.describe() == {"enabled": False, "engine": "sqlite", "retention_days": 365}


@pytest.mark.parametrize(("store", "message"), [
    ("mysql://db/fp", "must be sqlite:///path/to/fingerprints.db or postgresql://"),
    ("sqlite:///", "needs a file path"),
    ("sqlite://relative.db", "must be sqlite:///"),
])
def test_bad_store_urls_name_the_fix(store: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FingerprintSettings(store=store)


@pytest.mark.parametrize("field", [{"retention_days": 0}, {"max_distance": 32}, {"queue_size": 0},
                                   {"memory_index_mb": -1}, {"unknown": 1}])
def test_out_of_range_and_unknown_fields_are_refused(field: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        FingerprintSettings(**field)  # type: ignore[arg-type]


@pytest.mark.parametrize("megabytes", [1, 24, 31])
def test_an_index_too_small_to_hold_hashes_is_refused_with_the_fix(megabytes: int) -> None:
    with pytest.raises(ValidationError, match=r"below the read index's fixed cost .* set it to 0 .* at least 32"):
        FingerprintSettings(memory_index_mb=megabytes)


def test_the_smallest_index_accepted_holds_hashes() -> None:
    from aiact_transparency.config.fingerprints import MIN_INDEX_MB
    from aiact_transparency.fingerprints.read_index import ReadIndex

    assert FingerprintSettings(memory_index_mb=MIN_INDEX_MB).memory_index_mb == MIN_INDEX_MB
    assert ReadIndex.bytes_for(50_000) <= MIN_INDEX_MB * 2**20  # room for 50,000 hashes at the least


def test_discovery_never_shows_the_connection_string() -> None:
    settings = FingerprintSettings(enabled=True, store="postgresql://app:s3cret@db.internal/fp")
    assert settings.describe() == {"enabled": True, "engine": "postgresql", "retention_days": 365}
    assert "s3cret" not in str(settings.describe())


def test_a_valid_sqlite_setting_opens(tmp_path: object) -> None:
    settings = FingerprintSettings(store=f"sqlite:///{tmp_path}/sub/dir/fp.db")
    with open_store(settings.store) as store:
        assert store.stats().records == 0


def test_the_read_index_bound_reaches_the_store(tmp_path: object) -> None:
    from aiact_transparency.fingerprints.outputs import OutputLog

    settings = FingerprintSettings(enabled=True, store=f"sqlite:///{tmp_path}/fp.db", memory_index_mb=64)
    assert settings.store_options() == {"lookup_threads": 2, "memory_index_mb": 64}
    log = OutputLog(settings)
    try:
        assert log.store.read_index.max_bytes == 64 * 2**20
    finally:
        log.close()
    with open_store(settings.store, **FingerprintSettings(memory_index_mb=0).store_options()) as store:
        assert store.read_index.disabled  # 0: every lookup answered by SQL
