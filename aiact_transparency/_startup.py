"""The start-up checks load_config runs: the one place where the config layer reaches the layers above it."""

from __future__ import annotations

from ._config_errors import config_problem
from .config import TransparencyConfig
from .disclosure import Disclosure
from .modelcard import model_facts
from .provenance._dev_chain import ENV_KEYS_DIR, resolve_keys_dir, unusable_keys_dir
from .provenance.keys import ENV_CERT_PEM, ENV_KEY_PEM, KeyConfigError, production_signer

_SIGNING_FIELDS = {
    "cert": "images.signing.cert",
    "key": "images.signing.key",
    "pair": "images.signing.key (with images.signing.cert)",
    "tsa": "images.signing.timestamp_url",
}


def check_startup(config: TransparencyConfig) -> None:
    """Build now what would otherwise fail at the first request, and raise it as a ConfigError.

    This is the composition seam between the config layer and the layers above it: the only place where
    config reaches up into disclosure and provenance. load_config imports this module inside the function,
    so config.py itself imports nothing above it (an import-linter layers contract names this one module
    in its ignore_imports). Starlette builds middleware lazily (at the first request), so a check
    left to ``TransparencyMiddleware.__init__`` turns into "lifespan unsupported" and a 500 for every
    request; everything that can be checked without side effects is checked here instead:

    - the model card parses (``model_facts``);
    - the ``Disclosure`` derivations: AI-Disclosure header values (ASCII folding), banner languages;
    - the production signer, when images are signed: ``images.signing`` PEM files, else the
      ``AIACT_SIGNING_*_PEM`` environment; key and certificate must match and fit C2PA's profile;
    - without one, that the development chain's folder can hold it.

    The development chain itself is not touched here (creating it is a side effect, and ``keys show`` loads
    the config too): it is made, or reused, when a marker is built.
    """
    Disclosure(config, model_facts(config))
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
