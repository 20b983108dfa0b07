"""A deterministic, varied set of test clips: espeak-ng speech in several languages, synthesised music
(struck notes, chords, drum-like transients, sustained tones), noise-like sound, clips with silences; mono and
stereo; 16, 22.05, 44.1 and 48 kHz. Used by the test suite (short clips) and bench/audio_robustness.py (all).

Everything is seeded: the same call gives the same samples (espeak-ng is deterministic for a given version).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aiact_transparency.provenance.audio._stft import resample

F32 = npt.NDArray[np.float32]
RATES = (16_000, 22_050, 44_100, 48_000)

SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog while the radio plays an old song.",
    "de": "Der schnelle braune Fuchs springt über den faulen Hund, und das Radio spielt ein altes Lied.",
    "fr": "Le renard brun rapide saute par-dessus le chien paresseux pendant que la radio joue.",
    "es": "El rápido zorro marrón salta sobre el perro perezoso mientras suena la radio.",
    "it": "La volpe marrone veloce salta sopra il cane pigro mentre la radio suona una canzone.",
    "pl": "Szybki brązowy lis przeskakuje nad leniwym psem, a radio gra starą piosenkę.",
    "nl": "De snelle bruine vos springt over de luie hond terwijl de radio een oud liedje speelt.",
    "sv": "Den snabba bruna räven hoppar över den lata hunden medan radion spelar en gammal sång.",
}


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # speech, music, noise, silences
    samples: F32  # [n, channels], float32, full scale +-1
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


def espeak(text: str, voice: str, speed: int = 160) -> tuple[F32, int]:
    """espeak-ng's own output (22.05 kHz mono 16-bit), as float."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True)
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return (data.astype(np.float32) / 32768.0), rate


def _fit(signal: F32, seconds: float, rate: int) -> F32:
    """Loop (with a short pause) or cut to exactly `seconds`."""
    need = round(seconds * rate)
    pause = np.zeros(int(0.25 * rate), dtype=np.float32)
    out = signal
    while len(out) < need:
        out = np.concatenate([out, pause, signal])
    return out[:need]


def speech(lang: str, seconds: float, rate: int, speed: int = 160) -> F32:
    voice, native = espeak(SENTENCES[lang], lang, speed)
    return _fit(resample(voice, native, rate), seconds, rate) * 0.9


def _envelope(n: int, rate: int, attack: float, decay: float) -> F32:
    t = np.arange(n, dtype=np.float32) / rate
    return (np.minimum(1.0, t / attack) * np.exp(-t / decay)).astype(np.float32)


def music(seconds: float, rate: int, rng: np.random.Generator, *, drums: bool = True, sustain: bool = False) -> F32:
    """Struck harmonic notes and chords with attacks and decays, optional drum hits, optional pad tones."""
    n = round(seconds * rate)
    out = np.zeros(n, dtype=np.float32)
    beat = 60.0 / rng.uniform(80, 140)
    t_note = 0.0
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    root = rng.uniform(110, 220)
    while t_note < seconds:
        start = int(t_note * rate)
        length = min(n - start, int(rate * rng.uniform(0.3, 1.2)))
        t = np.arange(length, dtype=np.float32) / rate
        chord = rng.choice(scale, size=rng.integers(1, 4), replace=False)
        note = np.zeros(length, dtype=np.float32)
        for step in chord:
            f0 = root * 2 ** (step / 12) * rng.choice([1, 2])
            for h in range(1, 8):
                if f0 * h < rate / 2 - 500:
                    note += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)).astype(np.float32) / h**1.3
        out[start : start + length] += 0.25 * note * _envelope(length, rate, 0.005, rng.uniform(0.15, 0.6))
        t_note += beat * rng.choice([0.5, 1, 1, 2])
    if drums:
        hit = int(rate * 0.12)
        for k in range(int(seconds / beat)):
            start = int(k * beat * rate)
            length = min(hit, n - start)
            t = np.arange(length, dtype=np.float32) / rate
            kick = np.sin(2 * np.pi * 60 * t * (1 + 2 * np.exp(-t / 0.02))) * np.exp(-t / 0.05)
            snare = rng.standard_normal(length) * np.exp(-t / 0.03) * (k % 2)
            out[start : start + length] += (0.5 * kick + 0.2 * snare).astype(np.float32)
    if sustain:
        t = np.arange(n, dtype=np.float32) / rate
        for f in (root, root * 1.5, root * 2):
            out += 0.08 * np.sin(2 * np.pi * f * t).astype(np.float32) * (1 + 0.1 * np.sin(2 * np.pi * 0.3 * t))
    return (0.8 * out / max(1e-9, float(np.max(np.abs(out))))).astype(np.float32)


