"""Text fingerprints (issue 14 item 4): MinHash over word shingles, stored with the band index on SQLite and
PostgreSQL, found again in lightly edited copies, and never in unrelated passages."""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import numpy as np
import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.config import FingerprintSettings
from aiact_transparency.detection.local import Detector
from aiact_transparency.detection.output_log import UNRELATED_TEST_PASSAGES, StoreIndex
from aiact_transparency.fingerprints import FingerprintStore
from aiact_transparency.fingerprints.lookup import lookup_text
from aiact_transparency.fingerprints.minhash import (
    MATCH_SIMILARITY,
    MIN_WORDS,
    SHINGLE_WORDS,
    band_keys,
    normalised_words,
    similarity,
    text_signature,
)
from aiact_transparency.fingerprints.record import text_record_for
from aiact_transparency.provenance.text.c2pa_text import MARKER, strip_c2pa_text

from ..detection.test_text_chat import app_sending
from ..tools import http_scope, run_app
from .passages import unrelated_passages


def shingles(text: str) -> set[tuple[str, ...]]:
    words = normalised_words(text)
    return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def edited(text: str, changes: int, seed: int) -> str:
    """`changes` words replaced by others, and the spacing redone: what a light copy-edit does."""
    rng = random.Random(seed)
    words = text.split()
    for n in rng.sample(range(len(words)), changes):
        words[n] = rng.choice(["indeed", "however", "notably", "perhaps", "clearly", "often"])
    return "\n  ".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "\n"


def stored(store: FingerprintStore, texts: list[str]) -> None:
    records = [text_record_for(t, signature=text_signature(t), route="/v1/chat") for t in texts]
    assert all(r.kind == "minhash" for r in records)
    store.add_many(records)


def test_the_estimate_follows_the_exact_jaccard_similarity() -> None:
    base = unrelated_passages(20)
    for n, passage in enumerate(base):
        for changes in (0, 5, 20, 60):
            copy = edited(passage, changes, n)
            a, b = shingles(passage), shingles(copy)
            exact = len(a & b) / len(a | b)
            sa, sb = text_signature(passage), text_signature(copy)
            assert sa is not None and sb is not None
            # 128 minima: standard deviation <= 0.045; 5 of them is a bound that a correct estimator never misses.
            assert abs(similarity(sa.digest, sb.digest) - exact) < 0.23


def test_normalisation_ignores_spacing_case_compatibility_forms_and_the_wrapper() -> None:
    passage = unrelated_passages(1)[0]
    variants = [
        "  " + passage.replace(" ", "\n\t "),
        passage.upper(),
        passage.replace("fi", "\ufb01"),  # the "fi" ligature: NFKC folds it back
        passage.replace("a", "\uff41"),  # fullwidth a
        passage + MARKER + "\ufe00\ufe01\U000e0100",  # a (damaged) C2PA text wrapper
    ]
    digest = text_signature(passage).digest  # type: ignore[union-attr]
    for variant in variants:
        assert text_signature(variant).digest == digest  # type: ignore[union-attr]


def test_short_texts_are_logged_by_sha256_only() -> None:
    words = normalised_words(unrelated_passages(1)[0])
    short = " ".join(words[: MIN_WORDS - 1])
    record = text_record_for(short, signature=text_signature(short))
    assert (record.kind, record.perceptual, record.media_type) == ("none", None, "text/plain")
    long = " ".join(words[:MIN_WORDS])
    assert text_record_for(long, signature=text_signature(long)).kind == "minhash"


def test_band_keys_are_distinct_per_band() -> None:
    digest = bytes(512)  # every band holds the same values: the band number must still tell them apart
    assert len(set(band_keys(digest))) == 32


def test_lightly_edited_copies_are_found(store: FingerprintStore) -> None:
    texts = list(unrelated_passages(40))
    stored(store, texts)
    for n, text in enumerate(texts[:20]):
        copy = edited(text, 5, n)
        answer = lookup_text(store, copy, limit=3)
        assert answer.searched == ("sha256", "text")
        best = answer.matches[0]
        assert best.record.sha256 == text_record_for(text, signature=None).sha256
        assert best.by == "text" and best.similarity is not None and best.similarity >= MATCH_SIMILARITY
        assert [m.record.sha256 for m in answer.matches[1:]] == []  # nothing unrelated comes along
    exact = lookup_text(store, texts[0])
    assert exact.matches[0].by == "sha256"


