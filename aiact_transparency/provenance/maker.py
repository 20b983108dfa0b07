"""Who marks and who signs: what every medium's marker derives once from the config and the model card.

The same names go into the watermark payload (the system id), the C2PA manifest (its softwareAgent and the AI
disclosure assertion) and XMP (CreatorTool), whatever the medium, so a detector reads them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config import ModelFacts, model_facts
from .c2pa.reading import is_marked_by_system, read_manifest
from .keys import ManifestSigner, SigningIdentity
from .keys.configured import signer_for
from .payload import system_id_for

if TYPE_CHECKING:
    from ..config import TransparencyConfig

__all__ = ["Maker", "PriorManifest", "maker_for"]


@dataclass(frozen=True)
class PriorManifest:
    """The C2PA manifest an input already carries, as a marker must treat it."""

    ours: bool = False  # a valid manifest of this very system: the input goes out unchanged (idempotent)
    ingredient: bytes | None = None  # another's manifest: the input, kept as a componentOf ingredient
    note: str | None = None  # what the report says about it


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
