"""Text through the endpoint with the real text-watermark scorer (score_text, a trained tokenizer.json)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from aiact_transparency import TransparencyConfig
from aiact_transparency.config.text import TextWatermarkSettings
from aiact_transparency.detection.endpoint import DetectionEndpoint
from aiact_transparency.detection.local import Detector
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.text.scoring import score_text
from tests.detection.asgi import PATH
from tests.provenance.text.synthetic import CORPUS, bigram_model, sample, tokenizer_json, tokenizers

pytestmark = pytest.mark.anyio
KEY = "detection-text-key-0123456789abcdef"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> TextWatermarkSettings:
    path = tmp_path_factory.mktemp("model") / "tokenizer.json"
    path.write_text(tokenizer_json(), encoding="utf-8")
    return TextWatermarkSettings(key=KEY, tokenizer=path)  # type: ignore[arg-type]


async def test_watermarked_human_and_short_text(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner,
                                                settings: TextWatermarkSettings) -> None:
    detector = Detector(ours, signer=ours_signer, text_scorer=lambda text: score_text(text, settings))
    app = DetectionEndpoint(ours, detector=detector)
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json())
    generated = tokenizer.decode(sample(bigram_model(), 1, 300, np.random.default_rng(7), key=KEY)[0].tolist())
    verses = CORPUS.read_text(encoding="utf-8").splitlines()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        answers = [(await http.post(PATH, content=text.encode(), headers={"content-type": "text/plain"})).json()
                   for text in (generated, " ".join(verses[100:130]), " ".join(verses[:3]))]
    marked, human, short = (answer["layers"]["watermark"] for answer in answers)
    assert answers[0]["verdict"] == "generated-by-this-system" and answers[0]["based_on"] == ["watermark"]
    assert marked["this_system"] and marked["false_positive_bound"] == marked["p_value"] <= 1e-6
    assert answers[1]["verdict"] == "not-detected" and human["checked"] and not human["found"]
    assert answers[1]["based_on"] == ["metadata", "watermark"]
    assert short["too_short"] and not short["checked"] and short["based_on"].startswith("too short to decide")
    assert answers[2]["verdict"] == "not-detected" and answers[2]["based_on"] == ["metadata"]


def test_the_scorer_is_optional(ours: TransparencyConfig, ours_signer: keys.LocalKeySigner) -> None:
    layer = Detector(ours, signer=ours_signer).detect_text("words " * 300).layers["watermark"]
    assert not layer["checked"] and "not configured" in layer["based_on"]


async def test_the_middleware_detector_scores_text_when_the_watermark_is_configured(
        settings: TextWatermarkSettings) -> None:
    from starlette.applications import Starlette

    from aiact_transparency import TransparencyMiddleware

    configured = TransparencyConfig(system={"name": "Acme Studio"}, text={"watermark": settings.model_dump()})
    plain = TransparencyConfig(system={"name": "Acme Studio"})
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json())
    generated = tokenizer.decode(sample(bigram_model(), 1, 300, np.random.default_rng(7), key=KEY)[0].tolist())
    verdicts = []
    for config in (configured, plain):
        app = TransparencyMiddleware(Starlette(), config)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            answer = (await http.post(PATH, content=generated.encode(), headers={"content-type": "text/plain"})).json()
        verdicts.append((answer["verdict"], answer["layers"]["watermark"]["checked"]))
        app.close()
    assert verdicts == [("generated-by-this-system", True), ("not-detected", False)]


def test_the_detect_command_scores_a_text_file(settings: TextWatermarkSettings, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # `aiact-transparency detect FILE --config ...`, as a user runs it: the config names the key and tokenizer.
    from aiact_transparency.cli import main

    config = tmp_path / "aiact.yaml"
    config.write_text(f"system: {{name: Acme Studio}}\ntext: {{watermark: {{tokenizer: {settings.tokenizer}}}}}\n")
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json())
    generated = tokenizer.decode(sample(bigram_model(), 1, 300, np.random.default_rng(11), key=KEY)[0].tolist())
    answer = tmp_path / "answer.txt"
    answer.write_text(generated, encoding="utf-8")
    human = tmp_path / "human.txt"
    human.write_text(" ".join(CORPUS.read_text(encoding="utf-8").splitlines()[200:230]), encoding="utf-8")
    monkeypatch.setenv("AIACT_TEXT__WATERMARK__KEY", KEY)  # the key from the environment, as the README advises
    status = main(["detect", str(answer), str(human), "--config", str(config), "--json"])
    results = json.loads(capsys.readouterr().out)
    assert results[str(answer)]["verdict"] == "generated-by-this-system"
    assert results[str(answer)]["based_on"] == ["watermark"]
    assert results[str(human)]["verdict"] == "not-detected"
    assert status == 1  # one file not detected, as verify's exit codes
