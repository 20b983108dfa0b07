"""One DetectionEndpoint for a deployment, as the middleware, Gradio and `serve-detector` build it.

The signer is the media marker's (never loaded twice), the fingerprint layer reads the output log's store
when `fingerprints.enabled`, and text is scored for this system's watermark when `text.watermark.tokenizer`
is set. With the store, the endpoint also carries the C2PA Soft Binding Resolution API
(`endpoint.soft_binding`, served under detection.soft_binding_path: `soft_binding_route`).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..fingerprints.engines import open_store
from ..provenance.text.scoring import score_text
from .endpoint import DetectionEndpoint
from .local import TextScorer
from .output_log import StoreIndex
from .soft_binding import Resolver, SoftBindingEndpoint

if TYPE_CHECKING:
    from ..config import TransparencyConfig
    from ..fingerprints.store import FingerprintStore
    from ..http_messages import ASGIApp
    from ..provenance.keys import ManifestSigner

__all__ = ["endpoint_for", "soft_binding_route", "text_scorer_for"]


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
        store = open_store(fingerprints.store, **fingerprints.store_options())
    index = StoreIndex(store, fingerprints) if store is not None else None
    endpoint = DetectionEndpoint(config, signer=signer, fingerprints=index, text_scorer=text_scorer_for(config))
    if store is not None:
        endpoint.soft_binding = SoftBindingEndpoint(endpoint, Resolver(config, store))
    return endpoint


def soft_binding_route(endpoint: DetectionEndpoint | None) -> tuple[ASGIApp | None, str]:
    """(the Soft Binding Resolution API, the path prefix it answers: soft_binding_path + "/"), or (None, "")
    when the detector is off or keeps no log to resolve against."""
    if endpoint is None or endpoint.soft_binding is None:
        return None, ""
    return endpoint.soft_binding, endpoint.settings.soft_binding_path + "/"