def test_unrelated_passages_give_no_false_matches(store: FingerprintStore) -> None:
    passages = list(unrelated_passages(UNRELATED_TEST_PASSAGES))
    stored(store, passages)
    signatures = [text_signature(p) for p in passages]
    candidates = 0
    for n, signature in enumerate(signatures):
        assert signature is not None
        found = store.similar_texts(signature.digest, min_similarity=0.01, limit=5)
        others = [m.similarity or 0.0 for m in found if m.record.sha256 != text_record_for(passages[n],
                                                                                         signature=None).sha256]
        candidates += len(others)
        assert all(s < MATCH_SIMILARITY for s in others), n
    # Beyond what the band index lets through: every pair's estimate, so the margin below the threshold shows.
    minima = np.frombuffer(b"".join(s.digest for s in signatures if s is not None), ">u4").reshape(len(passages), -1)
    closest = max(float(np.mean(minima[n + 1 :] == minima[n], axis=1).max()) for n in range(len(passages) - 1))
    print(f"text false matches: 0 of {len(passages)} unrelated passages, each against the other "
          f"{len(passages) - 1}; {candidates} band candidates; closest similarity of any pair {closest:.2f}, "
          f"threshold {MATCH_SIMILARITY}")
    assert closest < MATCH_SIMILARITY
    assert len(passages) >= 1000  # the figure the detector reports rests on it


def test_purge_removes_text_records_and_their_bands(store: FingerprintStore) -> None:
    texts = list(unrelated_passages(3))
    stored(store, texts)
    assert store._query("SELECT COUNT(*) FROM fp_text_bands", ()) == [(96,)]
    assert store.purge(time.time() + 10) == 3
    assert store._query("SELECT COUNT(*) FROM fp_text_bands", ()) == [(0,)]
    assert lookup_text(store, edited(texts[0], 3, 0)).matches == ()


def test_a_marked_text_answer_is_found_after_the_wrapper_is_stripped_and_edited(tmp_path: Path) -> None:
    answer = unrelated_passages(60)[-1]
    settings = FingerprintSettings(enabled=True, store=f"sqlite:///{tmp_path}/fp.db", flush_interval=0.05)
    config = TransparencyConfig(system={"name": "Acme Chat", "provider": "Acme GmbH"},
                                disclosure={"routes": [{"path": "/v1/*", "text": "c2pa"}]},
                                fingerprints=settings)
    middleware = TransparencyMiddleware(app_sending(b"text/plain; charset=utf-8", [answer.encode()]), config=config)
    try:
        sent = anyio.run(run_app, middleware, http_scope("/v1/answer"))
        served = b"".join(m.get("body", b"") for m in sent[1:]).decode()
        assert MARKER in served
        assert middleware.output_log is not None and middleware.output_log.flush()
        detector = Detector(config, fingerprints=StoreIndex(middleware.output_log.store, settings))
        copy = edited(strip_c2pa_text(served), 5, 1)
        result = detector.detect_text(copy)
        assert result.verdict == "generated-by-this-system"
        assert result.based_on == ["fingerprint"]
        layer = result.layers["fingerprint"]
        assert layer["algorithm"] == "minhash" and layer["similarity"] >= MATCH_SIMILARITY
        assert layer["record"]["route"] == "/v1/answer" and "text fingerprint" in layer["based_on"]
        assert layer["false_match_rate"] == pytest.approx(3 / UNRELATED_TEST_PASSAGES)
        assert result.layers["c2pa"]["found"] is False
        assert result.explanation.endswith("that is the text fingerprint (MinHash of its words) in this system's log")
        signed = detector.detect_text(served)  # as served: the wrapper (and the exact SHA-256) decide
        assert "the C2PA text manifest" in signed.explanation
        unrelated = detector.detect_text(unrelated_passages(60)[0])
        assert unrelated.verdict == "not-detected"
    finally:
        middleware.close()


def test_repeated_shingles_count_once() -> None:
    # The signature is of the shingle set: a text repeated adds only the shingles across the seam.
    passage = unrelated_passages(1)[0]
    once = text_signature(passage)
    twice = text_signature(passage + " " + passage)
    assert once is not None and twice is not None
    assert np.mean(np.frombuffer(once.digest, ">u4") == np.frombuffer(twice.digest, ">u4")) > 0.9
