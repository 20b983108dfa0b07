"""Whether the resolved styles hide a notice: the static half of "visible"; --browser measures the rendered one."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .css import Cascade

_ZERO = re.compile(r"^-?0(?:\.0+)?(?:px|em|rem|%|pt)?$")
_FAR = re.compile(r"^-\d{3,}(?:\.\d+)?(?:px|em|rem)?$")  # -999px and beyond: moved off screen


def _own_reason(el: ET.Element, declared: dict[str, str], is_notice: bool) -> str | None:
    if el.get("hidden") is not None:
        return f"<{el.tag}> has the hidden attribute"
    if (el.get("aria-hidden") or "").lower() == "true":
        return f"<{el.tag}> has aria-hidden=\"true\": screen readers skip it"
    display = declared.get("display", "").lower()
    if display == "none":
        return f"<{el.tag}> has display:none"
    opacity = declared.get("opacity", "")
    try:
        if opacity and float(opacity.rstrip("%")) == 0:
            return f"<{el.tag}> has opacity:{opacity}"
    except ValueError:
        pass
    if is_notice:  # these do not propagate to descendants the same way: judge them on the notice itself
        visibility = declared.get("visibility", "").lower()
        if visibility in ("hidden", "collapse"):
            return f"<{el.tag}> has visibility:{visibility}"
        if _ZERO.match(declared.get("font-size", "x")):
            return f"<{el.tag}> has font-size:{declared['font-size']}"
        for size in ("height", "width"):
            if _ZERO.match(declared.get(size, "x")) and declared.get("overflow", "").lower() in ("hidden", "clip"):
                return f"<{el.tag}> has {size}:0 with overflow:hidden"
        if declared.get("position", "").lower() in ("absolute", "fixed"):
            for side in ("left", "top"):
                if _FAR.match(declared.get(side, "x")):
                    return f"<{el.tag}> is moved off screen ({side}:{declared[side]})"
        clip = declared.get("clip", "") + declared.get("clip-path", "")
        if "rect(0" in clip.replace(" ", "") or "inset(50%" in clip.replace(" ", ""):
            return f"<{el.tag}> is clipped away ({clip})"
    return None


def hidden_reason(el: ET.Element, cascade: Cascade) -> str | None:
    """Why the notice cannot be seen, judged from the resolved styles of it and its ancestors; None if nothing
    resolved hides it. Inherited visibility is resolved too: visibility:hidden on an ancestor hides the
    notice unless the notice (or an ancestor below) sets visibility:visible again."""
    node: ET.Element | None = el
    visibility: str | None = None
    while node is not None:
        declared = cascade.declared(node)
        reason = _own_reason(node, declared, node is el)
        if reason:
            return reason
        if visibility is None and declared.get("visibility"):
            visibility = declared["visibility"].lower()
            if visibility in ("hidden", "collapse"):
                return f"<{node.tag}> has visibility:{visibility}" + (" (inherited)" if node is not el else "")
        node = cascade.parent(node)
    return None
