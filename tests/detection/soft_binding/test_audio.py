"""Audio outputs resolve too (issue 18): a marked clip's signed store is kept, and a copy re-encoded without
its metadata (the WAV's samples as FLAC: lossless, so the test does not depend on the watermark's robustness,
which tests/provenance/audio measures) gets its credentials back through the audio watermark's own id, with
c2pa saying the hard binding no longer matches."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency import TransparencyConfig, mark_audio
from aiact_transparency.config import FingerprintSettings
from aiact_transparency.detection.soft_binding import WATERMARK_ALG
from aiact_transparency.detection.soft_binding.algorithms import AUDIO_WATERMARK_ALG
from aiact_transparency.detection.soft_binding.recover import LocalResolution, recover
from aiact_transparency.detection.soft_binding.resolver import Resolver
from aiact_transparency.fingerprints.outputs import OutputLog
from tests.provenance.audio.clips import _stereo, music
from tests.tools import require_module

require_module("av")
require_module("soundfile")

from aiact_transparency.provenance.audio.codec import AudioFormat, decode_audio, encode_audio  # noqa: E402
from aiact_transparency.provenance.audio.marker import SOFT_BINDING_ALG  # noqa: E402


def test_the_audio_id_is_the_one_the_marker_writes() -> None:
    assert AUDIO_WATERMARK_ALG == SOFT_BINDING_ALG


def test_a_re_encoded_clip_gets_its_credentials_back(tmp_path: Path) -> None:
    fmt = AudioFormat("wav", 48_000, 2, subtype="PCM_16")
    mono = music(6.0, fmt.rate, np.random.default_rng(5))
    config = TransparencyConfig(system={"name": "Acme Studio", "provider": "Acme GmbH"},
                                fingerprints={"enabled": True, "store": f"sqlite:///{tmp_path / 'fp.db'}"})
    marked = mark_audio(encode_audio(_stereo(mono, np.random.default_rng(5), fmt.rate), fmt), config=config)
    assert marked.report.manifest_store is not None and marked.report.manifest_id is not None
    log = OutputLog(FingerprintSettings(enabled=True, store=config.fingerprints.store, flush_interval=0.05))
    log.submit(marked, "/speak")
    assert log.flush()
    resolver = Resolver(config, log.store)
    try:
        (record,) = list(log.store.export())
        assert record.payload is not None and record.manifest_id == marked.report.manifest_id
        value = base64.b64encode(record.payload).decode()
        assert resolver.by_binding(AUDIO_WATERMARK_ALG, value, 10) == [
            {"manifestId": record.manifest_id, "similarityScore": 100}]
        assert resolver.by_binding(WATERMARK_ALG, value, 10) == []  # the image id resolves images only

        decoded = decode_audio(marked.data)
        copy = encode_audio(decoded.samples, AudioFormat("flac", 48_000, 2, subtype="PCM_16"))
        report = recover(copy, LocalResolution(resolver))
        assert report.recovered and report.through == "watermark" and report.manifest_id == record.manifest_id
        assert report.summary == ("credentials recovered through the watermark; the asset changed after signing "
                                  "(hard binding does not match)")
        assert report.manifest is not None and report.manifest.disclosed_system == "Acme Studio"
        assert resolver.by_content(copy, 5)[0]["manifestId"] == record.manifest_id
    finally:
        log.close()


@pytest.mark.parametrize("alg", [AUDIO_WATERMARK_ALG])
def test_the_audio_id_is_listed(alg: str) -> None:
    from aiact_transparency.detection.soft_binding import supported_algorithms

    assert {"alg": alg} in supported_algorithms()["watermarks"]
