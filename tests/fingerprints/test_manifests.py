"""The manifest stores kept beside the fingerprints (issue 18), on SQLite and PostgreSQL: batched puts that keep
the first store of an id, presence checks, a paged export, the retention purge; the writer and the output log
keep a marked output's real signed store under its record's time."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import c2pa
import pytest

from aiact_transparency import TransparencyConfig, mark_image
from aiact_transparency.cli import main
from aiact_transparency.config import FingerprintSettings
from aiact_transparency.fingerprints import FingerprintStore, FingerprintWriter, ManifestEntry, open_store
from aiact_transparency.fingerprints.audit import export_manifests_jsonl
from aiact_transparency.fingerprints.manifests import MAX_STORE_BYTES, manifest_entry_of
from aiact_transparency.fingerprints.outputs import OutputLog
from aiact_transparency.provenance.image.marker import MarkedImage

from ..wired.flows import photo_png


@pytest.fixture(scope="module")
def marked() -> MarkedImage:
    return mark_image(photo_png(), config=TransparencyConfig(system={"name": "Acme Studio"}))


def entries(n: int, created_at: float = 1000.0) -> list[ManifestEntry]:
    return [ManifestEntry(f"urn:c2pa:{i:04d}", f"store {i}".encode(), created_at + i) for i in range(n)]


def test_puts_keep_the_first_store_and_report_presence(store: FingerprintStore) -> None:
    assert store.put_manifests(entries(3)) == 3
    assert store.put_manifests([ManifestEntry("urn:c2pa:0001", b"a different store", 5.0)]) == 1
    assert store.get_manifest("urn:c2pa:0001") == b"store 1"
    assert store.kept_manifests(["urn:c2pa:0000", "urn:c2pa:0002", "urn:c2pa:9999"]) == {"urn:c2pa:0000",
                                                                                      "urn:c2pa:0002"}
    assert store.kept_manifests([]) == set() and store.stats().manifests == 3


def test_export_pages_through_a_time_range_and_purge_deletes_by_age(store: FingerprintStore) -> None:
    store.put_manifests(entries(250))  # more than one export page (100)
    exported = list(store.export_manifests())
    assert [e.manifest_id for e in exported] == [f"urn:c2pa:{i:04d}" for i in range(250)]
    assert [e.manifest_id for e in store.export_manifests(since=1100.0, until=1103.0)] == [
        "urn:c2pa:0100", "urn:c2pa:0101", "urn:c2pa:0102"]
    line = json.loads(next(export_manifests_jsonl(store)))
    assert base64.b64decode(line["store"]) == b"store 0" and line["created_at"] == "1970-01-01T00:16:40Z"
    store.purge(older_than=1200.0)
    assert store.stats().manifests == 50 and store.get_manifest("urn:c2pa:0199") is None


def test_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="manifest_id"):
        ManifestEntry("", b"x")
    with pytest.raises(ValueError, match="manifest store"):
        ManifestEntry("urn:c2pa:x", b"")
    with pytest.raises(ValueError, match="manifest store"):
        ManifestEntry("urn:c2pa:x", b"x" * (MAX_STORE_BYTES + 1))


def test_writer_batches_manifests_with_records(store: FingerprintStore) -> None:
    writer = FingerprintWriter(store, flush_interval=0.01)
    try:
        for entry in entries(5):
            assert writer.submit(entry)
        assert writer.flush()
    finally:
        writer.close()
    counters = writer.counters
    assert counters.manifests_written == 5 and counters.written == 0 and counters.submitted == 0
    assert store.stats().manifests == 5


def test_output_log_keeps_the_signed_store_of_a_marked_output(tmp_path: Path, marked: MarkedImage) -> None:
    assert marked.report.manifest_store is not None and "manifest_store" not in marked.report.to_dict()
    settings = FingerprintSettings(enabled=True, store=f"sqlite:///{tmp_path / 'fp.db'}", flush_interval=0.05)
    log = OutputLog(settings)
    log.submit(marked, "/generate")
    assert log.flush()
    (record,) = list(log.store.export())
    (entry,) = list(log.store.export_manifests())
    log.close()
    assert entry.manifest_id == record.manifest_id == marked.report.manifest_id
    assert entry.created_at == record.created_at  # one retention for both
    # The kept store is the one embedded in the output: c2pa validates it against the output's bytes.
    with c2pa.Reader("image/png", io.BytesIO(marked.data), entry.store) as reader:
        report = json.loads(reader.json())
    assert report["active_manifest"] == record.manifest_id and report["validation_state"] == "Valid"


def test_an_output_without_a_store_keeps_none(marked: MarkedImage) -> None:
    assert manifest_entry_of(object(), 1.0) is None
    entry = manifest_entry_of(marked.report, 2.0)
    assert entry is not None and entry.created_at == 2.0


def test_cli_exports_the_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'fp.db'}"
    with open_store(url) as opened:
        opened.put_manifests(entries(2))
    config = tmp_path / "aiact.yaml"
    config.write_text(f"fingerprints: {{enabled: true, store: '{url}'}}\n")
    assert main(["fingerprints", "export", "--manifests", "--config", str(config)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["manifest_id"] for line in lines] == ["urn:c2pa:0000", "urn:c2pa:0001"]
