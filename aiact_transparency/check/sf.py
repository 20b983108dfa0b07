"""Reading AI-Disclosure with a real RFC 9651 parser (http-sf), and naming what is wrong with it.

The draft's own example separates members with ';', which RFC 9651 reads as parameters of the first
member: `mode=ai-originated;model="x"` is a Dictionary with one member, mode, whose parameters hold the rest.
Readers that follow RFC 9651 then see no model or provider. That form is recognised and named as a finding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

MODES = ("none", "ai-modified", "ai-originated", "machine-generated")
STRING_KEYS = ("model", "provider", "reviewed-by")


@dataclass
class Disclosure:
    raw: str
    members: dict[str, Any] = field(default_factory=dict)  # bare values
    problems: list[str] = field(default_factory=list)  # each names the fix
    semicolon_form: bool = False
    mode: str | None = None
    date: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def _http_sf() -> Any:
    try:
        import http_sf
    except ImportError as exc:
        raise ImportError("checking AI-Disclosure needs http-sf: pip install 'aiact-transparency[check]'") from exc
    return http_sf


def _valid_example(mode: str = "ai-originated") -> str:
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    return f'AI-Disclosure: mode={mode}, model="...", provider="...", date=@{now}'


def parse_disclosure(raw: str) -> Disclosure:
    http_sf = _http_sf()
    result = Disclosure(raw=raw)
    try:
        parsed = http_sf.parse(raw.encode("latin-1", "replace"), tltype="dictionary")
    except http_sf.StructuredFieldError as exc:
        result.problems.append(f"not an RFC 9651 Dictionary ({exc}). Fix: send {_valid_example()}")
        return result
    members = {key: value for key, (value, _params) in parsed.items()}
    result.members = members
    mode_entry = parsed.get("mode")
    if mode_entry is None:
        bare = [key for key, value in members.items() if value is True]
        named = f" ('{bare[0]}' alone is a key without a value, not a mode)" if bare else ""
        result.problems.append(f"no `mode` member{named}. Fix: send {_valid_example()}")
        return result
    mode, params = mode_entry
    if params and set(params) & {"model", "provider", "reviewed-by", "date"}:
        result.semicolon_form = True
        result.problems.append(
            "members are separated by ';' (the draft's example form): RFC 9651 reads "
            f"{', '.join(sorted(params))} as parameters of `mode`, not as members. "
            "Fix: separate the members with ', ' instead of ';', e.g. " + _valid_example(str(mode))
        )
        members.update(params)  # report what was meant, so the other checks still see the model and provider
    if not isinstance(mode, http_sf.Token):
        result.problems.append(f"`mode` is {type(mode).__name__} {mode!r}, not a Token. Fix: mode=ai-originated "
                               "(no quotes)")
        return result
    result.mode = str(mode)
    if result.mode not in MODES:
        result.problems.append(f"`mode={result.mode}` is not one of {', '.join(MODES)}. Fix: e.g. mode=ai-originated")
    for key in STRING_KEYS:
        if key in members and not isinstance(members[key], str):
            result.problems.append(f"`{key}` must be a String (quoted). Fix: {key}=\"...\"")
    date = members.get("date")
    if isinstance(date, dt.datetime):
        result.date = date
    elif date is not None:
        result.problems.append(f"`date` is {date!r}, not an RFC 9651 Date. Fix: date=@<epoch seconds>")
    return result
