"""docs/soft-binding.md shows the registry entries the API serves: the same algorithm ids and descriptions (the
doc is what goes into the C2PA registration pull request, so it must not drift from algorithms.py)."""

from __future__ import annotations

from pathlib import Path

from aiact_transparency.detection.soft_binding.algorithms import ENTRIES

DOC = Path(__file__).resolve().parents[3] / "docs" / "soft-binding.md"


def test_every_served_entry_is_in_the_doc_word_for_word() -> None:
    text = DOC.read_text(encoding="utf-8")
    for entry in ENTRIES:
        assert f"`{entry['alg']}`" in text, entry["alg"]
        assert entry["entryMetadata"]["description"] in text, entry["alg"]
