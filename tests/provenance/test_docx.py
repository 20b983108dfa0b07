"""DOCX documents: rewritten with stored entries, then signed with a C2PA manifest (real c2pa-python signing and
reading). python-docx builds the test documents (deflated, as Word and LibreOffice write them) and is the
independent reader that the signed package still opens with its text."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import c2pa
import docx
import pytest

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Receive, Scope, Send
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.c2pa.manifest import TRAINED_ALGORITHMIC_MEDIA
from aiact_transparency.provenance.c2pa.reading import read_manifest
from aiact_transparency.provenance.document import DocumentMarker
from aiact_transparency.provenance.document.ooxml import MAX_ENTRIES, stored_package
from aiact_transparency.provenance.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from aiact_transparency.provenance.formats import SUFFIX_TYPES, sniff_media_type
from aiact_transparency.provenance.media import mark, medium_for
from aiact_transparency.provenance.verify import verify_document

from ..tools import http_scope, run_app

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MANIFEST_PART = "META-INF/content_credential.c2pa"


def document(*paragraphs: str) -> bytes:
    made = docx.Document()
    for text in paragraphs or ("A generated report.",):
        made.add_paragraph(text)
    out = io.BytesIO()
    made.save(out)
    return out.getvalue()


def texts(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def rezip(data: bytes, edit: dict[str, bytes] | None = None, *, compression: int = zipfile.ZIP_DEFLATED,
          drop: tuple[str, ...] = (), stored: tuple[str, ...] = ()) -> bytes:
    """The package written again (as an editor saving it would): parts of `edit` replaced or added, those of
    `drop` left out, those of `stored` not compressed."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as target:
        for entry in source.infolist():
            if entry.filename not in drop:
                content = (edit or {}).get(entry.filename, source.read(entry))
                target.writestr(entry.filename, content, zipfile.ZIP_STORED if entry.filename in stored else None)
        for name, content in (edit or {}).items():
            if name not in source.namelist():
                target.writestr(name, content)
    return out.getvalue()


@pytest.fixture
def marker(config: TransparencyConfig) -> DocumentMarker:
    return DocumentMarker(config)


