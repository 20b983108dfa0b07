"""The container's entry point: the `make demo` app (plus the Gradio demo when present) on $HOST:$PORT.

Container conventions, resolved here before the app is built so that every problem stops start-up:
- config: /config/aiact.yaml when it is mounted (AIACT_CONFIG wins when set), then AIACT_* variables;
- signing keys: AIACT_SIGNING_CERT_PEM/KEY_PEM or AIACT_IMAGES__SIGNING__CERT/KEY when set; else the secrets
  /run/secrets/aiact_signing_cert and /run/secrets/aiact_signing_key when mounted (they take the place of
  images.signing in the config file); else the config file's images.signing; else a development chain
  generated into $AIACT_KEYS_DIR (untrusted, and logged as such at every start).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from aiact_transparency import TransparencyConfig

EXAMPLES = Path(os.environ.get("AIACT_EXAMPLES_DIR", Path(__file__).resolve().parent.parent / "examples"))
DEFAULT_CONFIG = Path("/config/aiact.yaml")
SECRETS = Path("/run/secrets")
log = logging.getLogger("aiact_transparency.container")


def apply_container_defaults(environ: MutableMapping[str, str]) -> None:
    """Point the library at mounted config and secrets; explicit variables always win."""
    # An unmounted /config must not become a "file not found" error: the embedded defaults apply then.
    if "AIACT_CONFIG" not in environ and DEFAULT_CONFIG.is_file():
        environ["AIACT_CONFIG"] = str(DEFAULT_CONFIG)
    cert, key = SECRETS / "aiact_signing_cert", SECRETS / "aiact_signing_key"
    configured = any(name in environ for name in (
        "AIACT_SIGNING_CERT_PEM", "AIACT_IMAGES__SIGNING__CERT", "AIACT_IMAGES__SIGNING__KEY"))
    if not configured and cert.is_file() and key.is_file():
        # Paths, not PEM text in the environment: a key in the environment leaks into child processes.
        environ["AIACT_IMAGES__SIGNING__CERT"] = str(cert)
        environ["AIACT_IMAGES__SIGNING__KEY"] = str(key)


def mount_gradio(app: FastAPI, config: TransparencyConfig) -> None:
    """Mount examples/gradio_app.py's demo under /gradio when it and the gradio extra are installed."""
    if any(getattr(route, "path", None) == "/gradio" for route in app.routes):
        return  # demo.create_app() already mounts it
    try:
        from gradio_app import build_demo  # type: ignore[import-not-found]

        from aiact_transparency.gradio import mount
    except ImportError as exc:
        log.info("Gradio demo not mounted (%s)", exc)
        return
    # mount() reuses the middleware create_app() added, so Gradio's pages get one banner, not two.
    mount(app, build_demo(config), "/gradio", config)


def describe_signer() -> None:
    """Say at every start which identity signs, so an untrusted development chain is never a surprise."""
    from aiact_transparency import load_config
    from aiact_transparency.provenance.keys.configured import signer_for

    identity = getattr(signer_for(load_config()), "identity", None)
    if identity is None:
        log.info("signing with a custom signer")
    elif identity.development:
        log.warning("signing with the DEVELOPMENT chain (%s): UNTRUSTED, mount production keys for real use",
                    identity.source)
    else:
        log.info("signing as %s (%s)", identity.subject, identity.source)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    apply_container_defaults(os.environ)
    sys.path.insert(0, str(EXAMPLES))
    import demo  # type: ignore[import-not-found]  # examples/ is not a package, as in demo.py itself

    describe_signer()
    app = demo.create_app()
    mount_gradio(app, demo.demo_config())
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "7860"))
    log.info("config: %s", os.environ.get("AIACT_CONFIG", "examples/aiact.yaml (the demo config)"))
    uvicorn.run(app, host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
