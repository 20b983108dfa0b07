"""Safe parsing, merging and serialising of XMP packets (Adobe XMP Part 1, RDF/XML subset).

Existing packets come from untrusted files, so parsing refuses any DOCTYPE / ENTITY declaration before expat
sees the text (no XXE, no billion laughs), and serialising is our own small writer so that prefixes are kept
without touching ElementTree's process-wide namespace registry.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .errors import XmpError

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_NS_XML = "http://www.w3.org/XML/1998/namespace"

_PREFERRED_PREFIXES = {NS_X: "x", NS_RDF: "rdf", NS_XMP: "xmp", NS_DC: "dc", NS_IPTC_EXT: "Iptc4xmpExt"}
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
# Characters XML 1.0 cannot carry even escaped; refusing them beats writing a packet readers reject.
_INVALID_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_DEPTH = 64
# Longest BOMs first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_PACKET_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TAIL = '\n<?xpacket end="w"?>'


def clark(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def check_xml_text(value: str, what: str) -> str:
    if _INVALID_XML_CHAR.search(value):
        raise ValueError(f"{what} contains control characters that XML 1.0 cannot represent")
    return value


def _decode(packet: bytes) -> str:
    # XMP is UTF-8 in practice; the spec also allows UTF-16/32 announced by a BOM.
    codec = "utf-8"
    for bom, candidate in _BOMS:
        if packet.startswith(bom):
            codec = candidate
            break
    try:
        return packet.decode(codec)
    except UnicodeDecodeError as exc:
        raise XmpError(f"XMP packet is not valid {codec.upper()}: {exc.reason}") from None


def parse_packet(packet: bytes) -> tuple[ET.Element, dict[str, str]]:
    """Return the root element and the prefix each namespace URI had in the source."""
    text = _decode(packet)
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise XmpError("XMP packet contains a DOCTYPE or ENTITY declaration; refused (XXE / entity expansion)")
    # The declaration may name an encoding we already decoded; expat would object to it on str input.
    text = _XML_DECL.sub("", text, count=1)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start-ns", "start"))
    prefixes: dict[str, str] = {}
    root: ET.Element | None = None
    try:
        parser.feed(text)
        parser.close()
    except ET.ParseError as exc:
        raise XmpError(f"XMP packet is not well-formed XML: {exc}") from None
    for entry in parser.read_events():
        item = entry[1] if len(entry) == 2 else None
        if entry[0] == "start-ns" and isinstance(item, tuple):
            prefixes.setdefault(item[1], item[0])
        elif entry[0] == "start" and root is None and isinstance(item, ET.Element):
            root = item
    if root is None:
        raise XmpError("XMP packet has no root element")
    return root, prefixes


def find_rdf(root: ET.Element) -> ET.Element:
    rdf = root if root.tag == clark(NS_RDF, "RDF") else root.find(f".//{clark(NS_RDF, 'RDF')}")
    if rdf is None:
        raise XmpError("XMP packet has no rdf:RDF element")
    return rdf


def find_property(root: ET.Element, ns: str, name: str) -> str | None:
    """Value of a simple property in either RDF form: attribute or element (text or rdf:resource)."""
    qname = clark(ns, name)
    for desc in root.iter(clark(NS_RDF, "Description")):
        if qname in desc.attrib:
            return desc.attrib[qname].strip()
        for child in desc:
            if child.tag == qname:
                value = child.get(clark(NS_RDF, "resource"), child.text or "")
                return value.strip() or None
    return None


def new_root() -> ET.Element:
    root = ET.Element(clark(NS_X, "xmpmeta"))
    ET.SubElement(root, clark(NS_RDF, "RDF"))
    return root


def set_properties(rdf: ET.Element, props: dict[str, str]) -> None:
    """Replace our properties (clark name -> text) wherever they are; everything else stays as it was."""
    descriptions = rdf.findall(clark(NS_RDF, "Description"))
    for desc in descriptions:
        for qname in props:
            desc.attrib.pop(qname, None)
        for child in list(desc):
            if child.tag in props:
                desc.remove(child)
    if descriptions:
        target = descriptions[0]
    else:
        target = ET.SubElement(rdf, clark(NS_RDF, "Description"), {clark(NS_RDF, "about"): ""})
    for qname, value in props.items():
        ET.SubElement(target, qname).text = value


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        # Literal newlines/tabs in attributes are normalised to spaces by parsers; keep them as references.
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def _assign_prefixes(root: ET.Element, source: dict[str, str]) -> dict[str, str]:
    uris: set[str] = set()
    for el in root.iter():
        for name in (el.tag, *el.attrib):
            if name.startswith("{"):
                uris.add(name[1:].partition("}")[0])
    uris.discard(_NS_XML)
    chosen: dict[str, str] = {_NS_XML: "xml"}
    used = {"xml"}
    counter = 0
    for uri in sorted(uris, key=lambda u: (u not in _PREFERRED_PREFIXES, u)):
        prefix = _PREFERRED_PREFIXES.get(uri) or source.get(uri) or ""
        while not _NCNAME.match(prefix) or prefix in used or prefix.lower().startswith("xml"):
            counter += 1
            prefix = f"ns{counter}"
        chosen[uri] = prefix
        used.add(prefix)
    return chosen


def _qname(name: str, prefixes: dict[str, str]) -> str:
    if not name.startswith("{"):
        return name
    uri, _, local = name[1:].partition("}")
    return f"{prefixes[uri]}:{local}"


def _write(el: ET.Element, prefixes: dict[str, str], out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise XmpError(f"XMP packet nests deeper than {_MAX_DEPTH} levels")
    tag = _qname(el.tag, prefixes)
    attrs = "".join(f' {_qname(k, prefixes)}="{_escape(v, attribute=True)}"' for k, v in el.attrib.items())
    if depth == 0:
        attrs = "".join(f' xmlns:{p}="{_escape(u, attribute=True)}"' for u, p in prefixes.items() if p != "xml") + attrs
    out.append(f"<{tag}{attrs}>")
    out.append(_escape(el.text or ""))
    for child in el:
        _write(child, prefixes, out, depth + 1)
        out.append(_escape(child.tail or ""))
    out.append(f"</{tag}>")


def serialize_packet(root: ET.Element, source_prefixes: dict[str, str]) -> bytes:
    out: list[str] = [_PACKET_HEAD]
    _write(root, _assign_prefixes(root, source_prefixes), out, 0)
    out.append(_PACKET_TAIL)
    return "".join(out).encode("utf-8")
