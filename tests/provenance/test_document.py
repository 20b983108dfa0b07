"""PDF documents: a signed C2PA manifest (real c2pa-python signing and reading), no watermark; the registry
routes them, and the middleware signs a PDF response. Test PDFs are made with Pillow."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Receive, Scope, Send
from aiact_transparency.provenance.c2pa.manifest import TRAINED_ALGORITHMIC_MEDIA
from aiact_transparency.provenance.c2pa.reading import read_manifest
from aiact_transparency.provenance.document import DocumentMarker
from aiact_transparency.provenance.errors import SigningError, UnsupportedImageError
from aiact_transparency.provenance.formats import sniff_media_type
from aiact_transparency.provenance.media import mark, medium_for
from aiact_transparency.provenance.verify import verify, verify_document

from ..tools import http_scope, run_app


def pdf(pages: int = 1) -> bytes:
    images = [Image.new("RGB", (300, 200), (255, 255 - 40 * i, 255)) for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def test_a_pdf_is_signed_and_verifies_with_no_watermark(config: TransparencyConfig) -> None:
    marked = DocumentMarker(config).mark(pdf(2), "application/pdf")
    assert marked.media_type == "application/pdf" and marked.data.startswith(b"%PDF-")
    assert marked.report.watermark is False and "no watermark" in marked.report.notes[0]
    manifest = read_manifest(marked.data, "application/pdf")
    assert manifest.valid and manifest.hard_binding_intact
    assert manifest.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    report = verify_document(marked.data)
    assert report.marked and report.c2pa["ai_generated"] and report.watermark["found"] is False
    assert verify(marked.data) == report  # the one entry point hands documents on: the bytes decide


def test_an_edited_signed_pdf_shows_a_broken_binding(config: TransparencyConfig) -> None:
    data = bytearray(DocumentMarker(config).mark(pdf()).data)
    at = data.index(b"/MediaBox")
    data[at + 12] ^= 1
    manifest = read_manifest(bytes(data), "application/pdf")
    assert manifest.found and manifest.hard_binding_intact is False and not verify_document(bytes(data)).marked


def test_a_pdf_marked_twice_is_returned_as_it_is(config: TransparencyConfig) -> None:
    marker = DocumentMarker(config)
    once = marker.mark(pdf()).data
    again = marker.mark(once)
    assert again.report.already_marked and again.data == once


def test_the_registry_routes_pdf_to_the_document_marker(config: TransparencyConfig) -> None:
    assert sniff_media_type(pdf()) == "application/pdf"
    medium = medium_for("application/pdf")
    assert medium is not None and medium.name == "document"
    assert read_manifest(mark(pdf(), "application/pdf", config=config).data, "application/pdf").valid


def test_not_a_pdf_is_refused_and_c2pa_off_signs_nothing(config: TransparencyConfig) -> None:
    with pytest.raises(UnsupportedImageError, match="not a markable document"):
        DocumentMarker(config).mark(b"hello", "application/pdf")
    off = TransparencyConfig(system={"name": "A", "provider": "B"}, images={"c2pa": False})
    with pytest.raises(SigningError, match="only mark a document gets"):
        DocumentMarker(off).mark(pdf())


@pytest.mark.anyio
async def test_the_middleware_signs_a_pdf_response(config: TransparencyConfig) -> None:
    body = pdf()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/pdf"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    sent = await run_app(TransparencyMiddleware(app, config=config), http_scope("/report.pdf"))
    data = b"".join(m.get("body", b"") for m in sent[1:])
    assert data != body and read_manifest(data, "application/pdf").valid
