"""X.509 helpers shared by the development chain and the key loader (no file I/O here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# c2pa-rs accepts a signing certificate only with one of these purposes when no EKU list is configured
# (C2PA trust model; opensource.contentauth.org "Signing manifests"). documentSigning is RFC 9336.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
C2PA_SIGNING_PURPOSES = frozenset({ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING})

_EC_ALGS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
_RSA_ALGS = frozenset({"ps256", "ps384", "ps512"})


def alg_for_key(key: PrivateKey | object, requested: str | None = None) -> str:
    """The C2PA algorithm name for a key; raises ValueError with the reason when none fits."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        alg = _EC_ALGS.get(key.curve.name)
        if alg is None:
            raise ValueError(f"EC curve {key.curve.name} is not usable for C2PA (use P-256, P-384 or P-521)")
    elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"RSA key of {key.key_size} bits is too small for C2PA (use 2048 bits or more)")
        # RSA keys sign with PSS in C2PA; SHA-256 unless the caller asks for a stronger hash.
        alg = requested if requested in _RSA_ALGS else "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        alg = "ed25519"
    else:
        raise ValueError(f"key type {type(key).__name__} is not supported (use EC P-256/384/521, RSA or Ed25519)")
    if requested is not None and requested.lower() != alg:
        raise ValueError(f"algorithm {requested!r} does not fit this key (the key signs as {alg})")
    return alg


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 certificates are signed without a separate hash.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def issue_root_ca(name: str, *, not_before: dt.datetime, not_after: dt.datetime,
                  key: PrivateKey | None = None) -> Issued:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _sign_hash(key))
    )
    return Issued(key, cert)


def issue_signer(ca: Issued, common_name: str, organization: str, *, not_before: dt.datetime,
                 not_after: dt.datetime, key: PrivateKey | None = None,
                 purposes: list[x509.ObjectIdentifier] | None = None) -> Issued:
    """An end-entity certificate with the profile C2PA requires of a claim signer."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject).public_key(public)
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if purposes is None:
        purposes = [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]
    if purposes:
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
    return Issued(key, builder.sign(ca.key, _sign_hash(ca.key)))


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
