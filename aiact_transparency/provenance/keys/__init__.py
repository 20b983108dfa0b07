"""Signing keys and identities: local PEM signers (signers.py), the development chain (dev_chain.py),
certificate helpers (certs.py), chain and key checks (validation.py), the signer a config names
(configured.py) and the remote signing client (remote.py)."""

from __future__ import annotations

from .dev_chain import DEV_ORGANIZATION, ENV_KEYS_DIR
from .signers import (
    ENV_CERT_PEM,
    ENV_KEY_PEM,
    ENV_TSA_URL,
    HASH_FOR_ALG,
    SUPPORTED_ALGS,
    LocalKeySigner,
    ManifestSigner,
    SigningIdentity,
    default_signer,
    development_signer,
    existing_development_signer,
    load_signer_from_env,
    load_signer_from_files,
    production_signer,
    signer_from_pem,
)
from .validation import ENV_KEY_PASSWORD, KeyConfigError

__all__ = [
    "DEV_ORGANIZATION", "ENV_CERT_PEM", "ENV_KEYS_DIR", "ENV_KEY_PASSWORD", "ENV_KEY_PEM", "ENV_TSA_URL",
    "HASH_FOR_ALG", "SUPPORTED_ALGS",
    "KeyConfigError", "LocalKeySigner", "ManifestSigner", "SigningIdentity", "default_signer",
    "development_signer", "existing_development_signer", "load_signer_from_env", "load_signer_from_files",
    "production_signer", "signer_from_pem",
]
