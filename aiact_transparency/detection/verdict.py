"""One verdict from the per-layer reports, and the kinds of evidence it rests on.

Each layer report says `checked` (the layer could be read at all), `ai_mark` (it says AI-generated) and
`this_system` (it attributes the content to this very system). The verdict:

- "generated-by-this-system": a layer attributes the content to us: a valid C2PA manifest with an AI source
  type, naming our system and signed by our signer; our watermark's system id; a match in our fingerprint log.
- "marked-by-another-system": AI marks are present, none of them ours. Unsigned XMP never attributes content
  to anyone (anyone can write it, naming any system), so an XMP-only AI claim lands here even when it names
  us; the explanation says it is unsigned metadata only.
- "not-detected": no AI mark in any layer checked. Marks can be stripped: this never shows a person made it.

`based_on` lists the kinds (metadata = C2PA or XMP, watermark, fingerprint) of the layers the verdict rests
on: those attributing it to us, those carrying the marks, or, for "not-detected", those checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KINDS", "Verdict", "VerdictName", "combine"]

VerdictName = Literal["generated-by-this-system", "marked-by-another-system", "not-detected"]
KINDS = {"c2pa": "metadata", "xmp": "metadata", "watermark": "watermark", "fingerprint": "fingerprint"}
_ORDER = ("metadata", "watermark", "fingerprint")


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    based_on: list[str]
    explanation: str


def _kinds(names: list[str]) -> list[str]:
    found = {KINDS[name] for name in names}
    return [kind for kind in _ORDER if kind in found]


def combine(layers: Mapping[str, Mapping[str, Any]]) -> Verdict:
    ours = [name for name, layer in layers.items() if layer.get("this_system")]
    marks = [name for name, layer in layers.items() if layer.get("ai_mark")]
    checked = [name for name, layer in layers.items() if layer.get("checked")]
    if ours:
        return Verdict("generated-by-this-system", _kinds(ours),
                       f"attributed to this system by: {', '.join(ours)}")
    if marks == ["xmp"]:
        return Verdict("marked-by-another-system", ["metadata"],
                       "only unsigned XMP metadata says AI-generated: anyone can write or strip it, so it attributes "
                       "the content to no system, this one included")
    if marks:
        return Verdict("marked-by-another-system", _kinds(marks),
                       f"AI marks found ({', '.join(marks)}), none of them this system's")
    return Verdict("not-detected", _kinds(checked),
                   f"no AI mark found in the layers checked ({', '.join(checked) or 'none'}); marks can be removed, "
                   "so this does not show that a person made the content")
