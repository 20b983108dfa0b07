from __future__ import annotations

import gzip
import html
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.http_messages import Receive, Scope, Send

from ..tools import http_scope, run_app

pytestmark = pytest.mark.anyio

PAGE = "<!doctype html><html><head><title>Demo</title></head><body class='x'><h1>Hello</h1></body></html>"


def html_app(config: TransparencyConfig, page: str = PAGE, **response_options: Any) -> TransparencyMiddleware:
    async def endpoint(request: Request) -> Response:
        return HTMLResponse(page, **response_options)

    return TransparencyMiddleware(Starlette(routes=[Route("/{p:path}", endpoint)]), config=config)


async def fetch(app: Any, path: str = "/", method: str = "GET", **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


def banner_of(text: str) -> str:
    start = text.index('<aside id="aiact-disclosure"')
    return text[start : text.index("</aside>", start) + len("</aside>")]


async def test_banner_after_body_tag_and_meta_in_head(config: TransparencyConfig) -> None:
    response = await fetch(html_app(config))
    text = response.text
    assert text.index("<body class='x'>") + len("<body class='x'>") == text.index("<aside")
    assert '<head><meta name="ai-disclosure" content="mode=ai-originated' in text
    assert 'role="region"' in banner_of(text) and 'aria-label="AI disclosure"' in banner_of(text)
    assert 'lang="en"' in banner_of(text)
    assert "Acme Studio" in banner_of(text) and 'href="/.well-known/ai-disclosure"' in text
    assert int(response.headers["content-length"]) == len(response.content)
    assert "Accept-Language" in response.headers["vary"]
    assert (
        text.replace(banner_of(text), "").replace(
            '<meta name="ai-disclosure" content="mode=ai-originated, model=&quot;acme/studio-xl&quot;, '
            'provider=&quot;Acme GmbH&quot;" />',
            "",
        )
        == PAGE
    )


@pytest.mark.parametrize(
    ("accept", "lang", "fragment"),
    [
        ("de-AT,de;q=0.9,en;q=0.5", "de", "KI"),
        ("fr-CH, fr;q=0.9", "fr", "IA"),
        ("xx, pl;q=0.3", "pl", "AI"),
        ("", "en", "AI system"),
    ],
)
async def test_accept_language_picks_the_banner_language(
    config: TransparencyConfig, accept: str, lang: str, fragment: str
) -> None:
    response = await fetch(html_app(config), headers={"accept-language": accept})
    banner = banner_of(response.text)
    assert f'lang="{lang}"' in banner
    assert fragment in html.unescape(banner)


async def test_banner_bytes_are_ascii_and_text_is_escaped() -> None:
    config = TransparencyConfig(
        system={"name": "<script>alert(1)</script>", "provider": 'Ä "quoted" & co'},
        banner={"text": {"en": "Made by {system} / {provider} <img src=x onerror=alert(1)>"}},
    )
    response = await fetch(html_app(config, page="<html><body></body></html>"), headers={"accept-language": "en"})
    banner = banner_of(response.text)
    banner.encode("ascii")
    assert "<script>" not in banner and "<img" not in banner
    assert "&lt;script&gt;" in banner and "&#196;" in banner
    greek = await fetch(html_app(config, page="<html><body></body></html>"), headers={"accept-language": "el"})
    banner_of(greek.text).encode("ascii")


async def test_non_utf8_ascii_compatible_page_stays_valid(config: TransparencyConfig) -> None:
    page = "<html><body>Grüße</body></html>".encode("iso-8859-1")

    async def endpoint(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=iso-8859-1")

    app = TransparencyMiddleware(Starlette(routes=[Route("/", endpoint)]), config=config)
    response = await fetch(app, headers={"accept-language": "de"})
    assert response.content.endswith("Grüße</body></html>".encode("iso-8859-1"))
    assert "&#" in banner_of(response.content.decode("iso-8859-1"))


async def test_utf16_page_passes_through(config: TransparencyConfig) -> None:
    page = "<html><body>x</body></html>".encode("utf-16")

    async def endpoint(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-16")

    app = TransparencyMiddleware(Starlette(routes=[Route("/", endpoint)]), config=config)
    assert (await fetch(app)).content == page


async def test_streamed_html_drops_content_length_and_weakens_etag(config: TransparencyConfig) -> None:
    async def chunks() -> Any:
        for piece in ("<html><he", "ad></head><bo", "dy>", "<p>streamed</p>", "</body></html>"):
            yield piece.encode()

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/html", headers={"etag": '"abc"', "content-length": "49"})

    app = TransparencyMiddleware(Starlette(routes=[Route("/", endpoint)]), config=config)
    response = await fetch(app)
    assert "content-length" not in response.headers
    assert response.headers["etag"] == 'W/"abc"'
    assert response.text.startswith('<html><head><meta name="ai-disclosure"')
    assert '<body><aside id="aiact-disclosure"' in response.text
    assert response.text.endswith("<p>streamed</p></body></html>")


async def test_strong_etag_of_single_body_becomes_weak(config: TransparencyConfig) -> None:
    response = await fetch(html_app(config, headers={"etag": '"v1"'}))
    assert response.headers["etag"] == 'W/"v1"'


async def test_page_without_body_is_unchanged(config: TransparencyConfig) -> None:
    page = "<p>fragment for htmx</p>"
    response = await fetch(html_app(config, page=page, headers={"etag": '"v1"'}))
    assert response.text == page
    assert response.headers["etag"] == 'W/"v1"'  # weak as HEAD's, which cannot see the body (test_conditional.py)
    assert int(response.headers["content-length"]) == len(page)


@pytest.mark.parametrize("status", [204, 304, 206])
async def test_bodyless_and_partial_statuses_are_untouched(config: TransparencyConfig, status: int) -> None:
    page = "" if status in (204, 304) else "<html><body>part"
    response = await fetch(html_app(config, page=page, status_code=status))
    assert response.status_code == status
    assert response.text == page
    assert "ai-disclosure" in response.headers


async def test_head_gets_headers_and_no_stale_length(config: TransparencyConfig) -> None:
    response = await fetch(html_app(config), method="HEAD")
    assert response.content == b""
    # GET adds the banner, so the page's own length would be wrong for it (RFC 9110 §8.6: a HEAD Content-Length
    # must equal GET's); it is dropped, as on image routes.
    assert "content-length" not in response.headers
    assert "ai-disclosure" in response.headers


async def test_a_gzipped_page_gets_the_banner_and_stays_gzipped(config: TransparencyConfig) -> None:
    # Decoded, bannered and encoded again (responders/coded.py; tests/asgi/test_coded_responses.py for more).
    compressed = gzip.compress(PAGE.encode())

    async def endpoint(request: Request) -> Response:
        return Response(compressed, media_type="text/html", headers={"content-encoding": "gzip"})

    app = TransparencyMiddleware(Starlette(routes=[Route("/", endpoint)]), config=config)
    response = await fetch(app)
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.count('<aside id="aiact-disclosure"') == 1  # httpx decoded it


async def test_gzip_added_after_the_middleware_compresses_the_bannered_page(config: TransparencyConfig) -> None:
    page = PAGE.replace("Hello", "Hello " * 200)
    inner = html_app(config, page=page)
    app = GZipMiddleware(inner, minimum_size=100)
    response = await fetch(app, headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert '<aside id="aiact-disclosure"' in response.text


async def test_pathsend_passes_through_with_headers(config: TransparencyConfig) -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.pathsend", "path": "/srv/index.html"})

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await TransparencyMiddleware(app, config=config)(scope, None, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert b"ai-disclosure" in dict(sent[0]["headers"])


async def test_route_can_turn_the_banner_off() -> None:
    config = TransparencyConfig(disclosure={"routes": [{"path": "/static/*", "banner": False}]})
    app = html_app(config)
    assert "aiact-disclosure" not in (await fetch(app, "/static/page.html")).text
    assert "aiact-disclosure" in (await fetch(app, "/page.html")).text


@pytest.mark.parametrize(
    ("policy", "expect_style_attr", "expect_nonce"),
    [
        ("default-src 'self'", False, None),
        ("default-src 'self'; style-src 'self' 'unsafe-inline'", True, None),
        ("style-src 'nonce-r4nd0m' 'unsafe-inline'", False, "r4nd0m"),
        ("style-src-attr 'none'; style-src-elem 'nonce-abc'", False, "abc"),
        ("script-src 'self'", True, None),
    ],
)
async def test_content_security_policy_decides_how_the_banner_is_styled(
    config: TransparencyConfig, policy: str, expect_style_attr: bool, expect_nonce: str | None
) -> None:
    response = await fetch(html_app(config, headers={"content-security-policy": policy}))
    text = response.text
    banner_start = text.index("<aside")
    assert ('style="' in banner_of(text)) is expect_style_attr
    if expect_nonce:
        assert f'<style nonce="{expect_nonce}">#aiact-disclosure{{' in text[banner_start - 600 : banner_start]
    else:
        assert "<style nonce" not in text
    assert "You are interacting with an AI system" in text


async def test_mode_none_route_has_no_banner() -> None:
    config = TransparencyConfig(disclosure={"routes": [{"path": "/about", "mode": "none"}]})
    response = await fetch(html_app(config), "/about")
    assert "aiact-disclosure" not in response.text
    assert response.headers["ai-disclosure"].startswith("mode=none")


async def test_a_page_the_app_frames_as_chunked_gets_no_content_length(config: TransparencyConfig) -> None:
    # A message must not carry both Transfer-Encoding and Content-Length (RFC 9112 §6.2): a whole page sent with
    # the app's own chunked framing and no length got a Content-Length appended beside it.
    page = PAGE.encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"Transfer-Encoding", b"chunked")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    sent = await run_app(TransparencyMiddleware(app, config=config), http_scope("/"))
    names = [name.lower() for name, _ in sent[0]["headers"]]
    assert b'id="aiact-disclosure"' in sent[1]["body"]
    assert b"transfer-encoding" in names and b"content-length" not in names


async def test_new_content_length_takes_the_place_of_the_apps(config: TransparencyConfig) -> None:
    # One Content-Length field line, where the app put its own (the header order stays the app's; a duplicate the
    # app sent goes), the ETag weakened wherever it is; our own field lines follow the app's.
    page = PAGE.encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-length", b"%d" % len(page)),
            (b"content-type", b"text/html; charset=utf-8"),
            (b"Content-Length", b"%d" % len(page)),
            (b"ETag", b'"v1"'),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    sent = await run_app(TransparencyMiddleware(app, config=config), http_scope("/"))
    names = [name.lower() for name, _ in sent[0]["headers"]]
    assert names[:3] == [b"content-length", b"content-type", b"etag"]
    assert names.count(b"content-length") == 1
    assert sent[0]["headers"][0] == (b"content-length", b"%d" % len(sent[1]["body"]))
    assert sent[0]["headers"][2] == (b"ETag", b'W/"v1"')
    assert set(names[3:]) == {b"ai-disclosure", b"link", b"vary"}
