"""mark_text / verify_text: a signed C2PA manifest carried by generated text as the A.8 wrapper.

The manifest says c2pa.created + trainedAlgorithmicMedia, names the system and model as softwareAgent and
carries the model-card facts; it is signed by the signer images use (signer_for). Its hard binding is a
`c2pa.hash.data` over the NFC-normalised UTF-8 text, excluding exactly the wrapper appended after it.
The wrapper is invisible characters: opt-in, and removable with strip_c2pa_text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ...config.modelcard import ModelFacts
from ..c2pa import C2paError
from ..c2pa.data_hash import data_hash, read_store, sign_store
from ..c2pa.manifest import C2paSigningError, build_manifest
from ..c2pa.reading import ManifestReport, is_marked_by_system, report_from_store
from ..errors import SigningError
from ..keys import ManifestSigner
from ..maker import maker_for
from .c2pa_text import Wrapper, WrapperScan, encode_wrapper, scan_wrappers, strip_c2pa_text, wrapper_length

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["MarkedText", "TextMarkReport", "TextMarker", "TextVerification", "mark_text", "verify_text"]

NO_MANIFEST = "no manifest"
BINDING_BROKEN = "manifest present, binding broken"
INVALID = "manifest present, not valid"
VALID = "valid"


@dataclass(frozen=True)
class TextMarkReport:
    already_marked: bool = False
    normalized: bool = False  # the input was not NFC; the output is its NFC form
    c2pa: dict[str, Any] | None = None  # the signer's identity
    wrapper_bytes: int = 0  # UTF-8 bytes the wrapper adds
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MarkedText:
    text: str
    report: TextMarkReport


@dataclass(frozen=True)
class TextVerification:
    status: str  # NO_MANIFEST, BINDING_BROKEN, INVALID or VALID
    based_on: str
    manifest: ManifestReport | None = None
    wrappers: int = 0  # wrappers that decode
    damaged_wrappers: int = 0
    notes: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.manifest is not None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(found=self.found, valid=self.valid)
        return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_problem(text: str) -> str | None:
    # A str may hold unpaired surrogates (e.g. from a bad JSON escape); they have no UTF-8 form to hash.
    found = _SURROGATE.search(text)
    return None if found is None else f"the text holds an unpaired surrogate (U+{ord(found.group()):04X}) at " \
        f"index {found.start()}, which has no UTF-8 form"


def _scan_notes(scan: WrapperScan) -> list[str]:
    notes = [f"damaged C2PA text wrapper at byte {w.start}: {w.problem}" for w in scan.damaged]
    if len(scan.wrappers) > 1:
        notes.append(f"{len(scan.wrappers)} C2PA text wrappers: A.8 allows exactly one, so none is the text's manifest")
    return notes


def _check(nfc: str, wrapper: Wrapper, trust_anchors_pem: bytes | None
           ) -> tuple[str, ManifestReport, dict[str, Any]]:
    assert wrapper.store is not None
    report, binding = read_store(nfc.encode("utf-8"), wrapper.store, trust_anchors_pem=trust_anchors_pem)
    manifest = report_from_store(report)
    spans = [(e.get("start"), e.get("length")) for e in binding.get("exclusions") or []]
    if spans != [(wrapper.start, wrapper.length)]:
        reason = (f"the hard binding's exclusion {spans} is not the wrapper's span "
                  f"{[(wrapper.start, wrapper.length)]}: the text before the wrapper changed length")
        manifest = ManifestReport(**{**manifest.to_dict(), "valid": False, "hard_binding_intact": False,
                                     "reason": reason, "errors": (*manifest.errors, reason)})
    if manifest.hard_binding_intact is False:
        return BINDING_BROKEN, manifest, report
    return (VALID if manifest.valid else INVALID), manifest, report


def verify_text(text: str, *, trust_anchors_pem: bytes | None = None) -> TextVerification:
    """Check a text's C2PA wrapper: exactly one, its signature, and its hard binding over the NFC text."""
    problem = _surrogate_problem(text)
    if problem is not None:
        return TextVerification(NO_MANIFEST, f"{problem}: no C2PA text binding can apply")
    nfc = unicodedata.normalize("NFC", text)
    # NFC never touches U+FEFF or variation selectors, so the wrapper survives normalisation unchanged.
    notes = ["the text was not NFC: its NFC form was checked, as A.8 hashes it"] if nfc != text else []
    scan = scan_wrappers(nfc)
    notes += _scan_notes(scan)
    counts = (len(scan.wrappers), len(scan.damaged))
    wrapper = scan.single
    if wrapper is None:
        based_on = "no C2PA text wrapper" if not scan.wrappers and not scan.damaged else "; ".join(notes)
        return TextVerification(NO_MANIFEST, based_on, None, *counts, notes=tuple(notes))
    try:
        status, manifest, _ = _check(nfc, wrapper, trust_anchors_pem)
    except (C2paError, ValueError) as exc:
        return TextVerification(NO_MANIFEST, f"the C2PA text wrapper holds no readable manifest store: {exc}",
                                None, *counts, notes=tuple(notes))
    trust = "trusted signer" if manifest.trusted else "signer NOT on a trust list (e.g. a development chain)"
    basis = {VALID: f"C2PA text manifest, signature and hard binding over the NFC text checked; {trust}",
             BINDING_BROKEN: f"C2PA text manifest present, but the text changed after signing: {manifest.reason}",
             INVALID: f"C2PA text manifest present, not valid: {manifest.reason}"}[status]
    return TextVerification(status, basis, manifest, *counts, notes=tuple([*notes, *manifest.notes]))


