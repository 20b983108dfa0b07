"""Signing keys for C2PA manifests: development chain, PEM files or environment, or a remote signer.

Key material never appears in a log line, an exception message, a repr or `describe()`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from .certs import PrivateKey, alg_for_key
from .dev_chain import CHAIN_FILE, KEY_FILE, ensure_dev_chain, resolve_keys_dir
from .validation import ENV_KEY_PASSWORD, KeyConfigError, check_profile, check_validity, parse_chain, parse_key

# The public names are listed in keys/__init__.py, which re-exports them.

log = logging.getLogger("aiact_transparency.keys")

ENV_CERT_PEM = "AIACT_SIGNING_CERT_PEM"
ENV_KEY_PEM = "AIACT_SIGNING_KEY_PEM"
ENV_TSA_URL = "AIACT_TSA_URL"
SUPPORTED_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
HASH_FOR_ALG: dict[str, type[hashes.HashAlgorithm]] = {
    "es256": hashes.SHA256, "es384": hashes.SHA384, "es512": hashes.SHA512,
    "ps256": hashes.SHA256, "ps384": hashes.SHA384, "ps512": hashes.SHA512,
}


@runtime_checkable
class ManifestSigner(Protocol):
    """Anything that signs C2PA claims: a local key, a KMS/HSM client or a remote signing service.

    `sign` receives the bytes to be signed and returns the signature in COSE form for `alg`: raw r||s for
    ES256/384/512 (c2pa-rs 0.91 also accepts DER and converts it), RSASSA-PSS bytes for PS*, 64 bytes for
    Ed25519. The private key never has to enter this process.
    """

    @property
    def alg(self) -> str: ...  # one of SUPPORTED_ALGS, lower case

    @property
    def certificate_chain_pem(self) -> bytes: ...  # leaf first, then intermediates (root optional)

    @property
    def tsa_url(self) -> str | None: ...  # RFC 3161 time-stamp authority, passed through to c2pa

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs, in terms a `keys show` command can print; holds no key material."""

    alg: str
    subject: str
    common_name: str | None
    issuer: str
    serial_number: str  # decimal, as c2pa's reader reports `cert_serial_number`
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str  # of the leaf certificate's DER
    development: bool
    source: str

    @classmethod
    def from_chain(cls, chain_pem: bytes, alg: str, *, development: bool = False,
                   source: str = "remote signer") -> SigningIdentity:
        leaf = x509.load_pem_x509_certificates(chain_pem)[0]
        cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return cls(
            alg=alg, subject=leaf.subject.rfc4514_string(), common_name=str(cns[0].value) if cns else None,
            issuer=leaf.issuer.rfc4514_string(), serial_number=str(leaf.serial_number),
            not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc,
            fingerprint_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
            development=development, source=source,
        )

    def describe(self) -> dict[str, str | bool]:
        trust = ("development chain made on this machine: UNTRUSTED, validators report 'Valid' but never "
                 "'Trusted'" if self.development else "trusted only where a validator's trust list holds its CA")
        return {
            "alg": self.alg, "subject": self.subject, "issuer": self.issuer, "serial_number": self.serial_number,
            "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
            "fingerprint_sha256": self.fingerprint_sha256, "development": self.development,
            "trust": trust, "source": self.source,
        }


class LocalKeySigner:
    """A ManifestSigner holding its private key in process (development chain, PEM file or env)."""

    __slots__ = ("_key", "alg", "certificate_chain_pem", "identity", "tsa_url")

    def __init__(self, key: PrivateKey, certificate_chain_pem: bytes, *, alg: str | None = None,
                 tsa_url: str | None = None, development: bool = False, source: str = "in-process key") -> None:
        self._key = key
        self.alg = alg_for_key(key, alg)
        self.certificate_chain_pem = certificate_chain_pem
        self.tsa_url = tsa_url
        self.identity = SigningIdentity.from_chain(certificate_chain_pem, self.alg,
                                                   development=development, source=source)

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            # cryptography emits DER; COSE (RFC 9053) wants the fixed-size r||s concatenation.
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(HASH_FOR_ALG[self.alg]())))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            digest = HASH_FOR_ALG[self.alg]()
            return key.sign(data, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
        return key.sign(data)

    def __repr__(self) -> str:
        return f"LocalKeySigner(alg={self.alg!r}, subject={self.identity.subject!r}, source={self.identity.source!r})"


def signer_from_pem(cert_pem: bytes, key_pem: bytes, *, cert_src: str = "certificate", key_src: str = "key",
                    password: bytes | None = None, alg: str | None = None, tsa_url: str | None = None,
                    development: bool = False, now: dt.datetime | None = None,
                    warn_expiry: bool = True) -> LocalKeySigner:
    """Validate a certificate chain and key and make a signer; KeyConfigError says what to fix.

    `warn_expiry=False` skips the "expires soon" warning: for a check at load_config, so a server that then
    builds its signer logs it once, not twice."""
    chain = parse_chain(cert_pem, cert_src)
    key = parse_key(key_pem, key_src, password)
    try:
        alg_for_key(key, alg.lower() if alg else None)
    except ValueError as exc:
        raise KeyConfigError(f"{key_src}: {exc}. Fix: issue the certificate for a key C2PA signs with "
                             f"({', '.join(SUPPORTED_ALGS)}).", part="key") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    leaf = chain[0]
    if leaf.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise KeyConfigError(f"{key_src}: the private key does not belong to the first certificate in {cert_src} "
                             f"(subject {leaf.subject.rfc4514_string()}). Fix: pair the certificate with the key "
                             "it was issued for, and put that certificate first in the chain.", part="pair")
    check_validity(leaf, cert_src, now or dt.datetime.now(dt.timezone.utc), warn=warn_expiry)
    check_profile(leaf, len(chain), cert_src)
    if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
        raise KeyConfigError(f"time-stamp authority URL {tsa_url!r} is not an http(s) URL. Fix: use the TSA's URL.",
                             part="tsa")
    source = cert_src if cert_src == key_src else f"{cert_src} + {key_src}"
    return LocalKeySigner(key, cert_pem, alg=alg.lower() if alg else None, tsa_url=tsa_url,
                          development=development, source=source)


def load_signer_from_files(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str], *,
                           password: bytes | None = None, alg: str | None = None,
                           tsa_url: str | None = None, warn_expiry: bool = True) -> LocalKeySigner:
    cert_src, key_src = f"certificate file {cert_path}", f"key file {key_path}"
    blobs = []
    for path, src, part in ((cert_path, cert_src, "cert"), (key_path, key_src, "key")):
        try:
            blobs.append(Path(path).read_bytes())
        except OSError as exc:
            raise KeyConfigError(f"{src}: cannot be read ({exc.strerror}). Fix: check the path and that this "
                                 "process may read it.", part=part) from None
    return signer_from_pem(blobs[0], blobs[1], cert_src=cert_src, key_src=key_src, password=password, alg=alg,
                           tsa_url=tsa_url, warn_expiry=warn_expiry)


