"""The text.watermark config section and the service glue: secret handling, start-up checks, scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aiact_transparency import ConfigError, TransparencyConfig, load_config
from aiact_transparency.config.text import TextConfig, TextWatermarkSettings
from aiact_transparency.provenance.text.scoring import check_text_watermark, key_of, params_of, score_text
from aiact_transparency.provenance.text.watermark import TextWatermarkParams

from ..provenance.text.synthetic import bigram_model, sample, tokenizer_json, tokenizers

KEY = "config-key-0123456789abcdef"


def test_defaults_are_the_measured_parameters() -> None:
    settings = TextWatermarkSettings()
    assert params_of(settings) == TextWatermarkParams()
    assert (settings.max_p_value, settings.min_tokens) == (1e-6, 200)


def test_key_from_the_environment_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIACT_TEXT__WATERMARK__KEY", KEY)
    config = TransparencyConfig()
    assert key_of(config.text.watermark) == KEY
    for shown in (repr(config), str(config), config.model_dump_json(), str(config.model_dump())):
        assert KEY not in shown


def test_short_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="7 characters") as caught:
        check_text_watermark(TextWatermarkSettings(key="hunter2"))
    assert "hunter2" not in str(caught.value) and "secrets.token_urlsafe" in str(caught.value)


def test_tokenizer_needs_the_key_and_must_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tokenizer is set but text.watermark.key is not"):
        check_text_watermark(TextWatermarkSettings(tokenizer=tmp_path / "tokenizer.json"))
    with pytest.raises(ConfigError, match=r"text.watermark.tokenizer: .*missing.json: cannot read"):
        check_text_watermark(TextWatermarkSettings(key=KEY, tokenizer=tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="key is not set"):
        key_of(TextWatermarkSettings())


def test_score_text_with_a_relative_tokenizer_path(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text(tokenizer_json(), encoding="utf-8")
    settings = TextWatermarkSettings(key=KEY, tokenizer=Path("tokenizer.json"))

    def resolve(path: Path) -> Path:  # as TransparencyConfig.resolve_path: against the config file's folder
        return path if path.is_absolute() else tmp_path / path

    check_text_watermark(settings, resolve)
    
    ids = sample(bigram_model(), 1, 300, np.random.default_rng(8), key=KEY)[0]
    text = tokenizers.Tokenizer.from_str(tokenizer_json()).decode(ids.tolist())
    assert score_text(text, settings, resolve).verdict == "watermarked"
    other = TextWatermarkSettings(key="another-key-0123456789", tokenizer=Path("tokenizer.json"))
    assert score_text(text, other, resolve).verdict == "not-detected"
    with pytest.raises(ConfigError, match="tokenizer is not set"):
        score_text(text, TextWatermarkSettings(key=KEY))


@pytest.mark.parametrize("values", [{"green_ratio": 1.0}, {"bias": -1}, {"context_width": 0}, {"max_p_value": 0.5},
                                    {"unknown": 1}])
def test_section_values_are_checked(values: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TextWatermarkSettings(**values)  # type: ignore[arg-type]


def test_transparency_config_holds_the_section_with_its_defaults() -> None:
    assert TransparencyConfig().text == TextConfig()


def test_load_config_runs_the_text_watermark_checks_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text("text:\n  watermark:\n    key: hunter2-short\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="13 characters") as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: text.watermark.key") and "hunter2" not in message


def test_load_config_reads_the_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIACT_TEXT__WATERMARK__KEY", KEY)
    assert key_of(load_config().text.watermark) == KEY


@pytest.mark.parametrize(
    ("yaml_text", "secret"),
    [
        ("text:\n  watermark:\n    key: 918273645546372819\n", "918273645546372819"),  # a SecretStr field
        ("images:\n  signing:\n    key: 918273645546372819\n", "918273645546372819"),  # a field named key
        ("text:\n  watermark: [918273645546372819]\n", "918273645546372819"),  # a section that is no mapping
    ],
)
def test_config_errors_never_print_what_was_given_for_a_key(tmp_path: Path, yaml_text: str, secret: str) -> None:
    path = tmp_path / "aiact.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert secret not in str(caught.value)
