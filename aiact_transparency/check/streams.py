"""Event-stream checks: a notice before the first event, as a comment line (which EventSource and SSE parsers
skip, so it never reaches the model's output as a token), and the first event not held back by it."""

from __future__ import annotations

from dataclasses import dataclass

from .ai_words import mentions_ai
from .probe import Probe
from .report import ART_50_1, ART_50_5, CheckResult, Evidence

_BUFFERED_S = 0.5  # a stream taking longer than this, every event arriving at the very end: it was held back


@dataclass
class _Block:
    comments: list[str]
    data: list[str]
    at_s: float  # when its last byte arrived


def _blocks(probe: Probe) -> list[_Block]:
    blocks: list[_Block] = []
    current = _Block([], [], 0.0)
    buffer = ""
    for at, chunk in probe.chunks or [(probe.elapsed_s, probe.body)]:
        buffer += chunk.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        *lines, buffer = buffer.split("\n")
        for line in lines:
            if line == "":
                if current.comments or current.data:
                    current.at_s = at
                    blocks.append(current)
                current = _Block([], [], 0.0)
            elif line.startswith(":"):
                current.comments.append(line[1:].strip())
            elif line.startswith("data"):
                current.data.append(line.partition(":")[2].strip())
    return blocks


def stream_checks(probe: Probe) -> list[CheckResult]:
    target = probe.url
    kind = probe.headers.get("content-type", "").split(";")[0].strip().lower()
    if probe.error is not None or probe.status is None or probe.status >= 400 or kind != "text/event-stream":
        why = probe.describe() + ("" if probe.error or (probe.status or 500) >= 400 else f": Content-Type {kind}")
        return [CheckResult(id="stream.notice", obligation=ART_50_1, status="fail", target=target,
                            title="Notice before the first event", evidence=Evidence(why),
                            fix="make the stream route answer 200 text/event-stream (check --stream-body)")]
    blocks = _blocks(probe)
    events = [b for b in blocks if b.data]
    comment_notice = next((i for i, b in enumerate(blocks) if any(mentions_ai(c) for c in b.comments)), None)
    # A notice sent as an event: one that says AI and calls itself a disclosure or notice, or the very first
    # event when it says AI-generated (model output rarely opens by announcing itself).
    data_notice = next((i for i, b in enumerate(blocks) if any(
        mentions_ai(d) and (any(w in d.lower() for w in ("disclos", "notice")) or (i == 0 and "generated" in d.lower()))
        for d in b.data)), None)
    first_event = next((i for i, b in enumerate(blocks) if b.data and i != data_notice), None)
    shown = "\n".join((": " + "\n: ".join(b.comments) if b.comments else "") + "\n".join(f"data: {d}" for d in b.data)
                      for b in blocks[:3])[:600]
    if comment_notice is not None and (first_event is None or comment_notice <= first_event):
        notice = CheckResult(id="stream.notice", obligation=ART_50_1, status="pass", target=target,
                             title="Notice before the first event", evidence=Evidence(shown))
    elif data_notice is not None:
        notice = CheckResult(
            id="stream.notice", obligation=ART_50_1, status="fail", target=target,
            title="Notice before the first event",
            evidence=Evidence(f"the notice is a data: event, which clients take as model output:\n{shown}"),
            fix="send the notice as an SSE comment line before the first event (': AI-Disclosure: ...'), "
            "not as a data: event")
    elif comment_notice is not None:
        notice = CheckResult(id="stream.notice", obligation=ART_50_1, status="fail", target=target,
                             title="Notice before the first event",
                             evidence=Evidence(f"the notice comes after the first event:\n{shown}"),
                             fix="send the notice comment before the first event")
    else:
        notice = CheckResult(id="stream.notice", obligation=ART_50_1, status="fail", target=target,
                             title="Notice before the first event",
                             evidence=Evidence(f"no comment or event says AI in {len(blocks)} blocks:\n{shown}"),
                             fix="send an SSE comment line ': AI-Disclosure: ...' before the first event "
                             "(TransparencyMiddleware does)")
    return [notice, _delay(probe, blocks, events, target)]


def _delay(probe: Probe, blocks: list[_Block], events: list[_Block], target: str) -> CheckResult:
    if not events:
        return CheckResult(id="stream.first-event", obligation=ART_50_5, status="n/a", target=target,
                           title="First event not delayed by the notice", evidence=Evidence("no events"),
                           required=False)
    first = events[0].at_s
    notice_at = probe.first_chunk_s if probe.first_chunk_s is not None else first
    evidence = (f"first bytes after {notice_at * 1000:.0f} ms, first event after {first * 1000:.0f} ms, "
                f"{len(events)} events, stream ended after {probe.elapsed_s * 1000:.0f} ms")
    held = len(events) > 1 and probe.elapsed_s > _BUFFERED_S and all(e.at_s == events[-1].at_s for e in events)
    return CheckResult(
        id="stream.first-event", obligation=ART_50_5, status="warn" if held else "pass", target=target,
        title="First event not delayed by the notice", required=False,
        evidence=Evidence(evidence + ("; every event arrived together at the end: the stream was held back"
                                      if held else "")),
        fix="stream the notice and the events as they come; do not buffer the response" if held else "")
