"""Shared material for the detection tests: real images marked by the real pipeline, two systems, two signers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection import DetectionSettings
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.image.marker import ImageMarker


def photo_like(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    # Smooth gradients plus mild noise compress like a photo (as bench/bench_c2pa.py makes them).
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    rgb += np.random.default_rng(seed).normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def ours_config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"}, model={"id": "acme/studio-xl"})


@pytest.fixture(scope="session")
def ours_signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("ours-keys"))


@pytest.fixture(scope="session")
def other_signer(tmp_path_factory: pytest.TempPathFactory) -> keys.LocalKeySigner:
    return keys.development_signer(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture(scope="session")
def ours() -> TransparencyConfig:
    return ours_config()


@pytest.fixture(scope="session")
def plain_jpeg() -> bytes:
    return encode(photo_like(), quality=90)


@pytest.fixture(scope="session")
def marked_jpeg(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner, plain_jpeg: bytes) -> bytes:
    return ImageMarker(ours, signer=ours_signer).mark(plain_jpeg).data


@pytest.fixture(scope="session")
def other_marked_png(other_signer: keys.LocalKeySigner) -> bytes:
    other = TransparencyConfig(system={"name": "Other Images Inc", "provider": "Other"})
    return ImageMarker(other, signer=other_signer).mark(encode(photo_like(seed=5), "PNG")).data


def endpoint_for(config: TransparencyConfig, signer: keys.ManifestSigner, **settings: object) -> DetectionEndpoint:
    return DetectionEndpoint(config, settings=DetectionSettings(**settings), signer=signer)  # type: ignore[arg-type]


@pytest.fixture
def endpoint(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner) -> DetectionEndpoint:
    return endpoint_for(ours, ours_signer)


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
