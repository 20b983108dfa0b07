"""The CLI marks and verifies documents (DOCX, PDF) like images: a real subprocess, real files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import docx
from PIL import Image

from .test_cli import run


def test_mark_then_verify_a_docx(tmp_path: Path) -> None:
    made = docx.Document()
    made.add_paragraph("A generated letter.")
    source, out = tmp_path / "letter.docx", tmp_path / "letter-marked.docx"
    made.save(str(source))
    marked = run("mark", str(source), str(out))
    assert marked.returncode == 0, marked.stderr
    assert "wordprocessingml.document, marked with C2PA" in marked.stdout and "stored uncompressed" in marked.stdout
    assert [p.text for p in docx.Document(str(out)).paragraphs] == ["A generated letter."]
    verified = run("verify", str(out))
    assert verified.returncode == 0, verified.stderr
    assert "MARKED as AI-generated" in verified.stdout
    assert "watermark: none (no watermark is embedded" in verified.stdout
    result = run("verify", "--json", str(source))
    assert result.returncode == 1  # read, and not marked
    assert json.loads(result.stdout)[str(source)]["c2pa"]["found"] is False


def test_a_marked_docx_named_pdf_is_refused(tmp_path: Path) -> None:
    made = docx.Document()
    made.add_paragraph("x")
    source = tmp_path / "in.docx"
    made.save(str(source))
    result = run("mark", str(source), str(tmp_path / "out.pdf"))
    assert result.returncode == 2 and "name the output out.docx" in result.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_mark_then_verify_a_pdf(tmp_path: Path) -> None:
    source, out = tmp_path / "page.pdf", tmp_path / "page-marked.pdf"
    Image.new("RGB", (200, 100), "white").save(source, "PDF")
    marked = run("mark", str(source), str(out))
    assert marked.returncode == 0, marked.stderr
    assert "application/pdf, marked with C2PA" in marked.stdout
    verified = run("verify", str(out))
    assert verified.returncode == 0 and "MARKED as AI-generated" in verified.stdout, verified.stderr
