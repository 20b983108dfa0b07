"""mark_text / verify_text with real c2pa-python signing and validation (development chain in a tmp dir)."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from pathlib import Path

import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.c2pa.data_hash import read_store
from aiact_transparency.provenance.c2pa.manifest import TRAINED_ALGORITHMIC_MEDIA
from aiact_transparency.provenance.errors import SigningError
from aiact_transparency.provenance.text.c2pa_text import encode_wrapper, find_wrapper, strip_c2pa_text
from aiact_transparency.provenance.text.marking import (
    BINDING_BROKEN,
    NO_MANIFEST,
    VALID,
    TextMarker,
    mark_text,
    verify_text,
)

ANSWER = "The capital of France is Paris. Café au lait costs €3.50 near the Seine."
TEXTS = {
    "ascii": "Plain answer.",
    "emoji": "Sure 🙂👍🏽 here is the plan 🇪🇺 ☺️",
    "cjk": "東京は晴れ、気温は二十度です。",
    "rtl": "مرحبا بالعالم. שלום עולם.",
    "empty": "",
}


def long_answer(tokens: int = 2000) -> str:
    # Words stand in for tokens (a token is usually shorter than a word, so this errs on the long side).
    words = ("the", "model", "answers", "in", "plain", "words", "with", "numbers", "42", "and", "names", "like",
             "Zoë", "or", "北京", "too")
    return " ".join(words[i % len(words)] for i in range(tokens)) + "."


@pytest.fixture
def marker(config: TransparencyConfig) -> TextMarker:
    return TextMarker(config)


def test_mark_then_verify_reports_an_ai_generated_manifest(config: TransparencyConfig) -> None:
    marked = mark_text(ANSWER, config=config)
    assert marked.text.startswith(ANSWER) and strip_c2pa_text(marked.text) == ANSWER
    assert marked.report.c2pa is not None and marked.report.c2pa["development"] is True
    assert marked.report.wrapper_bytes == len(marked.text.encode()) - len(ANSWER.encode())
    result = verify_text(marked.text)
    assert result.status == VALID and result.valid and result.wrappers == 1
    manifest = result.manifest
    assert manifest is not None
    assert manifest.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert manifest.software_agent == "Acme Studio (acme/studio-xl)"
    assert (manifest.claim_generator or "").startswith("aiact-transparency/")
    assert "org.aiact-transparency.ai-disclosure" in manifest.assertion_labels
    # A development chain is reported as untrusted, never hidden.
    assert not manifest.trusted and "NOT on a trust list" in result.based_on
    assert any("does not chain to a trusted root" in n for n in result.notes)


def test_binding_is_a_data_hash_over_the_text_excluding_exactly_the_wrapper(config: TransparencyConfig) -> None:
    marked = mark_text(ANSWER, config=config)
    wrapper = find_wrapper(marked.text)
    assert wrapper is not None and wrapper.store is not None
    body = ANSWER.encode("utf-8")
    report, binding = read_store(marked.text.encode("utf-8"), wrapper.store)
    assert binding["exclusions"] == [{"start": len(body), "length": len(marked.text.encode("utf-8")) - len(body)}]
    # The hash is over the bytes outside the exclusion, i.e. the text alone, and c2pa recomputed it.
    assert binding["alg"] == "sha256" and base64.b64decode(binding["hash"]) == hashlib.sha256(body).digest()
    codes = {s["code"] for s in report["validation_results"]["activeManifest"]["success"]}
    assert "assertion.dataHash.match" in codes


def test_trusted_when_the_development_root_is_a_trust_anchor(config: TransparencyConfig) -> None:
    marked = mark_text(ANSWER, config=config)
    chain = keys.default_signer().certificate_chain_pem
    root = chain.split(b"-----END CERTIFICATE-----\n", 1)[1]
    result = verify_text(marked.text, trust_anchors_pem=root)
    assert result.status == VALID and result.manifest is not None and result.manifest.trusted


@pytest.mark.parametrize(("old", "new"), [("Paris", "Lyon!"), ("Paris", "Pariz"), ("€", "$"), ("Café", "Cafe")])
def test_one_edit_breaks_the_binding(config: TransparencyConfig, old: str, new: str) -> None:
    marked = mark_text(ANSWER, config=config)
    edited = marked.text.replace(old, new, 1)
    result = verify_text(edited)
    assert result.status == BINDING_BROKEN == "manifest present, binding broken"
    assert result.found and not result.valid


def test_text_appended_after_the_wrapper_breaks_the_binding(config: TransparencyConfig) -> None:
    result = verify_text(mark_text(ANSWER, config=config).text + " (edited)")
    assert result.status == BINDING_BROKEN


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_scripts_and_the_empty_string_round_trip(config: TransparencyConfig, name: str) -> None:
    marked = mark_text(TEXTS[name], config=config)
    assert strip_c2pa_text(marked.text) == TEXTS[name]
    assert verify_text(marked.text).status == VALID


def test_a_2000_token_answer(config: TransparencyConfig) -> None:
    text = long_answer()
    marked = mark_text(text, config=config)
    assert verify_text(marked.text).status == VALID
    assert verify_text(marked.text.replace("Zoë", "Zoe", 1)).status == BINDING_BROKEN


def test_nfd_input_is_marked_in_its_nfc_form(config: TransparencyConfig) -> None:
    nfd = unicodedata.normalize("NFD", ANSWER)
    assert nfd != ANSWER
    marked = mark_text(nfd, config=config)
    assert marked.report.normalized and strip_c2pa_text(marked.text) == ANSWER
    assert verify_text(marked.text).status == VALID


def test_marked_text_converted_to_nfd_still_verifies_with_a_note(config: TransparencyConfig) -> None:
    marked = mark_text(ANSWER, config=config)
    converted = unicodedata.normalize("NFD", marked.text)
    result = verify_text(converted)
    assert result.status == VALID and any("not NFC" in n for n in result.notes)


def test_marking_twice_is_idempotent(marker: TextMarker) -> None:
    once = marker.mark(ANSWER)
    twice = marker.mark(once.text)
    assert twice.report.already_marked and twice.text == once.text


def test_another_system_on_the_same_signing_chain_is_not_already_marked(config: TransparencyConfig) -> None:
    # Every system on the development chain (or on one company's certificate) shares the signer: the text of
    # "Other Chat" must be marked again by us, its manifest kept as an ingredient, not passed on as ours.
    other = TextMarker(config.model_copy(update={"system": config.system.model_copy(update={"name": "Other Chat"})}))
    theirs = other.mark(ANSWER)
    ours = TextMarker(config).mark(theirs.text)
    assert not ours.report.already_marked and ours.text != theirs.text
    assert any("kept as an ingredient" in n for n in ours.report.notes)
    assert verify_text(ours.text).manifest.disclosed_system == config.system.name  # type: ignore[union-attr]


def test_two_wrappers_verify_as_no_manifest_and_marking_replaces_both(marker: TextMarker) -> None:
    first, second = marker.mark("Part one."), marker.mark(" Part two.")
    joined = first.text + second.text
    result = verify_text(joined)
    assert result.status == NO_MANIFEST and result.wrappers == 2 and not result.found
    assert "exactly one" in result.based_on
    remarked = marker.mark(joined)
    assert strip_c2pa_text(remarked.text) == "Part one. Part two."
    assert any("removed" in n for n in remarked.report.notes)
    assert verify_text(remarked.text).status == VALID


def test_a_truncated_wrapper_verifies_as_no_manifest_and_is_replaced(marker: TextMarker) -> None:
    marked = marker.mark(ANSWER)
    truncated = marked.text[: len(ANSWER) + 400]
    result = verify_text(truncated)
    assert result.status == NO_MANIFEST and result.damaged_wrappers == 1 and "truncated" in result.based_on
    remarked = marker.mark(truncated)
    assert strip_c2pa_text(remarked.text) == ANSWER and verify_text(remarked.text).status == VALID
    assert any("damaged" in n for n in remarked.report.notes)


def test_a_wrapper_without_a_manifest_store_is_no_manifest(marker: TextMarker) -> None:
    text = ANSWER + encode_wrapper(b"not a JUMBF manifest store")
    result = verify_text(text)
    assert result.status == NO_MANIFEST and "no readable manifest store" in result.based_on
    assert verify_text(marker.mark(text).text).status == VALID


def test_a_foreign_manifest_is_kept_as_an_ingredient(config: TransparencyConfig, tmp_path: Path) -> None:
    other = TextMarker(config, signer=keys.development_signer(tmp_path / "other-keys"))
    foreign = other.mark(ANSWER)
    ours = TextMarker(config).mark(foreign.text)
    assert not ours.report.already_marked
    assert any("kept as an ingredient" in n for n in ours.report.notes)
    assert strip_c2pa_text(ours.text) == ANSWER
    wrapper = find_wrapper(ours.text)
    assert wrapper is not None and wrapper.store is not None
    report, _ = read_store(ours.text.encode(), wrapper.store)
    assert len(report["manifests"]) == 2
    active = report["manifests"][report["active_manifest"]]
    assert [i["relationship"] for i in active["ingredients"]] == ["componentOf"]
    assert verify_text(ours.text).status == VALID


def test_an_edited_marked_text_is_re_marked_with_the_old_manifest_as_ingredient(marker: TextMarker) -> None:
    edited = marker.mark(ANSWER).text.replace("Paris", "Rome", 1)
    remarked = marker.mark(edited)
    assert any("binding broken" in n and "ingredient" in n for n in remarked.report.notes)
    assert verify_text(remarked.text).status == VALID


class _WrongKeySigner:
    """Fault injection: signs with a key that does not belong to its certificate."""

    def __init__(self, real: keys.LocalKeySigner, other: keys.LocalKeySigner) -> None:
        self.alg, self.certificate_chain_pem, self.tsa_url = real.alg, real.certificate_chain_pem, None
        self._other = other

    def sign(self, data: bytes) -> bytes:
        return self._other.sign(data)


def test_a_signer_failure_is_a_signing_error(config: TransparencyConfig, tmp_path: Path) -> None:
    bad = _WrongKeySigner(keys.default_signer(), keys.development_signer(tmp_path / "other"))
    with pytest.raises(SigningError, match="does not verify against its certificate"):
        TextMarker(config, signer=bad).mark(ANSWER)


def test_plain_text_verifies_as_no_manifest() -> None:
    result = verify_text(ANSWER)
    assert result.status == NO_MANIFEST and result.based_on == "no C2PA text wrapper"
    assert result.to_dict()["found"] is False


def test_unpaired_surrogates_are_a_clear_error_not_a_crash(marker: TextMarker) -> None:
    broken = "half an emoji \ud83d here"
    with pytest.raises(ValueError, match=r"unpaired surrogate \(U\+D83D\).*Fix:"):
        marker.mark(broken)
    result = verify_text(marker.mark(ANSWER).text + broken)
    assert result.status == NO_MANIFEST and "unpaired surrogate" in result.based_on
