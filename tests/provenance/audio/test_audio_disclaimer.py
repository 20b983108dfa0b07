"""The spoken disclaimer, synthesized by the real espeak-ng: audible at the start (and at the interval), no
clicks at the joins, rate and channels kept; a missing espeak-ng is a start-up error naming the package."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from aiact_transparency import ConfigError, TransparencyConfig, mark_audio, verify
from aiact_transparency.disclosure.i18n import AUDIO_DISCLAIMERS, OFFICIAL_EU_LANGUAGES
from aiact_transparency.provenance.audio import disclaimer
from aiact_transparency.provenance.audio.codec import decode_audio
from aiact_transparency.startup import load_config
from tests.tools import require_module, require_tool

require_module("av")
sf = require_module("soundfile")
require_tool("espeak-ng")


def _config(**settings: object) -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Acme Voice", "provider": "Acme GmbH"},
                              audio={"disclaimer": {"enabled": True, **settings}})


def _quiet_hum(seconds: float, rate: int, channels: int) -> np.ndarray:
    # A soft, smooth tone: anything the disclaimer adds stands out, and any step in it would be a click.
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.05 * np.sin(2 * np.pi * 220 * t)
    return np.stack([mono] * channels, axis=1).astype(np.float32)


def _wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _speech_band_energy(x: np.ndarray, rate: int) -> float:
    """Energy above 400 Hz (speech formants; the 220 Hz hum has none there)."""
    spectrum = np.abs(np.fft.rfft(x.mean(axis=1)))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(np.sum(spectrum[freqs > 400] ** 2))


@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (44_100, 2), (48_000, 2)])
def test_the_disclaimer_is_audible_at_the_start_without_clicks(rate: int, channels: int) -> None:
    original = _quiet_hum(8.0, rate, channels)
    marked = mark_audio(_wav(original, rate), config=_config())
    assert marked.report.disclaimer == "en" and any("spoken disclaimer (en)" in n for n in marked.report.notes)
    out = decode_audio(marked.data)
    assert out.format.rate == rate and out.format.channels == channels and len(out.samples) == len(original)
    head, tail = slice(0, 2 * rate), slice(5 * rate, 7 * rate)
    # Voice in the first two seconds: far more energy in the speech band than the hum has, and than the same
    # output has later (where only the watermark's faint change is).
    assert _speech_band_energy(out.samples[head], rate) > 100 * _speech_band_energy(original[head], rate)
    assert _speech_band_energy(out.samples[head], rate) > 100 * _speech_band_energy(out.samples[tail], rate)
    # No clicks: the mix never jumps more between neighbouring samples than voice and hum can.
    voice, voice_rate = disclaimer.synthesize(AUDIO_DISCLAIMERS["en"], "en")
    limit = float(np.max(np.abs(np.diff(voice)))) * (voice_rate / rate + 1) + float(np.max(np.abs(np.diff(original,
                                                                                                          axis=0))))
    mixed = disclaimer.mix_disclaimer(original, rate, voice, voice_rate, None)
    assert float(np.max(np.abs(np.diff(mixed, axis=0)))) <= limit
    assert float(np.max(np.abs(np.diff(mixed[: int(0.01 * rate)], axis=0)))) < 0.01  # the very start is smooth


def test_the_disclaimer_repeats_at_the_interval() -> None:
    rate = 22_050
    original = _quiet_hum(25.0, rate, 1)
    voice, voice_rate = disclaimer.synthesize(AUDIO_DISCLAIMERS["de"], "de")
    mixed = disclaimer.mix_disclaimer(original, rate, voice, voice_rate, 10.0)
    for start, spoken in ((0, True), (5, False), (10, True), (15, False), (20, True)):
        window = slice(start * rate, (start + 2) * rate)
        louder = _speech_band_energy(mixed[window], rate) > 100 * _speech_band_energy(original[window], rate) + 1e-6
        assert louder == spoken, start


def test_the_configured_language_and_text_are_spoken() -> None:
    language, text = disclaimer.disclaimer_text("fr-BE", {})
    assert (language, text) == ("fr", AUDIO_DISCLAIMERS["fr"])
    assert disclaimer.disclaimer_text("de", {"de": "Von KI erzeugt."}) == ("de", "Von KI erzeugt.")
    assert disclaimer.disclaimer_text("ja", {})[0] == "en"
    marked = mark_audio(_wav(_quiet_hum(4.0, 16_000, 1), 16_000), config=_config(language="pl"))
    assert marked.report.disclaimer == "pl" and verify(marked.data).c2pa["valid"]


def test_every_eu_language_has_a_sentence_espeak_ng_speaks() -> None:
    assert set(AUDIO_DISCLAIMERS) == set(OFFICIAL_EU_LANGUAGES) and len(AUDIO_DISCLAIMERS) == 24
    for language, text in AUDIO_DISCLAIMERS.items():
        voice, rate = disclaimer.synthesize(text, language)
        assert 1.0 < len(voice) / rate < 6.0, language


def test_off_by_default() -> None:
    plain = TransparencyConfig(system={"name": "Acme Voice"}, audio={"watermark": False})
    marked = mark_audio(_wav(_quiet_hum(3.0, 16_000, 1), 16_000), config=plain)
    assert marked.report.disclaimer is None and not marked.report.re_encoded


def test_a_missing_espeak_ng_is_a_start_up_error_naming_the_package(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text("audio:\n  disclaimer:\n    enabled: true\n")
    load_config(path)  # espeak-ng is installed here
    monkeypatch.setenv("PATH", str(tmp_path))  # fault: the program is not on the PATH
    with pytest.raises(ConfigError, match="install the Debian package espeak-ng"):
        load_config(path)


def test_a_missing_audio_extra_is_a_start_up_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo container has no audio extra: a config that asks for the disclaimer must say so at load_config.
    path = tmp_path / "aiact.yaml"
    path.write_text("audio:\n  disclaimer:\n    enabled: true\n")
    monkeypatch.setitem(sys.modules, "aiact_transparency.provenance.audio.disclaimer", None)  # fault: not installed
    with pytest.raises(ConfigError, match=r"audio\.disclaimer\.enabled.*aiact-transparency\[audio\]"):
        load_config(path)


def test_the_language_is_negotiated_unless_one_is_configured() -> None:
    clip = _wav(_quiet_hum(3.0, 16_000, 1), 16_000)
    assert mark_audio(clip, config=_config(), accept_language="sv-FI, de;q=0.8").report.disclaimer == "sv"
    assert mark_audio(clip, config=_config(), accept_language="ja").report.disclaimer == "en"
    assert mark_audio(clip, config=_config(language="pl"), accept_language="de").report.disclaimer == "pl"
    # A configured sentence in a language without a shipped one is negotiable too.
    assert mark_audio(clip, config=_config(text={"eo": "Tiun sonon generis AI."}),
                      accept_language="eo").report.disclaimer == "eo"
    # Nothing matching: the banner's default language, as for the banner.
    german = TransparencyConfig(system={"name": "Acme Voice"}, banner={"default_language": "de"},
                                audio={"disclaimer": {"enabled": True}})
    assert mark_audio(clip, config=german, accept_language="ja").report.disclaimer == "de"
    assert mark_audio(clip, config=german).report.disclaimer == "de"
