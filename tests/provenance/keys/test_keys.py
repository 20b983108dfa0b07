from __future__ import annotations

import datetime as dt
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aiact_transparency.provenance import keys
from aiact_transparency.provenance.keys.certs import PrivateKey, cert_pem, key_pem

from ...chains import DAY, NOW, make_chain, write_pair


def test_dev_chain_created_once_with_private_modes_and_reused(tmp_path: Path) -> None:
    first = keys.development_signer(tmp_path / "k")
    key_files = sorted((tmp_path / "k").glob("*.key.pem"))
    assert [p.name for p in key_files] == ["dev-root-ca.key.pem", "dev-signer.key.pem"]
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "k").iterdir()}
    second = keys.development_signer(tmp_path / "k")
    assert second.identity.fingerprint_sha256 == first.identity.fingerprint_sha256
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "k").iterdir()} == mtimes
    assert first.identity.development and first.alg == "es256"
    assert "UNTRUSTED" in str(first.identity.describe()["trust"])


def test_dev_chain_dir_from_env_and_renewed_when_expired(tmp_path: Path) -> None:
    env = {keys.ENV_KEYS_DIR: str(tmp_path / "env-keys")}
    first = keys.development_signer(environ=env)
    assert (tmp_path / "env-keys" / "dev-signer-chain.pem").exists()
    ca_before = (tmp_path / "env-keys" / "dev-root-ca.pem").read_bytes()
    later = NOW + 400 * DAY
    renewed = keys.development_signer(environ=env, now=later)
    assert renewed.identity.fingerprint_sha256 != first.identity.fingerprint_sha256
    assert renewed.identity.not_after > later
    assert (tmp_path / "env-keys" / "dev-root-ca.pem").read_bytes() == ca_before  # the CA lives 10 years


def test_describe_and_repr_hold_no_key_material(tmp_path: Path) -> None:
    signer = keys.development_signer(tmp_path)
    secret = (tmp_path / "dev-signer.key.pem").read_text().splitlines()[1]
    text = repr(signer) + str(signer.identity.describe()) + repr(signer.identity)
    assert secret not in text and "PRIVATE KEY" not in text


