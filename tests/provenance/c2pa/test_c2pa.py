from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from PIL import Image

from aiact_transparency.provenance import keys
from aiact_transparency.provenance.c2pa import manifest as cm
from aiact_transparency.provenance.image.watermark import SOFT_BINDING_ALG
from aiact_transparency.provenance.keys.certs import PrivateKey, cert_pem, issue_root_ca, issue_signer

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)
FORMATS = [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
WATERMARK = {"alg": SOFT_BINDING_ALG, "value": "0123abcd"}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("keys"))


def image_bytes(fmt: str, size: int = 64) -> bytes:
    # Noise keeps the encoded bytes unique, so a slice of them locates the pixel data after signing.
    pixels = np.random.default_rng(7).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


def sign(data: bytes, media_type: str, signer: keys.ManifestSigner, **kw: object) -> bytes:
    return cm.sign_asset(data, media_type, signer=signer, software_agent="demo-app (model: acme/gen-1)",
                         title="generated.img", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fmt", "media_type"), FORMATS)
def test_sign_then_read_is_valid_ai_generated_and_untrusted(signer: keys.LocalKeySigner, fmt: str,
                                                            media_type: str) -> None:
    signed = sign(image_bytes(fmt), media_type, signer, watermark=WATERMARK,
                  training_mining={"ai_generative_training": "notAllowed"}, model_facts={"model": "acme/gen-1"})
    Image.open(io.BytesIO(signed)).load()  # still a decodable image
    report = cm.read_manifest(signed, media_type)
    assert report.found and report.valid and report.validation_state == "Valid", report
    assert report.digital_source_type == cm.TRAINED_ALGORITHMIC_MEDIA
    assert report.software_agent == "demo-app (model: acme/gen-1)"
    assert report.claim_generator is not None and report.claim_generator.startswith("aiact-transparency/")
    assert not report.trusted and any("does not chain to a trusted root" in n for n in report.notes)
    assert report.has_watermark_assertion and report.title == "generated.img"
    assert {cm.TRAINING_MINING_LABEL, cm.AI_DISCLOSURE_LABEL} <= set(report.assertion_labels)
    assert not report.has_thumbnail
    assert cm.is_signed_by(report, signer.identity)
    assert report.to_dict()["signer_serial"] == signer.identity.serial_number


def test_trusted_when_the_root_is_a_trust_anchor(signer: keys.LocalKeySigner) -> None:
    signed = sign(image_bytes("PNG"), "image/png", signer)
    root = signer.certificate_chain_pem.split(b"-----END CERTIFICATE-----\n", 1)[1]
    report = cm.read_manifest(signed, "image/png", trust_anchors_pem=root)
    assert report.valid and report.trusted and report.validation_state == "Trusted"


@pytest.mark.parametrize(("fmt", "media_type"), FORMATS)
def test_one_flipped_pixel_byte_breaks_the_hard_binding(signer: keys.LocalKeySigner, fmt: str,
                                                        media_type: str) -> None:
    original = image_bytes(fmt)
    signed = bytearray(sign(original, media_type, signer))
    at = bytes(signed).find(original[-48:-32])
    assert at > 0
    signed[at] ^= 0x01
    report = cm.read_manifest(bytes(signed), media_type)
    assert report.found and not report.valid and report.hard_binding_intact is False
    assert report.reason is not None and "hard binding broken" in report.reason
    assert not cm.is_signed_by(report, signer.identity)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8 not really a jpeg", image_bytes("JPEG")[:100]])
def test_unmarked_or_corrupt_input_never_raises(data: bytes) -> None:
    report = cm.read_manifest(data, "image/jpeg")
    assert not report.found and not report.valid and report.reason


def test_unmarked_image_is_not_found() -> None:
    report = cm.read_manifest(image_bytes("PNG"), "image/png")
    assert (report.found, report.reason) == (False, "no C2PA manifest in the asset")


def test_is_signed_by_rejects_another_signer(signer: keys.LocalKeySigner, tmp_path: Path) -> None:
    report = cm.read_manifest(sign(image_bytes("PNG"), "image/png", signer), "image/png")
    assert not cm.is_signed_by(report, keys.development_signer(tmp_path).identity)


def test_watermark_action_and_soft_binding_only_when_watermarked(signer: keys.LocalKeySigner) -> None:
    manifest = cm.build_manifest(software_agent="x", watermark=WATERMARK)
    actions = manifest["assertions"][0]["data"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.created", cm.WATERMARK_ACTION]
    report = cm.read_manifest(sign(image_bytes("PNG"), "image/png", signer), "image/png")
    assert report.valid and not report.has_watermark_assertion
    assert report.soft_binding_alg is None and report.soft_binding_value is None
    marked = cm.read_manifest(sign(image_bytes("PNG"), "image/png", signer, watermark=WATERMARK), "image/png")
    assert marked.has_watermark_assertion
    assert (marked.soft_binding_alg, marked.soft_binding_value) == (SOFT_BINDING_ALG, WATERMARK["value"])


def test_thumbnail_on_request(signer: keys.LocalKeySigner) -> None:
    report = cm.read_manifest(sign(image_bytes("JPEG"), "image/jpeg", signer, thumbnail=True), "image/jpeg")
    assert report.valid and report.has_thumbnail


class Vault:
    """Stands in for a KMS/HSM: the key lives here and never leaves."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key

    def sign_der(self, data: bytes) -> bytes:
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))


class RemoteSigner:
    """A ManifestSigner without a key: it asks the vault, which answers in DER as most KMS APIs do."""

    alg = "es256"
    tsa_url = None

    def __init__(self, vault: Vault, chain: bytes) -> None:
        self.vault, self.certificate_chain_pem = vault, chain

    def sign(self, data: bytes) -> bytes:
        return self.vault.sign_der(data)


def chain_for(key: PrivateKey) -> bytes:
    ca = issue_root_ca("remote root", not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    leaf = issue_signer(ca, "remote signer", "remote org", not_before=NOW - DAY, not_after=NOW + 30 * DAY, key=key)
    return cert_pem(leaf.cert, ca.cert)


def test_remote_signer_protocol_with_der_signatures() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    remote = RemoteSigner(Vault(key), chain_for(key))
    assert isinstance(remote, keys.ManifestSigner)
    report = cm.read_manifest(sign(image_bytes("JPEG"), "image/jpeg", remote), "image/jpeg")
    assert report.valid and report.signer_common_name == "remote signer"
    identity = keys.SigningIdentity.from_chain(remote.certificate_chain_pem, remote.alg)
    assert cm.is_signed_by(report, identity)


def test_failing_remote_signer_raises_with_its_cause() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    remote = RemoteSigner(Vault(key), chain_for(key))
    remote.sign = lambda data: (_ for _ in ()).throw(TimeoutError("signing service timed out"))  # type: ignore[method-assign]
    with pytest.raises(cm.C2paSigningError, match="signing service timed out"):
        sign(image_bytes("PNG"), "image/png", remote)


def test_remote_signer_with_the_wrong_key_fails_at_signing_not_in_readers() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    wrong = RemoteSigner(Vault(ec.generate_private_key(ec.SECP256R1())), chain_for(key))
    with pytest.raises(cm.C2paSigningError, match="does not verify against its certificate"):
        sign(image_bytes("PNG"), "image/png", wrong)


def test_verify_after_sign_option(signer: keys.LocalKeySigner) -> None:
    signed = sign(image_bytes("JPEG"), "image/jpeg", signer, verify_after_sign=True)
    assert cm.read_manifest(signed, "image/jpeg").valid


@pytest.mark.parametrize("key", [rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                 ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP384R1())])
def test_other_algorithms_sign_valid_manifests(key: PrivateKey) -> None:
    local = keys.LocalKeySigner(key, chain_for(key))
    report = cm.read_manifest(sign(image_bytes("PNG"), "image/png", local), "image/png")
    assert report.valid, report.errors
    assert report.signature_alg is not None and report.signature_alg.lower() == local.alg


def test_bad_inputs_are_value_errors(signer: keys.LocalKeySigner) -> None:
    with pytest.raises(ValueError, match="not supported"):
        sign(b"GIF89a", "image/bmp", signer)
    with pytest.raises(ValueError, match="'use' must be one of"):
        cm.build_manifest(software_agent="x", training_mining={"ai_training": "maybe"})
    with pytest.raises(ValueError, match=re.escape(SOFT_BINDING_ALG)):  # the id the pipeline writes
        cm.build_manifest(software_agent="x", watermark={"value": "1"})
