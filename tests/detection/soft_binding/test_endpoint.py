"""The Soft Binding Resolution API's answers, through the middleware (starlette's TestClient, no server), on
SQLite and PostgreSQL: by watermark payload and by PDQ hash (GET and POST), by content, manifests by id, the
errors the spec names and the limits the detector shares, and zero retention of what is sent."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from aiact_transparency import TransparencyConfig, TransparencyMiddleware
from aiact_transparency.detection.commands import standalone_app
from aiact_transparency.detection.soft_binding import FINGERPRINT_ALG, WATERMARK_ALG
from aiact_transparency.detection.soft_binding.algorithms import AUDIO_WATERMARK_ALG, VIDEO_WATERMARK_ALG
from aiact_transparency.detection.soft_binding.resolver import Resolver
from aiact_transparency.detection.wiring import endpoint_for
from aiact_transparency.fingerprints import FingerprintRecord, open_store
from aiact_transparency.provenance.formats import FORMATS
from aiact_transparency.provenance.payload import WatermarkPayload

from ...fingerprints.test_read_index import counted
from ...fingerprints.test_store import flip_bits, random_hash, record
from ...wired.flows import SYSTEM, image_app, photo_png, stripped

API = "/.well-known/ai-disclosure/c2pa/v1"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def make_config(store_url: str, **detection: object) -> TransparencyConfig:
    return TransparencyConfig(system=SYSTEM, fingerprints={"enabled": True, "store": store_url},
                              detection=detection)


@pytest.fixture
def served(store_url: str) -> Iterator[tuple[TestClient, bytes, FingerprintRecord]]:
    """A client of the middleware whose log holds one marked output: (client, output, its record)."""
    app = image_app(make_config(store_url))
    with TestClient(app) as client:
        output = client.get("/generate/astronaut").content
        assert app.output_log is not None and app.output_log.flush()
        (record,) = list(app.output_log.store.export())
        yield client, output, record


def test_by_watermark_payload_get_and_post(served: tuple[TestClient, bytes, FingerprintRecord]) -> None:
    client, _, record = served
    assert record.payload is not None
    expected = {"matches": [{"manifestId": record.manifest_id, "similarityScore": 100}]}
    answer = client.get(f"{API}/matches/byBinding", params={"alg": WATERMARK_ALG, "value": b64(record.payload)})
    assert answer.status_code == 200 and answer.json() == expected
    assert answer.headers["access-control-allow-origin"] == "*"
    posted = client.post(f"{API}/matches/byBinding", json={"alg": WATERMARK_ALG, "value": b64(record.payload)})
    assert posted.json() == expected
    # The manifest's soft-binding block carries the payload as hex: its base64 is accepted too.
    as_hex = client.get(f"{API}/matches/byBinding", params={"alg": WATERMARK_ALG,
                                                              "value": b64(record.payload.hex().encode())})
    assert as_hex.json() == expected
    other = WatermarkPayload(1, 2).to_bytes()
    assert client.get(f"{API}/matches/byBinding", params={"alg": WATERMARK_ALG, "value": b64(other)}).json() == {
        "matches": []}


def test_by_pdq_hash_scores_the_distance(served: tuple[TestClient, bytes, FingerprintRecord]) -> None:
    client, _, record = served
    assert record.perceptual is not None
    near = bytearray(record.perceptual)
    for i in range(10):  # 10 bits flipped
        near[i] ^= 0x01
    answer = client.get(f"{API}/matches/byBinding", params={"alg": FINGERPRINT_ALG, "value": b64(bytes(near))})
    assert answer.json() == {"matches": [{"manifestId": record.manifest_id, "similarityScore": round(100 * 246 / 256)}]}
    far = np.random.default_rng(3).bytes(32)
    assert client.get(f"{API}/matches/byBinding", params={"alg": FINGERPRINT_ALG, "value": b64(far)}).json() == {
        "matches": []}


def test_by_content_runs_watermark_and_fingerprint(served: tuple[TestClient, bytes, FingerprintRecord]) -> None:
    client, output, record = served
    for copy in (output, stripped(output, quality=70), stripped(output, turn=True)):
        answer = client.post(f"{API}/matches/byContent", content=copy, headers={"content-type": "image/jpeg"})
        assert answer.status_code == 200 and answer.json()["matches"][0]["manifestId"] == record.manifest_id
    watermark_only = client.post(f"{API}/matches/byContent", params={"alg": WATERMARK_ALG},
                                 content=stripped(output, turn=True), headers={"content-type": "image/jpeg"})
    assert watermark_only.json() == {"matches": []}  # turned: the watermark is gone, only the fingerprint finds it
    unmarked = client.post(f"{API}/matches/byContent", content=stripped(photo_png("coffee")),
                           headers={"content-type": "image/jpeg"})
    assert unmarked.json() == {"matches": []}
    text = client.post(f"{API}/matches/byContent", content=b"hello", headers={"content-type": "text/plain"})
    assert text.status_code == 415 and text.headers["content-type"] == "application/problem+json"


def test_by_content_415_names_the_image_and_audio_types_it_reads(store_url: str) -> None:
    """The detector reads video and documents too, but no soft binding of ours covers them: 415, naming what is read."""
    pdf = io.BytesIO()
    Image.new("RGB", (200, 100), (250, 240, 230)).save(pdf, "PDF")
    read = [fmt.media_type for fmt in FORMATS if fmt.medium in ("image", "audio")]
    with TestClient(image_app(make_config(store_url))) as client:
        for body, kind in ((b"hello", "text/plain"), (pdf.getvalue(), "application/pdf")):
            answer = client.post(f"{API}/matches/byContent", content=body, headers={"content-type": kind})
            assert answer.status_code == 415 and answer.json()["supported"] == read, kind
            assert all(media_type in answer.json()["detail"] for media_type in read), kind


def test_manifests_by_id(served: tuple[TestClient, bytes, FingerprintRecord]) -> None:
    client, _, record = served
    fetched = client.get(f"{API}/manifests/{record.manifest_id}")
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/c2pa"
    assert fetched.content[4:8] == b"jumb"  # a JUMBF superbox: the C2PA manifest store
    assert client.get(f"{API}/manifests/urn:c2pa:unknown").status_code == 404
    assert client.get(f"{API}/manifests/{record.manifest_id}", params={"returnActiveManifest": "maybe"}
                      ).status_code == 400


@pytest.mark.parametrize(("params", "detail"), [
    ({"alg": "com.example.other", "value": "AAAA"}, "is not resolved here"),
    ({"alg": WATERMARK_ALG, "value": "not base64!"}, "not base64"),
    ({"alg": WATERMARK_ALG, "value": b64(b"0123456789")}, "checksum"),
    ({"alg": FINGERPRINT_ALG, "value": "AAAA"}, "32 bytes"),
    ({"alg": WATERMARK_ALG}, "'value' is required"),
    ({"alg": WATERMARK_ALG, "value": "AAAA", "maxResults": "0"}, "maxResults"),
])
def test_invalid_queries_are_400_saying_why(store_url: str, params: dict[str, str], detail: str) -> None:
    with TestClient(image_app(make_config(store_url))) as client:
        answer = client.get(f"{API}/matches/byBinding", params=params)
    assert answer.status_code == 400 and detail in answer.json()["detail"]


def test_routes_methods_and_long_queries(store_url: str) -> None:
    with TestClient(image_app(make_config(store_url))) as client:
        assert client.get(f"{API}/services/supportedAlgorithms").json() == {
            "watermarks": [{"alg": WATERMARK_ALG}, {"alg": AUDIO_WATERMARK_ALG}, {"alg": VIDEO_WATERMARK_ALG}],
            "fingerprints": [{"alg": FINGERPRINT_ALG}]}
        document = client.get(f"{API}/openapi.json").json()
        assert document["servers"][0]["url"] == f"http://testserver{API}"
        assert client.get(f"{API}/matches/byBinding", params={"alg": "x", "value": "A" * 5000}).status_code == 414
        wrong = client.delete(f"{API}/matches/byBinding")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST, OPTIONS"
        assert client.options(f"{API}/matches/byContent").status_code == 204
        assert client.get(f"{API}/nothing").status_code == 404
        assert client.get(f"{API}/matches/byBinding").status_code == 400
        not_json = client.post(f"{API}/matches/byBinding", content=b"alg=x", headers={"content-type": "text/plain"})
        assert not_json.status_code == 415
        # Outside the base the app answers, even for a path that only starts alike.
        assert client.get(f"{API}x/services/supportedAlgorithms").status_code == 404
        assert "problem" not in client.get(f"{API}x/services/supportedAlgorithms").headers["content-type"]


def test_rate_limit_is_shared_with_the_detector(store_url: str) -> None:
    config = make_config(store_url, rate_limit={"per_client_per_minute": 2})
    with TestClient(image_app(config)) as client:
        assert client.post("/.well-known/ai-disclosure/detect", content=b"hello",
                           headers={"content-type": "text/plain"}).status_code == 200
        assert client.get(f"{API}/manifests/urn:c2pa:x").status_code == 404
        limited = client.get(f"{API}/manifests/urn:c2pa:x")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # The algorithm list and the document cost nothing and are not counted.
        assert client.get(f"{API}/services/supportedAlgorithms").status_code == 200


def test_nothing_sent_is_kept_or_logged(served: tuple[TestClient, bytes, FingerprintRecord],
                                        caplog: pytest.LogCaptureFixture, store_url: str) -> None:
    client, output, _ = served
    caplog.set_level(logging.DEBUG)
    value = b64(WatermarkPayload(7, 7).to_bytes())
    client.get(f"{API}/matches/byBinding", params={"alg": WATERMARK_ALG, "value": value})
    client.post(f"{API}/matches/byContent", content=stripped(output, quality=70),
                headers={"content-type": "image/jpeg"})
    with open_store(store_url) as store:
        assert store.stats().records == 1 and store.stats().manifests == 1  # uploads are never logged as outputs
    assert value not in caplog.text and "urn:c2pa" not in caplog.text


def test_serve_detector_serves_the_api_and_the_discovery_names_it(store_url: str) -> None:
    config = make_config(store_url)
    endpoint = endpoint_for(config)
    with TestClient(standalone_app(endpoint)) as client:
        assert client.get(f"{API}/services/supportedAlgorithms").status_code == 200
    endpoint.soft_binding = None
    with TestClient(TransparencyMiddleware(image_app(config).app, config)) as client:
        member = client.get("/.well-known/ai-disclosure").json()["c2pa_soft_binding"]
    assert member["enabled"] and member["url"] == API and member["openapi"] == f"{API}/openapi.json"
    assert member["registered_in_c2pa_list"] == {WATERMARK_ALG: False, AUDIO_WATERMARK_ALG: False,
                                                 VIDEO_WATERMARK_ALG: False, FINGERPRINT_ALG: False}
    off = TransparencyConfig(system=SYSTEM)
    with TestClient(TransparencyMiddleware(image_app(off).app, off)) as client:
        member = client.get("/.well-known/ai-disclosure").json()["c2pa_soft_binding"]
        assert member["enabled"] is False and "fingerprints.enabled" in member["reason"]
        assert client.get(f"{API}/services/supportedAlgorithms").status_code == 404  # nothing to resolve


@pytest.mark.parametrize(("public_url", "expected"), [
    ("https://ai.example.com/app/.well-known/ai-disclosure/detect", f"https://ai.example.com/app{API}"),
    ("https://ai.example.com/checks", f"https://ai.example.com{API}"),
])
def test_the_document_names_the_public_base(store_url: str, public_url: str, expected: str) -> None:
    with TestClient(image_app(make_config(store_url, public_url=public_url))) as client:
        assert client.get(f"{API}/openapi.json").json()["servers"][0]["url"] == expected


def test_by_binding_reads_the_records_and_their_kept_stores_in_one_statement(store_url: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Whether a record's manifest store is kept comes with the record (it was a second round trip); a record
    # whose store was never kept is still not offered.
    rng = np.random.default_rng(12)
    digest = random_hash(rng)
    words = [WatermarkPayload(7, n).to_bytes() for n in (1, 2)]
    with open_store(store_url) as store:
        store.put_manifest("urn:c2pa:kept", b"a signed store", 1.0)
        store.add_many([record(1, digest, payload=words[0], manifest_id="urn:c2pa:kept"),
                        record(2, flip_bits(digest, [3]), payload=words[1], manifest_id="urn:c2pa:never-kept")])
        resolver = Resolver(make_config(store_url), store)
        assert resolver.by_binding(FINGERPRINT_ALG, b64(digest), 10)  # loads the read index
        sent = counted(store, monkeypatch)
        assert resolver.by_binding(FINGERPRINT_ALG, b64(flip_bits(digest, [9])), 10) == [
            {"manifestId": "urn:c2pa:kept", "similarityScore": round(100 * 255 / 256)}]
        assert resolver.by_binding(WATERMARK_ALG, b64(words[0]), 10) == [
            {"manifestId": "urn:c2pa:kept", "similarityScore": 100}]
        assert resolver.by_binding(WATERMARK_ALG, b64(words[1]), 10) == []
        assert len(sent) == 3
        # Only the resolver asks for it: the detector's exact lookups read no more than the record.
        assert [m.manifest_kept for m in store.find_exact("payload", words[0])] == [None]
        assert [m.manifest_kept for m in store.find_exact("payload", words[1], manifests=True)] == [False]