def tones(seconds: float, rate: int, rng: np.random.Generator) -> F32:
    """Sustained tones only (organ-like), with slow vibrato: the hardest case for a masking-based mark."""
    t = np.arange(round(seconds * rate), dtype=np.float32) / rate
    out = np.zeros_like(t)
    for f in rng.uniform(150, 900, size=3):
        vib = 1 + 0.003 * np.sin(2 * np.pi * 5 * t)
        for h in (1, 2, 3, 4):
            out += np.sin(2 * np.pi * f * h * vib * t).astype(np.float32) / h
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def coloured_noise(seconds: float, rate: int, rng: np.random.Generator, exponent: float) -> F32:
    """1/f**exponent noise: 1 pink, 2 brown."""
    n = round(seconds * rate)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    spec[1:] /= f[1:] ** (exponent / 2)
    spec[0] = 0
    out = np.fft.irfft(spec, n)
    return (0.3 * out / np.std(out) / 3).astype(np.float32)


def rain(seconds: float, rate: int, rng: np.random.Generator) -> F32:
    """Random short decaying noise bursts over a soft noise bed."""
    n = round(seconds * rate)
    out = 0.02 * rng.standard_normal(n)
    for start in rng.integers(0, n, size=int(seconds * 40)):
        length = min(n - start, int(rate * 0.01))
        t = np.arange(length) / rate
        out[start : start + length] += rng.uniform(0.05, 0.3) * rng.standard_normal(length) * np.exp(-t / 0.002)
    return (0.7 * out / np.max(np.abs(out))).astype(np.float32)


def with_silences(signal: F32, rate: int, rng: np.random.Generator) -> F32:
    """Digital silence at the start and in one or two gaps (0.3-0.8 s each)."""
    out = signal.copy()
    out[: int(0.4 * rate)] = 0
    for _ in range(rng.integers(1, 3)):
        length = int(rate * rng.uniform(0.3, 0.8))
        start = int(rng.integers(0, max(1, len(out) - length)))
        out[start : start + length] = 0
    return out


def _stereo(signal: F32, rng: np.random.Generator, rate: int) -> F32:
    """A plausible stereo image: a small delay and level difference, plus a decorrelated part."""
    delay = int(rng.integers(1, max(2, rate // 2000)))
    right = np.concatenate([np.zeros(delay, dtype=np.float32), signal[:-delay]]) * rng.uniform(0.6, 0.9)
    return np.stack([signal, right.astype(np.float32)], axis=1)


_Maker = Callable[[float, int, np.random.Generator], F32]
_LANGS = tuple(SENTENCES)


def _makers() -> list[tuple[str, str, _Maker]]:
    makers: list[tuple[str, str, _Maker]] = []
    for i, lang in enumerate(_LANGS):
        makers.append((f"speech-{lang}", "speech", lambda s, r, g, lang=lang, i=i: speech(lang, s, r, 140 + 10 * i)))
    makers += [
        ("music-drums", "music", lambda s, r, g: music(s, r, g)),
        ("music-sustain", "music", lambda s, r, g: music(s, r, g, drums=False, sustain=True)),
        ("tones", "music", tones),
        ("pink-noise", "noise", lambda s, r, g: coloured_noise(s, r, g, 1.0)),
        ("brown-noise", "noise", lambda s, r, g: coloured_noise(s, r, g, 2.0)),
        ("rain", "noise", rain),
        ("speech-gaps", "silences", lambda s, r, g: with_silences(speech("en", s, r), r, g)),
        ("music-gaps", "silences", lambda s, r, g: with_silences(music(s, r, g), r, g)),
    ]
    return makers


def clip_set(count: int = 40, seconds: tuple[float, float] = (3.0, 6.0), seed: int = 20261201) -> list[Clip]:
    """`count` clips cycling through the kinds, rates and mono/stereo; durations drawn from `seconds`."""
    rng = np.random.default_rng(seed)
    makers = _makers()
    clips = []
    for i in range(count):
        name, kind, make = makers[i % len(makers)]
        rate = RATES[(i // len(makers) + i) % len(RATES)]
        stereo = (i // 2) % 2 == 1
        length = float(np.round(rng.uniform(*seconds), 2))
        mono = make(length, rate, np.random.default_rng([seed, i]))
        samples = _stereo(mono, rng, rate) if stereo else mono[:, None]
        clips.append(Clip(f"{i:02d}-{name}-{rate // 1000}k-{'st' if stereo else 'mo'}", kind, samples, rate))
    return clips
