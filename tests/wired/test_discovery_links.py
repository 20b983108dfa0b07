"""The discovery document links the detector (how to get a signed result, zero retention) and says whether
outputs are fingerprinted, never the store's URL; its page links the detector page in the visitor's language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import html5lib
import httpx
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.detection.page import MESSAGES

from ..servers import serve
from .flows import DETECT, SYSTEM, image_app


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    store = "postgresql://auditor:s3cret-password@db.internal/fingerprints"
    config = TransparencyConfig(system=SYSTEM, fingerprints={"enabled": False, "store": store, "retention_days": 90})
    with serve(image_app(config)) as url:
        yield url


def test_document_links_detector_and_states_the_log(base: str) -> None:
    response = httpx.get(base + "/.well-known/ai-disclosure")
    document = response.json()
    detection = document["detection"]
    assert detection["url"] == DETECT and detection["retention"].startswith("none: submissions are held in memory")
    assert "application/jose" in detection["signed_result"]["request"]
    assert detection["signed_result"]["signer"]["development"] is True  # the dev chain, said to be untrusted
    assert document["fingerprints"]["enabled"] is False
    assert document["fingerprints"]["engine"] == "postgresql" and document["fingerprints"]["retention_days"] == 90
    assert "s3cret" not in response.text and "db.internal" not in response.text
    # The detector it names answers there.
    assert httpx.get(base + detection["url"]).json()["verdicts"] == detection["verdicts"]


@pytest.mark.parametrize("language", ["de", "fr", "en"])
def test_page_links_detector_page_in_the_visitors_language(base: str, language: str) -> None:
    page = httpx.get(base + "/.well-known/ai-disclosure", headers={"accept": "text/html",
                                                                  "accept-language": language})
    tree = html5lib.parse(page.text, namespaceHTMLElements=False)
    links = {a.get("href"): "".join(a.itertext()) for a in tree.iter("a")}
    assert links[DETECT] == MESSAGES[language]["title"]
    detector = httpx.get(base + DETECT, headers={"accept": "text/html", "accept-language": language})
    assert detector.headers["content-language"] == language


def test_switched_off_detector_is_not_linked(tmp_path: Path) -> None:
    with serve(image_app(TransparencyConfig(system=SYSTEM, detection={"enabled": False}))) as url:
        document = httpx.get(url + "/.well-known/ai-disclosure").json()
        page = httpx.get(url + "/.well-known/ai-disclosure", headers={"accept": "text/html"}).text
    assert document["detection"] == {"enabled": False} and DETECT not in json.dumps(document) and DETECT not in page
