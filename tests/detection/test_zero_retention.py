"""Zero retention: a submission's bytes, text and hash appear in no log record and in no new file."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import httpx
import pytest
from PIL import PngImagePlugin

from aiact_transparency.detection.endpoint import DetectionEndpoint
from tests.detection.asgi import PATH
from tests.detection.conftest import encode, photo_like

pytestmark = pytest.mark.anyio
MARKER = "ZeroRetentionMarker-7f3a9c"


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*")}


async def test_nothing_about_a_submission_is_logged_or_written(endpoint: DetectionEndpoint, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # so tempfile reads TMPDIR again
    monkeypatch.chdir(tmp_path)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARKER)  # a well-formed image whose bytes carry the marker
    image = encode(photo_like(300, 300), "PNG", pnginfo=info)
    assert MARKER.encode() in image
    text = f"Some words and a {MARKER} in the middle."
    bad_form = (f"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n{MARKER}\r\n\r\nx\r\n--b--\r\n").encode()
    before = _files(tmp_path)
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint), base_url="http://t") as http:
        responses = [
            await http.post(PATH, content=image, headers={"content-type": "image/png"}),
            await http.post(PATH, files={"file": ("m.png", image, "image/png")}),
            await http.post(PATH, data={"text": text}, files={"file": ("", b"")}),
            await http.post(PATH, content=text.encode(), headers={"content-type": "text/plain"}),
            await http.post(PATH, content=bad_form, headers={"content-type": "multipart/form-data; boundary=b"}),
            await http.post(PATH, content=MARKER.encode() * 100, headers={"content-type": "image/webp"}),
        ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 400, 415]
    hashes = [hashlib.sha256(data).hexdigest() for data in (image, text.encode())]
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert MARKER not in logged
    assert not any(digest in logged for digest in hashes)
    assert _files(tmp_path) == before
    assert all(MARKER not in r.text for r in responses[4:])  # error answers do not echo the body either
    assert os.listdir(scratch) == []
