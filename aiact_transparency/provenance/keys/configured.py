"""The signer a config asks for: images.signing PEM files, else the environment, else the development chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .signers import ManifestSigner, default_signer, load_signer_from_files

if TYPE_CHECKING:
    from ...config import TransparencyConfig

__all__ = ["signer_for"]


def signer_for(config: TransparencyConfig) -> ManifestSigner:
    """PEM files from images.signing, else $AIACT_SIGNING_*_PEM, else the (untrusted) development chain."""
    signing = config.images.signing
    if signing.cert is not None and signing.key is not None:
        return load_signer_from_files(
            config.resolve_path(signing.cert), config.resolve_path(signing.key), tsa_url=signing.timestamp_url
        )
    return default_signer()