def test_a_docx_is_recognised_from_its_central_directory_only() -> None:
    data = document()
    assert all(e.compress_type == zipfile.ZIP_DEFLATED for e in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert sniff_media_type(data) == DOCX and SUFFIX_TYPES[".docx"] == DOCX
    assert medium_for(DOCX) is not None and medium_for(DOCX).name == "document"  # type: ignore[union-attr]
    # Another ZIP (an XLSX-like package, a plain archive) is no DOCX; nor is a DOCX cut short.
    assert sniff_media_type(rezip(data, drop=("word/document.xml",))) is None
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert sniff_media_type(plain.getvalue()) is None
    assert sniff_media_type(data[: len(data) - 30]) is None and sniff_media_type(data[:4000]) is None


def test_a_docx_is_signed_stored_and_still_opens_with_its_text(marker: DocumentMarker) -> None:
    original = document("First paragraph.", "Zweiter Absatz: äöü.")
    marked = marker.mark(original, DOCX)
    assert marked.media_type == DOCX and marked.report.watermark is False
    assert any("stored uncompressed" in n for n in marked.report.notes)
    manifest = read_manifest(marked.data, DOCX)
    assert manifest.valid and manifest.hard_binding_intact and manifest.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    report = verify_document(marked.data)
    assert report.marked and report.c2pa["ai_generated"] and report.media_type == DOCX
    assert texts(marked.data) == ["First paragraph.", "Zweiter Absatz: äöü."]  # python-docx reads it
    # The same parts in the same order with the same content and timestamps, every entry stored, plus the
    # manifest c2pa-rs adds; [Content_Types].xml gains only the Default for .c2pa (OPC: every part has a type).
    before, after = zipfile.ZipFile(io.BytesIO(original)), zipfile.ZipFile(io.BytesIO(marked.data))
    names = [e.filename for e in before.infolist()]
    assert [e.filename for e in after.infolist()][: len(names)] == names and MANIFEST_PART in after.namelist()
    assert all(e.compress_type == zipfile.ZIP_STORED for e in after.infolist())
    for entry in before.infolist():
        assert after.getinfo(entry.filename).date_time == entry.date_time
        if entry.filename != "[Content_Types].xml":
            assert after.read(entry.filename) == before.read(entry)
    types = after.read("[Content_Types].xml")
    assert types.replace(b'<Default Extension="c2pa" ContentType="application/c2pa"/>', b"", 1) == \
        before.read("[Content_Types].xml")
    assert after.testzip() is None


def test_an_edited_signed_docx_shows_a_broken_binding(marker: DocumentMarker) -> None:
    signed = marker.mark(document("Hello generated world.")).data
    flipped = bytearray(signed)
    at = flipped.index(b"Hello generated")  # the part is stored: its text is in the file as is
    flipped[at] = ord("J")
    manifest = read_manifest(bytes(flipped), DOCX)
    assert manifest.found and manifest.hard_binding_intact is False and not verify_document(bytes(flipped)).marked
    # Saved again by an editor: deflated, the text changed, the manifest part kept as it was (stored).
    part = zipfile.ZipFile(io.BytesIO(signed)).read("word/document.xml").replace(b"Hello", b"Jello")
    resaved = rezip(signed, {"word/document.xml": part}, stored=(MANIFEST_PART,))
    report = verify_document(resaved)
    assert not report.marked and report.c2pa["found"] and "binding broken" in report.c2pa["based_on"]


def test_a_signed_docx_deflated_whole_is_an_answer_not_a_crash(marker: DocumentMarker) -> None:
    signed = marker.mark(document()).data
    deflated = rezip(signed)  # the manifest part deflated as well: c2pa-python cannot read it
    report = verify_document(deflated)
    assert report.media_type == DOCX and not report.marked and not report.c2pa["found"]
    assert "could not be read" in report.c2pa["based_on"] and "compressed after signing" in report.c2pa["based_on"]
    # python-docx saving drops the part (no relationship leads to it): no manifest, said so.
    again = io.BytesIO()
    docx.Document(io.BytesIO(signed)).save(again)
    report = verify_document(again.getvalue())
    assert not report.marked and not report.c2pa["found"] and "no C2PA manifest" in report.c2pa["based_on"]


def test_a_docx_marked_twice_is_returned_as_it_is(marker: DocumentMarker) -> None:
    once = marker.mark(document()).data
    again = marker.mark(once)
    assert again.report.already_marked and again.data == once


def test_a_foreign_manifest_is_kept_as_an_ingredient(config: TransparencyConfig, tmp_path: Path) -> None:
    other = DocumentMarker(config, signer=keys.development_signer(tmp_path / "other-keys"))
    foreign = other.mark(document()).data
    ours = DocumentMarker(config).mark(foreign)
    assert not ours.report.already_marked and any("kept as an ingredient" in n for n in ours.report.notes)
    with c2pa.Reader(DOCX, io.BytesIO(ours.data)) as reader:
        store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    assert [i["relationship"] for i in active["ingredients"]] == ["componentOf"] and len(store["manifests"]) == 2
    assert read_manifest(ours.data, DOCX).valid and texts(ours.data) == texts(foreign)
    assert zipfile.ZipFile(io.BytesIO(ours.data)).namelist().count(MANIFEST_PART) == 1


def test_a_zip_that_is_not_a_docx_and_a_truncated_docx_are_refused(marker: DocumentMarker) -> None:
    not_docx = rezip(document(), drop=("word/document.xml",))
    with pytest.raises(UnsupportedImageError, match="ZIP archive that is not a DOCX"):
        marker.mark(not_docx, DOCX)
    with pytest.raises(UnsupportedImageError, match="ZIP archive that is not a DOCX"):
        marker.mark(document()[:-100], DOCX)
    with pytest.raises(UnsupportedImageError, match="not a DOCX"):
        verify_document(not_docx)


def test_a_zip_bomb_is_refused_before_it_is_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = rezip(document(), {"word/media/zeros.bin": bytes(8 * 1024 * 1024)})
    small = TransparencyConfig(system={"name": "A", "provider": "B"}, images={"max_bytes": 1024 * 1024})
    assert len(bomb) < 1024 * 1024 and sniff_media_type(bomb) == DOCX

    def inflated(*args: object, **kwargs: object) -> bytes:  # fault injection: no part may be read
        raise AssertionError("a part was decompressed")

    monkeypatch.setattr(zipfile.ZipFile, "read", inflated)
    with pytest.raises(ImageTooLargeError, match=r"images\.max_bytes"):
        DocumentMarker(small).mark(bomb)


def test_too_many_entries_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
        for i in range(MAX_ENTRIES):
            package.writestr(f"word/x{i}.xml", "")
    with pytest.raises(ImageTooLargeError, match="entries"):
        stored_package(out.getvalue(), max_bytes=1 << 30)


def _central_entry(data: bytes, name: bytes) -> int:
    """Where the central directory entry of `name` starts (fault injection patches its fields)."""
    at = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
    while data[at + 46 : at + 46 + len(name)] != name:
        at += 46 + sum(struct.unpack_from("<HHH", data, at + 28))
    return at


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def test_encrypted_zip64_and_lying_entries_are_refused_naming_the_problem(marker: DocumentMarker) -> None:
    data = document()
    at = _central_entry(data, b"word/document.xml")
    encrypted = _patched(data, at + 8, struct.pack("<H", struct.unpack_from("<H", data, at + 8)[0] | 1))
    with pytest.raises(UnsupportedImageError, match="encrypted"):
        marker.mark(encrypted)
    # A ZIP64 extra field on an entry of a small package (written under an unknown id, then renamed 0x0001).
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, entry.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            if entry.filename == "word/styles.xml":
                info.extra = struct.pack("<HHQ", 0x7A7A, 8, 0)
            package.writestr(info, source.read(entry))
    zip64 = out.getvalue().replace(struct.pack("<HH", 0x7A7A, 8), struct.pack("<HH", 0x0001, 8))
    with pytest.raises(UnsupportedImageError, match="ZIP64"):
        marker.mark(zip64)
    # A part declaring fewer bytes than it inflates to: zipfile stops at the declared size, the CRC fails.
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo("word/styles.xml").file_size
    lying = _patched(data, _central_entry(data, b"word/styles.xml") + 24, struct.pack("<I", size // 2))
    with pytest.raises(CorruptImageError, match="cannot be read"):
        marker.mark(lying)


def test_the_registry_and_the_middleware_sign_a_docx(config: TransparencyConfig) -> None:
    assert read_manifest(mark(document(), DOCX, config=config).data, DOCX).valid


@pytest.mark.anyio
async def test_the_middleware_signs_a_docx_response(config: TransparencyConfig) -> None:
    body = document("From the model.")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", DOCX.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    middleware = TransparencyMiddleware(app, config=config)
    sent = await run_app(middleware, http_scope("/report.docx"))
    data = b"".join(m.get("body", b"") for m in sent[1:])
    assert read_manifest(data, DOCX).valid and texts(data) == ["From the model."]
    length = dict(sent[0]["headers"]).get(b"content-length")
    assert length is None or int(length) == len(data)
    assert DOCX in middleware.discovery.document["marking"]["text"]["documents"]["types"]
