"""Checking a signing certificate chain and key before anything is signed: each problem a KeyConfigError that
names the file and the fix, never key material. Shared by local PEM signers and the remote signer."""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certs import C2PA_SIGNING_PURPOSES, PrivateKey

__all__ = ["ENV_KEY_PASSWORD", "EXPIRY_WARNING", "KeyConfigError", "check_profile", "check_validity", "parse_chain",
           "parse_key"]

log = logging.getLogger("aiact_transparency.keys")

ENV_KEY_PASSWORD = "AIACT_SIGNING_KEY_PASSWORD"
EXPIRY_WARNING = dt.timedelta(days=30)


class KeyConfigError(ValueError):
    """A signing key or certificate is unusable; the message names the source, the problem and the fix.

    `part` says which setting is at fault ("cert", "key", "pair" for a key that does not fit its certificate,
    "tsa"), so load_config can name the config field (images.signing.cert, ...).
    """

    def __init__(self, message: str, *, part: str | None = None) -> None:
        super().__init__(message)
        self.part = part


def parse_chain(cert_pem: bytes, cert_src: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        chain = []
    if not chain:
        raise KeyConfigError(f"{cert_src}: no PEM certificate found. Fix: provide the signing certificate chain "
                             "as PEM ('-----BEGIN CERTIFICATE-----'), leaf first, then intermediates.", part="cert")
    return chain


def parse_key(key_pem: bytes, key_src: str, password: bytes | None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
    except TypeError:
        # Never echo the library's text here: it is safe today, but this message must stay key-free by design.
        fix = "set the key password" if password is None else "check the key password"
        raise KeyConfigError(f"{key_src}: the private key is encrypted and could not be opened. "
                             f"Fix: {fix} ({ENV_KEY_PASSWORD} or the password argument).", part="key") from None
    except ValueError:
        raise KeyConfigError(f"{key_src}: not a readable PEM private key (or a wrong password). Fix: provide an "
                             "unencrypted PKCS#8/SEC1/PKCS#1 PEM key ('-----BEGIN PRIVATE KEY-----').",
                             part="key") from None
    return key  # type: ignore[return-value]


def check_profile(leaf: x509.Certificate, chain_len: int, cert_src: str) -> None:
    """The checks c2pa-rs applies to a claim signer, made early so the error says how to fix it."""
    ext = leaf.extensions
    try:
        basic = ext.get_extension_for_class(x509.BasicConstraints).value
        is_ca = basic.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        can_sign = ext.get_extension_for_class(x509.KeyUsage).value.digital_signature
    except x509.ExtensionNotFound:
        can_sign = False
    try:
        purposes = set(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        purposes = set()
    problem = None
    if is_ca:
        problem = "the first certificate is a CA certificate (basicConstraints CA=true), not the signer's"
    elif not can_sign:
        problem = "the certificate lacks keyUsage digitalSignature"
    elif ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes or not purposes & C2PA_SIGNING_PURPOSES:
        problem = ("its extendedKeyUsage has neither emailProtection (1.3.6.1.5.5.7.3.4) nor documentSigning "
                   "(1.3.6.1.5.5.7.3.36), or it allows anyExtendedKeyUsage")
    elif leaf.issuer == leaf.subject and chain_len == 1:
        problem = "the certificate is self-signed; C2PA validators reject self-signed signers"
    if problem:
        raise KeyConfigError(f"{cert_src}: {problem}. Fix: use an end-entity certificate issued for document or "
                             "e-mail signing (put it first in the PEM, then its intermediates), or omit the "
                             "production key settings to use the development chain.", part="cert")


def check_validity(leaf: x509.Certificate, cert_src: str, now: dt.datetime, *, warn: bool = True) -> None:
    if now < leaf.not_valid_before_utc:
        raise KeyConfigError(f"{cert_src}: the certificate is not valid before {leaf.not_valid_before_utc.isoformat()}"
                             " (it is now earlier). Fix: check the system clock, or wait until it becomes valid.",
                             part="cert")
    if now > leaf.not_valid_after_utc:
        raise KeyConfigError(f"{cert_src}: the certificate expired on {leaf.not_valid_after_utc.isoformat()}. "
                             "Fix: renew it with your CA and deploy the new certificate and key.", part="cert")
    if warn and leaf.not_valid_after_utc - now < EXPIRY_WARNING:
        log.warning("%s: the signing certificate expires on %s; renew it soon", cert_src,
                    leaf.not_valid_after_utc.isoformat())