def test_production_files_load_and_sign_raw_es256(tmp_path: Path) -> None:
    ca, leaf = make_chain()
    signer = keys.load_signer_from_files(*write_pair(tmp_path, ca, leaf), tsa_url="http://tsa.example/")
    assert isinstance(signer, keys.ManifestSigner)
    assert (signer.alg, signer.tsa_url, signer.identity.development) == ("es256", "http://tsa.example/", False)
    sig = signer.sign(b"claim")
    assert len(sig) == 64  # COSE r||s, not DER
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = leaf.cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(der, b"claim", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(("key", "alg"), [
    (ec.generate_private_key(ec.SECP384R1()), "es384"),
    (rsa.generate_private_key(public_exponent=65537, key_size=2048), "ps256"),
    (ed25519.Ed25519PrivateKey.generate(), "ed25519"),
])
def test_alg_derived_from_key_type(tmp_path: Path, key: PrivateKey, alg: str) -> None:
    ca, leaf = make_chain(leaf_key=key)
    assert keys.load_signer_from_files(*write_pair(tmp_path, ca, leaf)).alg == alg


def test_mismatched_key_names_both_files_and_the_fix(tmp_path: Path) -> None:
    ca, leaf = make_chain()
    other = ec.generate_private_key(ec.SECP256R1())
    cert_file, key_file = write_pair(tmp_path, ca, leaf, key=other)
    with pytest.raises(keys.KeyConfigError) as err:
        keys.load_signer_from_files(cert_file, key_file)
    msg = str(err.value)
    assert "does not belong" in msg and str(key_file) in msg and str(cert_file) in msg and "Fix:" in msg
    assert "PRIVATE KEY" not in msg and key_pem(other).decode().splitlines()[1] not in msg


@pytest.mark.parametrize(("not_before", "not_after", "needle"), [
    (NOW - 100 * DAY, NOW - DAY, "expired"),
    (NOW + DAY, NOW + 100 * DAY, "not valid before"),
])
def test_certificate_outside_validity(tmp_path: Path, not_before: dt.datetime, not_after: dt.datetime,
                                      needle: str) -> None:
    ca, leaf = make_chain(not_before=not_before, not_after=not_after)
    with pytest.raises(keys.KeyConfigError, match=needle):
        keys.load_signer_from_files(*write_pair(tmp_path, ca, leaf))


def test_missing_signing_purpose_rejected(tmp_path: Path) -> None:
    ca, leaf = make_chain(purposes=[])
    with pytest.raises(keys.KeyConfigError, match="extendedKeyUsage"):
        keys.load_signer_from_files(*write_pair(tmp_path, ca, leaf))


def test_unsupported_curve_and_unreadable_key(tmp_path: Path) -> None:
    ca, leaf = make_chain(leaf_key=ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(keys.KeyConfigError, match="secp256k1"):
        keys.load_signer_from_files(*write_pair(tmp_path, ca, leaf))
    cert_file, key_file = write_pair(tmp_path, *make_chain())
    key_file.write_text("not a key")
    with pytest.raises(keys.KeyConfigError, match="not a readable PEM private key"):
        keys.load_signer_from_files(cert_file, key_file)
    with pytest.raises(keys.KeyConfigError, match="cannot be read"):
        keys.load_signer_from_files(tmp_path / "missing.pem", key_file)


def test_encrypted_key_needs_password(tmp_path: Path) -> None:
    ca, leaf = make_chain()
    cert_file, key_file = write_pair(tmp_path, ca, leaf)
    key_file.write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(keys.KeyConfigError, match="encrypted"):
        keys.load_signer_from_files(cert_file, key_file)
    assert keys.load_signer_from_files(cert_file, key_file, password=b"pw").alg == "es256"


def test_env_pem_pair(caplog: pytest.LogCaptureFixture) -> None:
    ca, leaf = make_chain(not_after=NOW + 10 * DAY)
    env = {keys.ENV_CERT_PEM: cert_pem(leaf.cert, ca.cert).decode(), keys.ENV_KEY_PEM: key_pem(leaf.key).decode()}
    assert keys.load_signer_from_env({}) is None
    with pytest.raises(keys.KeyConfigError, match=keys.ENV_KEY_PEM):
        keys.load_signer_from_env({keys.ENV_CERT_PEM: env[keys.ENV_CERT_PEM]})
    with caplog.at_level(logging.WARNING, logger="aiact_transparency.keys"):
        signer = keys.load_signer_from_env(env)
    assert signer is not None and keys.ENV_CERT_PEM in signer.identity.source
    assert "expires" in caplog.text and "PRIVATE KEY" not in caplog.text
    assert keys.default_signer(environ=env).identity.fingerprint_sha256 == signer.identity.fingerprint_sha256


def test_every_start_with_the_development_chain_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aiact_transparency import ImageMarker, TransparencyConfig

    keys.development_signer(tmp_path / "k")  # the chain exists already: no "generated" line from here on
    secret = (tmp_path / "k" / "dev-signer.key.pem").read_text().splitlines()[1]
    config = TransparencyConfig()
    for _ in range(2):
        with caplog.at_level(logging.WARNING, logger="aiact_transparency.keys"):
            caplog.clear()
            keys.default_signer(tmp_path / "k")
        [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
        message = record.getMessage()
        assert "DEVELOPMENT chain" in message and str(tmp_path / "k") in message
        assert "images.signing.cert" in message and keys.ENV_CERT_PEM in message
        assert secret not in caplog.text and "PRIVATE KEY" not in caplog.text
    # A marker (what a server builds at each start) warns too, each time it is built.
    with caplog.at_level(logging.WARNING, logger="aiact_transparency.keys"):
        caplog.clear()
        ImageMarker(config)
        ImageMarker(config)
    assert sum("DEVELOPMENT chain" in r.getMessage() for r in caplog.records) == 2


def test_production_key_starts_without_the_development_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca, leaf = make_chain()
    env = {keys.ENV_CERT_PEM: cert_pem(leaf.cert, ca.cert).decode(), keys.ENV_KEY_PEM: key_pem(leaf.key).decode()}
    with caplog.at_level(logging.WARNING, logger="aiact_transparency.keys"):
        assert keys.default_signer(tmp_path / "k", environ=env).identity.development is False
    assert "DEVELOPMENT" not in caplog.text and not (tmp_path / "k").exists()


def test_existing_development_signer_never_creates_the_chain(tmp_path: Path) -> None:
    assert keys.existing_development_signer(tmp_path / "k") is None
    assert not (tmp_path / "k").exists()
    made = keys.development_signer(tmp_path / "k")
    found = keys.existing_development_signer(tmp_path / "k")
    assert found is not None and found.identity.fingerprint_sha256 == made.identity.fingerprint_sha256
