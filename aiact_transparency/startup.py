"""load_config: parse the config (config layer), then run the start-up checks that need the layers above it.

The composition seam: a layer of its own above provenance and below the transports, so config imports
nothing above itself and no import needs hiding inside a function.
"""

from __future__ import annotations

import os

from .config import ConfigError, TransparencyConfig, config_origin, config_problem, model_facts, parse_config
from .disclosure import Disclosure
from .fingerprints.engines import check_store_url
from .provenance.keys import ENV_CERT_PEM, ENV_KEY_PEM, ENV_KEYS_DIR, KeyConfigError, production_signer
from .provenance.keys.dev_chain import resolve_keys_dir, unusable_keys_dir
from .provenance.text.scoring import check_text_watermark

__all__ = ["check_startup", "load_config"]

_SIGNING_FIELDS = {
    "cert": "images.signing.cert",
    "key": "images.signing.key",
    "pair": "images.signing.key (with images.signing.cert)",
    "tsa": "images.signing.timestamp_url",
}


def load_config(path: str | os.PathLike[str] | None = None) -> TransparencyConfig:
    """Load and validate the config: `path`, else the file named by AIACT_CONFIG, else embedded defaults.

    Every problem is reported here, at start-up, as a :class:`ConfigError` naming the file, the field,
    what was expected and how to fix it; the model card, the signer and the text watermark are checked too.
    """
    config = parse_config(path)
    check_startup(config)
    return config


def check_startup(config: TransparencyConfig) -> None:
    """Build now what would otherwise fail at the first request, and raise it as a ConfigError.

    This is the composition seam between the config layer and the layers above it: the only place where
    config meets disclosure and provenance (import-linter's layers contract keeps it so). Starlette builds
    middleware lazily (at the first request), so a check left to ``TransparencyMiddleware.__init__`` turns
    into "lifespan unsupported" and a 500 for every request; everything that can be checked without side
    effects is checked here instead:

    - the model card parses (``model_facts``);
    - the ``Disclosure`` derivations: AI-Disclosure header values (ASCII folding), banner languages;
    - the production signer, when images are signed: ``images.signing`` PEM files, else the
      ``AIACT_SIGNING_*_PEM`` environment; key and certificate must match and fit C2PA's profile;
    - without one, that the development chain's folder can hold it;
    - the text watermark's key and tokenizer (``text.watermark``), when set;
    - the detector's ``detection.trust_anchors`` file is readable;
    - with ``fingerprints.enabled``, the store's engine is installed (psycopg for PostgreSQL: an ImportError
      naming the ``postgres`` extra) and an SQLite file's folder can be created.
    - the espeak-ng program, when the spoken audio disclaimer is on (``audio.disclaimer.enabled``).

    The development chain itself is not touched here (creating it is a side effect, and ``keys show`` loads
    the config too): it is made, or reused, when a marker is built.
    """
    Disclosure(config, model_facts(config))
    try:
        check_text_watermark(config.text.watermark, config.resolve_path)
    except ConfigError as exc:
        raise ConfigError(f"{config_origin(config.source)}: {exc}") from None
    _check_signing(config)
    _check_detection_and_fingerprints(config)
    _check_disclaimer(config)


def _check_detection_and_fingerprints(config: TransparencyConfig) -> None:
    anchors = config.detection.trust_anchors
    if anchors is not None:
        path = config.resolve_path(anchors)
        try:
            path.read_bytes()
        except OSError as exc:
            raise config_problem(config.source, "detection.trust_anchors", f"cannot read {path} "
                                 f"({exc.strerror or exc}). Fix: name a readable PEM file of trust anchors") from None
    if config.fingerprints.enabled:
        problem = check_store_url(config.fingerprints.store)
        if problem:
            raise config_problem(config.source, "fingerprints.store", f"{problem}. Fix: point it at a writable "
                                 "place, e.g. sqlite:///var/lib/app/fingerprints.db, or a postgresql:// URL")


def _check_disclaimer(config: TransparencyConfig) -> None:
    if not (config.audio.enabled and config.audio.disclaimer.enabled):
        return
    try:  # the audio extra: needed only when audio is marked
        from .provenance.audio.disclaimer import espeak_missing
    except ImportError:
        raise config_problem(config.source, "audio.disclaimer.enabled", "the spoken disclaimer needs the audio "
                             "extra. Fix: pip install 'aiact-transparency[audio]' (and Debian's espeak-ng), or set "
                             "audio.disclaimer.enabled: false") from None
    missing = espeak_missing()
    if missing is not None:
        raise ConfigError(f"{config_origin(config.source)}: {missing}")


def _check_signing(config: TransparencyConfig) -> None:
    if not config.images.c2pa:
        return
    signing = config.images.signing
    try:
        signer = production_signer(
            None if signing.cert is None else config.resolve_path(signing.cert),
            None if signing.key is None else config.resolve_path(signing.key),
            tsa_url=signing.timestamp_url,
            warn_expiry=False,
        )
    except KeyConfigError as exc:
        from_files = signing.cert is not None
        field = _SIGNING_FIELDS.get(exc.part or "", "images.signing") if from_files else "signing environment"
        raise config_problem(config.source, field, str(exc)) from None
    if signer is None:
        problem = unusable_keys_dir(resolve_keys_dir())
        if problem:
            raise config_problem(
                config.source,
                "images.signing",
                f"no production key is set and {problem}. Fix: set images.signing.cert and images.signing.key "
                f"(or {ENV_CERT_PEM} and {ENV_KEY_PEM}), or point {ENV_KEYS_DIR} at a writable directory",
            )