class TextMarker:
    """Everything constant derived once from the config (signer, manifest template); `mark` per text.

    Thread-safe: `mark` only reads the instance, apart from the store size it learns on first use.
    """

    def __init__(self, config: TransparencyConfig, *, signer: ManifestSigner | None = None,
                 facts: ModelFacts | None = None) -> None:
        maker = maker_for(config, signs=True, signer=signer, facts=facts)
        assert maker.signer is not None and maker.identity is not None  # signs=True always loads one
        self.signer, self.identity, self.system_name = maker.signer, maker.identity, config.system.name
        self.manifest = build_manifest(software_agent=maker.software_agent, model_facts=maker.disclosure)
        self._store_len = 0  # learnt from the first signature; constant for one marker (see data_hash)

    def mark(self, text: str) -> MarkedText:
        problem = _surrogate_problem(text)
        if problem is not None:
            raise ValueError(f"cannot mark the text: {problem}. Fix: decode the model output as UTF-8 "
                             "(or replace the surrogate with U+FFFD) before marking it.")
        nfc = unicodedata.normalize("NFC", text)
        normalized = nfc != text
        notes = ["the text was normalised to NFC (A.8 binds the NFC form)"] if normalized else []
        scan = scan_wrappers(nfc)
        ingredient = None
        if scan.wrappers or scan.damaged:
            notes += _scan_notes(scan)
            wrapper = scan.single
            if wrapper is not None:
                status, manifest, report = self._existing(nfc, wrapper)
                ours = manifest is not None and is_marked_by_system(manifest, self.identity, self.system_name)
                if ours and status == VALID:
                    # Idempotent: the same output may pass twice. Only a valid manifest of THIS system counts,
                    # not one of another system that shares the signing chain (the development chain, say).
                    return MarkedText(nfc, TextMarkReport(already_marked=True, normalized=normalized,
                                                          notes=tuple(notes)))
                if manifest is not None and wrapper.store is not None:
                    ingredient = (wrapper.store, report.get("validation_results") or {})
                    notes.append(f"existing C2PA text manifest ({manifest.claim_generator or 'unknown generator'}, "
                                 f"{status}) kept as an ingredient")
            if ingredient is None:
                notes.append("the wrappers above were removed: they carry no manifest that can be kept")
            elif scan.damaged:
                notes.append("the damaged wrappers were removed: they carry no readable manifest")
            nfc = strip_c2pa_text(nfc)
        marked = self._sign(nfc, ingredient)
        wrapper_bytes = len(marked.encode("utf-8")) - len(nfc.encode("utf-8"))
        return MarkedText(marked, TextMarkReport(normalized=normalized, c2pa=self.identity.describe(),
                                                 wrapper_bytes=wrapper_bytes, notes=tuple(notes)))

    @staticmethod
    def _existing(nfc: str, wrapper: Wrapper) -> tuple[str, ManifestReport | None, dict[str, Any]]:
        try:
            return _check(nfc, wrapper, None)
        except (C2paError, ValueError):
            return NO_MANIFEST, None, {}

    def _sign(self, nfc: str, ingredient: tuple[bytes, dict[str, Any]] | None) -> str:
        body = nfc.encode("utf-8")
        # The exclusion's length is the wrapper's, which depends on the store's size, which is only known
        # after signing: guess (exact from the second text on), sign, and sign again if the guess was off.
        guess = self._store_len
        try:
            for _ in range(3):
                store = sign_store(self.manifest, data_hash(body, len(body), wrapper_length(guess)),
                                   signer=self.signer, ingredient=ingredient)
                if len(store) == guess:
                    break
                guess = len(store)
            else:
                raise SigningError("the C2PA manifest store changed size on every signature; cannot bind it")
        except (C2paSigningError, ValueError) as exc:
            raise SigningError(str(exc)) from exc
        if ingredient is None:
            self._store_len = guess
        return nfc + encode_wrapper(store)


_markers: dict[int, tuple[TransparencyConfig, TextMarker]] = {}


def mark_text(text: str, *, config: TransparencyConfig) -> MarkedText:
    """Append a signed C2PA manifest to `text` as the A.8 wrapper. Reuses one TextMarker per config object."""
    entry = _markers.get(id(config))
    if entry is None or entry[0] is not config:
        if len(_markers) >= 8:  # a few configs per process at most; keep the cache bounded anyway
            _markers.clear()
        entry = _markers[id(config)] = (config, TextMarker(config))
    return entry[1].mark(text)
