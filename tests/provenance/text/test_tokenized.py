"""Scoring submitted text with the deployer's tokenizer.json: generated ids -> text -> re-tokenized -> verdict."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency.provenance.text.tokenized import TokenizerError, detect_text, load_tokenizer, text_token_ids

from .synthetic import CORPUS, bigram_model, sample, tokenizer_json

KEY = "tokenized-key-0123456789abcdef"


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tokenizer.json"
    path.write_text(tokenizer_json(), encoding="utf-8")
    return path


def test_generated_text_is_detected_after_decoding_and_retokenizing(tokenizer_file: Path) -> None:
    tokenizer = load_tokenizer(tokenizer_file)
    ids = sample(bigram_model(), 20, 300, np.random.default_rng(4), key=KEY)
    texts = [tokenizer.decode(row.tolist()) for row in ids]
    # The round trip is not the identity (the model samples splits the tokenizer would not make): the test
    # covers real re-tokenization, not a copy of the generated ids.
    assert any(text_token_ids(t, tokenizer) != row.tolist() for t, row in zip(texts, ids, strict=True))
    reports = [detect_text(t, key=KEY, tokenizer=tokenizer_file) for t in texts]
    assert sum(r.verdict == "watermarked" for r in reports) >= 19
    assert all(r.verdict != "watermarked" for t in texts for r in [detect_text(t, key="other-0123456789abcdef",
                                                                              tokenizer=tokenizer)])


def test_human_text_is_not_detected_and_short_text_is_too_short(tokenizer_file: Path) -> None:
    verses = CORPUS.read_text(encoding="utf-8").splitlines()
    human = " ".join(verses[100:130])
    report = detect_text(human, key=KEY, tokenizer=tokenizer_file)
    assert report.tokens >= 200 and report.verdict == "not-detected"
    short = detect_text(" ".join(verses[:3]), key=KEY, tokenizer=tokenizer_file)
    assert short.tokens < 200 and short.verdict == "too-short"


def test_tokenizer_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"cannot read the tokenizer.*Fix"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(TokenizerError, match="is not a file"):
        load_tokenizer(tmp_path)
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"not": "a tokenizer"}', encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"not a Hugging Face tokenizer\.json.*Fix"):
        load_tokenizer(bad)


def test_tokenizer_is_reloaded_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(tokenizer_json(), encoding="utf-8")
    first = load_tokenizer(path)
    assert load_tokenizer(path) is first
    path.write_text(tokenizer_json() + "\n", encoding="utf-8")
    assert load_tokenizer(path) is not first


def test_text_input_is_checked(tokenizer_file: Path) -> None:
    with pytest.raises(TypeError, match="must be str"):
        detect_text(b"bytes", key=KEY, tokenizer=tokenizer_file)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most"):
        detect_text("a" * 1_000_001, key=KEY, tokenizer=tokenizer_file)


def test_missing_tokenizers_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(tokenizer_json(), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"aiact-transparency\[text\]"):
        load_tokenizer(path)