def load_signer_from_env(environ: Mapping[str, str] | None = None, *,
                         warn_expiry: bool = True) -> LocalKeySigner | None:
    """A signer from $AIACT_SIGNING_CERT_PEM + $AIACT_SIGNING_KEY_PEM, or None when neither is set."""
    env = os.environ if environ is None else environ
    cert, key = env.get(ENV_CERT_PEM, ""), env.get(ENV_KEY_PEM, "")
    if not cert and not key:
        return None
    if not cert or not key:
        missing = ENV_CERT_PEM if not cert else ENV_KEY_PEM
        raise KeyConfigError(f"environment variable {missing} is not set while its partner is. Fix: set both "
                             f"{ENV_CERT_PEM} and {ENV_KEY_PEM} (PEM text), or neither.",
                             part="cert" if missing == ENV_CERT_PEM else "key")
    password = env.get(ENV_KEY_PASSWORD)
    return signer_from_pem(cert.encode(), key.encode(), cert_src=f"environment variable {ENV_CERT_PEM}",
                           key_src=f"environment variable {ENV_KEY_PEM}",
                           password=password.encode() if password else None, tsa_url=env.get(ENV_TSA_URL) or None,
                           warn_expiry=warn_expiry)


def development_signer(keys_dir: str | os.PathLike[str] | None = None, *,
                       environ: Mapping[str, str] | None = None, now: dt.datetime | None = None) -> LocalKeySigner:
    """The per-user development signer, generated on first use (see dev_chain). Untrusted by design."""
    directory = resolve_keys_dir(keys_dir, environ)
    chain_path, key_path = ensure_dev_chain(directory, now)
    return signer_from_pem(chain_path.read_bytes(), key_path.read_bytes(),
                           cert_src=f"development chain {chain_path}", key_src=f"development key {key_path}",
                           development=True, now=now)


def existing_development_signer(keys_dir: str | os.PathLike[str] | None = None, *,
                                environ: Mapping[str, str] | None = None) -> LocalKeySigner | None:
    """The development signer if its chain exists, else None: reads, never creates or renews (`keys show`)."""
    directory = resolve_keys_dir(keys_dir, environ)
    chain_path, key_path = directory / CHAIN_FILE, directory / KEY_FILE
    if not chain_path.is_file() or not key_path.is_file():
        return None
    return signer_from_pem(chain_path.read_bytes(), key_path.read_bytes(),
                           cert_src=f"development chain {chain_path}", key_src=f"development key {key_path}",
                           development=True)


def production_signer(cert_path: str | os.PathLike[str] | None = None,
                      key_path: str | os.PathLike[str] | None = None, *, tsa_url: str | None = None,
                      environ: Mapping[str, str] | None = None, warn_expiry: bool = True) -> LocalKeySigner | None:
    """PEM files when both paths are given, else $AIACT_SIGNING_*_PEM, else None (no production key)."""
    if cert_path is not None and key_path is not None:
        return load_signer_from_files(cert_path, key_path, tsa_url=tsa_url, warn_expiry=warn_expiry)
    return load_signer_from_env(environ, warn_expiry=warn_expiry)


def default_signer(keys_dir: str | os.PathLike[str] | None = None, *,
                   environ: Mapping[str, str] | None = None) -> LocalKeySigner:
    """Production key from the environment when configured, otherwise the development chain.

    Falling back to the development chain logs a WARNING every time, not only when the chain is generated:
    a server started with it signs manifests no validator trusts, and its operator must see that at each
    start. The line names the chain's folder and the settings for production keys, never key material.
    """
    signer = load_signer_from_env(environ)
    if signer is not None:
        return signer
    signer = development_signer(keys_dir, environ=environ)
    log.warning("signing C2PA manifests with the DEVELOPMENT chain in %s: UNTRUSTED (validators report 'Valid', "
                "never 'Trusted'). For production set images.signing.cert and images.signing.key (PEM files), or "
                "%s and %s", resolve_keys_dir(keys_dir, environ), ENV_CERT_PEM, ENV_KEY_PEM)
    return signer

