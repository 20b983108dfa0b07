"""Who marks and who signs: what every medium's marker derives once from the config and the model card.

The same names go into the watermark payload (the system id), the C2PA manifest (its softwareAgent and the AI
disclosure assertion) and XMP (CreatorTool), whatever the medium, so a detector reads them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config import ModelFacts, model_facts
from .keys import ManifestSigner, SigningIdentity
from .keys.configured import signer_for
from .payload import system_id_for

if TYPE_CHECKING:
    from ..config import TransparencyConfig

__all__ = ["Maker", "maker_for"]


@dataclass(frozen=True)
class Maker:
    system_id: int  # what the watermark payload carries: system_id_for(system.name)
    model_label: str | None  # the model's id, else its name (model card or config)
    software_agent: str  # the c2pa.created action's softwareAgent: "System (model)"
    creator_tool: str  # XMP's CreatorTool
    disclosure: dict[str, Any]  # the AI disclosure assertion: system, provider, mode, model facts
    signer: ManifestSigner | None  # None when the medium does not sign
    identity: SigningIdentity | None


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
        system_id=system_id_for(system.name),
        model_label=facts.label,
        software_agent=f"{system.name} ({facts.label})" if facts.label else system.name,
        creator_tool=f"{system.name} (aiact-transparency {__version__})",
        disclosure={"system": system.name, "provider": system.provider, "mode": config.disclosure.mode,
                    "model": disclosed},
        signer=signer if signs else None,
        identity=identity,
    )
