"""Who marks and who signs: what every medium's marker derives once from the config and the model card.

The same names go into the watermark payload (the system id), the C2PA manifest (its softwareAgent and the AI
disclosure assertion) and XMP (CreatorTool), whatever the medium, so a detector reads them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config import ModelFacts, model_facts
from .c2pa.reading import is_marked_by_system, read_manifest
from .formats import canonical, sniff_media_type, types_of
from .keys import ManifestSigner, SigningIdentity
from .keys.configured import signer_for
from .payload import system_id_for

if TYPE_CHECKING:
    from ..config import TransparencyConfig

__all__ = ["Admitted", "Intake", "Maker", "PriorManifest", "maker_for"]


@dataclass(frozen=True)
class PriorManifest:
    """The C2PA manifest an input already carries, as a marker must treat it."""

    ours: bool = False  # a valid manifest of this very system: the input goes out unchanged (idempotent)
    ingredient: bytes | None = None  # another's manifest: the input, kept as a componentOf ingredient
    note: str | None = None  # what the report says about it


@dataclass(frozen=True)
class Intake:
    """What one medium's `mark` refuses before it marks anything, and with which of its own errors (this layer
    cannot import audio's or video's): the bodies it takes, their size bound, the types it marks."""

    medium: str  # "image", "audio", "video": what formats.types_of calls it, and the messages' subject
    section: str  # the config section whose max_bytes bounds the body: "images", "audio", "video"
    supported: str  # the refusal's tail naming what is markable: "supported: PNG, JPEG and WebP"
    too_large: Callable[[str], Exception]
    unsupported: Callable[[str], Exception]
    # A zero-byte body refused with its own message; None: the type check refuses it ("unrecognised data").
    empty: Callable[[str], Exception] | None = None
    # A medium's own refusal of the sniffed bytes (data, sniffed type), made before the type check.
    check: Callable[[bytes, str | None], None] | None = None
    types: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", types_of(self.medium))


@dataclass(frozen=True)
class Admitted:
    """An input `Maker.admit` let through: what its bytes are, the report's first notes, its earlier manifest."""

    media_type: str
    notes: tuple[str, ...]  # a declared type the bytes contradict, then what `prior` says about a manifest
    prior: PriorManifest


@dataclass(frozen=True)
class Maker:
    system_name: str
    system_id: int  # what the watermark payload carries: system_id_for(system.name)
    model_label: str | None  # the model's id, else its name (model card or config)
    software_agent: str  # the c2pa.created action's softwareAgent: "System (model)"
    creator_tool: str  # XMP's CreatorTool
    disclosure: dict[str, Any]  # the AI disclosure assertion: system, provider, mode, model facts
    signer: ManifestSigner | None  # None when the medium does not sign
    identity: SigningIdentity | None

    def admit(self, data: bytes, declared: str | None, intake: Intake, max_bytes: int) -> Admitted:
        """The checks every marker makes first, in this order: empty body, size, the sniffed type (the bytes
        decide it; a `declared` type that lies is only noted), then the manifest the input already carries.
        Raises the medium's own errors, from `intake`."""
        if intake.empty is not None and not data:
            raise intake.empty(f"the {intake.medium} body is empty (zero bytes): send the encoded file")
        if len(data) > max_bytes:
            raise intake.too_large(
                f"the {intake.medium} has {len(data)} bytes, above {intake.section}.max_bytes = {max_bytes}")
        actual = sniff_media_type(data)
        if intake.check is not None:
            intake.check(data, actual)
        if actual not in intake.types:
            raise intake.unsupported(f"{actual or 'unrecognised data'} is not markable here; {intake.supported}")
        notes = []
        if declared and canonical(declared) != actual:
            notes.append(f"declared as {declared} but the bytes are {actual}")
        prior = self.prior(data, actual)
        if prior.note:
            notes.append(prior.note)
        return Admitted(actual, tuple(notes), prior)

    def prior(self, data: bytes, media_type: str, *, prefilter: bool = True) -> PriorManifest:
        """What to do with a manifest already in `data`. Cached outputs may pass twice: only a valid manifest
        of this system counts as ours, never a claim, and never the certificate alone (every system on the
        development chain shares it). Another's is kept, never stripped (Code of Practice).

        `prefilter`: every embedded manifest store is a JUMBF box labelled "c2pa", so without those bytes
        the Reader (0.5-2.5 ms) is skipped; containers that may compress the store (PDF) pass False."""
        if self.identity is None or (prefilter and b"c2pa" not in data):
            return PriorManifest()
        report = read_manifest(data, media_type)
        if not report.found:
            return PriorManifest()
        if is_marked_by_system(report, self.identity, self.system_name):
            return PriorManifest(ours=True)
        generator = report.claim_generator or "unknown generator"
        return PriorManifest(ingredient=data, note=f"existing C2PA manifest ({generator}) kept as an ingredient")


def maker_for(config: TransparencyConfig, *, signs: bool, signer: ManifestSigner | None = None,
              facts: ModelFacts | None = None) -> Maker:
    """`signs`: whether this medium's manifests are signed (its section's `c2pa`); `signer`: one already
    loaded for another medium (loading twice would repeat the start-up checks and their warnings)."""
    facts = facts if facts is not None else model_facts(config)
    system = config.system
    identity = None
    if signs:
        signer = signer if signer is not None else signer_for(config)
        found = getattr(signer, "identity", None)
        identity = found if isinstance(found, SigningIdentity) else SigningIdentity.from_chain(
            signer.certificate_chain_pem, signer.alg)
    disclosed = {k: v for k, v in facts.to_dict().items() if v not in (None, [], ())}
    return Maker(
        system_name=system.name,
        system_id=system_id_for(system.name),
        model_label=facts.label,
        software_agent=f"{system.name} ({facts.label})" if facts.label else system.name,
        creator_tool=f"{system.name} (aiact-transparency {__version__})",
        disclosure={"system": system.name, "provider": system.provider, "mode": config.disclosure.mode,
                    "model": disclosed},
        signer=signer if signs else None,
        identity=identity,
    )
