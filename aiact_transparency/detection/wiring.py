"""One DetectionEndpoint for a deployment, as the middleware, Gradio and `serve-detector` build it.

The signer is the media marker's (never loaded twice), the fingerprint layer reads the output log's store
when `fingerprints.enabled`, and text is scored for this system's watermark when `text.watermark.tokenizer`
is set.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..fingerprints.engines import open_store
from ..provenance.text.scoring import score_text
from .endpoint import DetectionEndpoint
from .local import TextScorer
from .output_log import StoreIndex

if TYPE_CHECKING:
    from ..config import TransparencyConfig
    from ..fingerprints.store import FingerprintStore
    from ..provenance.keys import ManifestSigner

__all__ = ["endpoint_for", "text_scorer_for"]


def text_scorer_for(config: TransparencyConfig) -> TextScorer | None:
    watermark = config.text.watermark
    if watermark.tokenizer is None:
        return None
    return partial(score_text, settings=watermark, resolve=config.resolve_path)


def endpoint_for(config: TransparencyConfig, *, signer: ManifestSigner | None = None,
                 store: FingerprintStore | None = None) -> DetectionEndpoint:
    """`store`: the output log's store, when the caller has one open (the middleware's writer); else, with
    fingerprints on, one is opened here (the standalone detector)."""
    fingerprints = config.fingerprints
    if store is None and fingerprints.enabled:
        store = open_store(fingerprints.store, lookup_threads=fingerprints.lookup_threads)
    index = StoreIndex(store, fingerprints) if store is not None else None
    return DetectionEndpoint(config, signer=signer, fingerprints=index, text_scorer=text_scorer_for(config))
