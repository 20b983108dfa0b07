"""The endpoint over HTTP semantics (httpx on the ASGI app): formats, methods, the page, the detector URL."""

from __future__ import annotations

import httpx
import pytest

from aiact_transparency.detection.describe import VERDICTS
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.provenance.formats import FORMATS
from tests.detection.asgi import PATH, call

pytestmark = pytest.mark.anyio


def client(app: DetectionEndpoint, base: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 4000)), base_url=base)


async def test_post_the_body_with_its_type_returns_the_issue_shaped_json(endpoint: DetectionEndpoint,
                                                                         marked_jpeg: bytes) -> None:
    async with client(endpoint) as http:
        response = await http.post(PATH, content=marked_jpeg, headers={"content-type": "image/jpeg"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    result = response.json()
    assert set(result) >= {"verdict", "based_on", "layers", "content_sha256", "detector", "checked_at"}
    assert result["verdict"] == "generated-by-this-system"
    assert set(result["layers"]) == {"c2pa", "xmp", "watermark", "fingerprint"}
    assert all("found" in layer and layer["based_on"] for layer in result["layers"].values())
    assert result["detector"] == f"http://testserver{PATH}"


async def test_multipart_file_and_text_fields(endpoint: DetectionEndpoint, marked_jpeg: bytes) -> None:
    async with client(endpoint) as http:
        by_file = await http.post(PATH, files={"file": ("x.jpg", marked_jpeg, "image/jpeg")},
                                  headers={"accept": "application/json"})
        by_text = await http.post(PATH, data={"text": "Plain words by a person."}, files={"file": ("", b"")},
                                  headers={"accept": "application/json"})
        empty = await http.post(PATH, data={"text": "  "}, files={"file": ("", b"")},
                                headers={"accept": "application/json"})
    assert by_file.json()["verdict"] == "generated-by-this-system"
    assert by_text.json()["media_type"] == "text/plain" and by_text.json()["verdict"] == "not-detected"
    assert empty.status_code == 400 and empty.json()["code"] == "empty"


async def test_text_plain_body(endpoint: DetectionEndpoint) -> None:
    async with client(endpoint) as http:
        response = await http.post(PATH, content="Grüße aus Wien".encode(), headers={"content-type": "text/plain"})
        latin = await http.post(PATH, content="Grüße".encode("latin-1"),
                                headers={"content-type": "text/plain; charset=iso-8859-1"})
    assert response.json()["media_type"] == "text/plain"
    assert latin.status_code == 200 and latin.json()["verdict"] == "not-detected"


async def test_browser_form_post_gets_the_html_result_page(endpoint: DetectionEndpoint, marked_jpeg: bytes) -> None:
    async with client(endpoint) as http:
        response = await http.post(PATH, files={"file": ("x.jpg", marked_jpeg, "image/jpeg")},
                                   headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                                            "accept-language": "de-AT,de;q=0.9"})
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "de"
    assert 'data-verdict="generated-by-this-system"' in response.text
    assert "Von diesem KI-System erzeugt (Acme Studio)." in response.text


async def test_get_serves_the_page_or_a_usage_description(endpoint: DetectionEndpoint) -> None:
    async with client(endpoint, "https://acme.example") as http:
        page = await http.get(PATH, headers={"accept": "text/html"})
        usage = await http.get(PATH)
        head = await http.head(PATH, headers={"accept": "text/html"})
    csp = page.headers["content-security-policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text and f'<style nonce="{nonce}">' in page.text
    assert "'unsafe-inline'" not in csp and "form-action 'self'" in csp and "default-src 'none'" in csp
    assert usage.json()["detector"] == f"https://acme.example{PATH}"
    assert usage.json()["verdicts"] == list(VERDICTS)
    # Every type the detector reads, as its 415 names them (it read images only once, and this said so).
    assert usage.json()["accepts"] == [*(fmt.media_type for fmt in FORMATS), "text/plain; charset=utf-8"]
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000


async def test_each_page_gets_a_fresh_nonce(endpoint: DetectionEndpoint) -> None:
    async with client(endpoint) as http:
        first, second = [(await http.get(PATH, headers={"accept": "text/html"})).headers["content-security-policy"]
                         for _ in range(2)]
    assert first != second


async def test_other_methods_are_405_and_options_is_a_cors_preflight(endpoint: DetectionEndpoint) -> None:
    async with client(endpoint) as http:
        put = await http.put(PATH, content=b"x")
        options = await http.options(PATH)
    assert put.status_code == 405 and "POST" in put.headers["allow"]
    assert put.headers["content-type"] == "application/problem+json"
    assert options.status_code == 204 and options.headers["access-control-allow-origin"] == "*"


async def test_unsupported_types_are_415_naming_the_supported_ones(endpoint: DetectionEndpoint) -> None:
    async with client(endpoint) as http:
        response = await http.post(PATH, content=b"GIF89a" + bytes(40), headers={"content-type": "image/gif"})
    assert response.status_code == 415
    problem = response.json()
    assert problem["supported"] == [*(fmt.media_type for fmt in FORMATS), "text/plain"]
    assert "image/gif data cannot be checked" in problem["detail"]
    assert "image/png, image/jpeg, image/webp, application/pdf" in problem["detail"]


@pytest.mark.parametrize("host", [b"evil.example\r\nSet-Cookie: x=1", b"<script>", b"a b", b"x" * 300, b""])
async def test_a_hostile_host_header_is_never_reflected(endpoint: DetectionEndpoint, host: bytes) -> None:
    exchange = await call(endpoint, method="GET", headers=[(b"host", host)], server=("10.0.0.5", 8000))
    assert exchange.json()["detector"] == f"http://10.0.0.5:8000{PATH}"


async def test_the_public_url_setting_names_the_detector(ours_signer: object, marked_jpeg: bytes) -> None:
    from tests.detection.conftest import endpoint_for, ours_config

    app = endpoint_for(ours_config(), ours_signer, public_url="https://detect.acme.example/check")  # type: ignore[arg-type]
    async with client(app) as http:
        response = await http.post(PATH, content=marked_jpeg)
    assert response.json()["detector"] == "https://detect.acme.example/check"
