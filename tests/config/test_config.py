from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aiact_transparency import ConfigError, Disclosure, TransparencyConfig, load_config
from aiact_transparency.config.modelcard import model_facts


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_work_out_of_the_box() -> None:
    config = load_config()
    assert config.disclosure.mode == "ai-originated"
    assert config.banner.enabled
    Disclosure(config)


def test_yaml_file_with_model_card(tmp_path: Path, model_card: Path) -> None:
    path = write(
        tmp_path / "aiact.yaml",
        """
system: {name: "Acme Studio", provider: "Acme GmbH", contact: "mailto:ai@acme.example",
         purpose: "Generates illustrations from text prompts"}
model:  {card: "./MODEL_CARD.md", id: "acme/studio-xl"}
disclosure:
  mode: ai-originated
  reviewed_by: null
  routes: [{path: "/health", mode: none}, {path: "/static/*", banner: false}]
banner: {enabled: true, text: {en: "Made by AI at {provider}.", de: "KI von {provider}."}}
""",
    )
    config = load_config(path)
    facts = model_facts(config)
    assert facts.id == "acme/studio-xl"  # config wins over the card
    assert facts.name == "Studio XL"
    assert facts.license == "apache-2.0"
    assert facts.base_model == ("stabilityai/stable-diffusion-xl-base-1.0",)
    assert facts.datasets == ("laion/laion2B-en",)
    assert config.disclosure.routes[0].mode == "none"
    assert config.banner.text["de"] == "KI von {provider}."


def test_toml_file_and_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "aiact.toml", '[system]\nname = "From file"\nprovider = "File GmbH"\n')
    monkeypatch.setenv("AIACT_SYSTEM__PROVIDER", "Env AG")
    monkeypatch.setenv("AIACT_DISCLOSURE__MODE", "ai-modified")
    config = load_config(path)
    assert config.system.name == "From file"
    assert config.system.provider == "Env AG"
    assert config.disclosure.mode == "ai-modified"


def test_aiact_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "c.yml", "system: {name: Named by env}\n")
    monkeypatch.setenv("AIACT_CONFIG", str(path))
    assert load_config().system.name == "Named by env"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("system: {nmae: x}\n", ["system.nmae", "remove the key or check its spelling"]),
        ("disclosure: {mode: ai-generated}\n", ["disclosure.mode", "'ai-originated'", "Fix: use one of"]),
        ('system: {provider: "Evil\\r\\nSet-Cookie: x=1"}\n', ["system.provider", "control character"]),
        ("system: {risk_class: prohibited}\n", ["system.risk_class", "Article 5", "refuses"]),
        ("system: {contact: 'call me'}\n", ["system.contact", "mailto:"]),
        ("banner: {text: {de: 'Hallo {user}'}}\n", ["banner.text", "unknown placeholder", "{system}"]),
        ("banner: {text: {'not a tag': 'x'}}\n", ["banner.text", "language tag"]),
        ("disclosure: {routes: [{path: 'health'}]}\n", ["disclosure.routes[0].path", "must start with '/'"]),
        ("disclosure: {discovery_path: '//evil.example/x'}\n", ["disclosure.discovery_path", "absolute URL path"]),
        ("images: {signing: {cert: a.pem}}\n", ["images.signing", "both 'cert' and 'key'"]),
        ("- just\n- a list\n", ["top level must be a mapping"]),
        ("system: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_config_errors_name_file_field_and_fix(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "aiact.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_environment_value_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIACT_DISCLOSURE__MODE", "sometimes")
    with pytest.raises(ConfigError, match="AIACT_DISCLOSURE__MODE"):
        load_config()


def test_missing_model_card_is_a_startup_error(tmp_path: Path) -> None:
    path = write(tmp_path / "aiact.yaml", "model: {card: ./nope/README.md}\n")
    with pytest.raises(ConfigError, match=r"model\.card: .*nope/README\.md is not a file"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"use a \.yaml, \.yml or \.toml file"):
        load_config(write(tmp_path / "aiact.json", "{}"))


def test_non_ascii_provider_is_folded_or_needs_an_ascii_spelling() -> None:
    folded = Disclosure(TransparencyConfig(system={"provider": "Müller & Søn"}))
    assert b'provider="Muller & Son"' in folded.default_policy.header_prefix
    with pytest.raises(ConfigError, match="provider_ascii"):
        Disclosure(TransparencyConfig(system={"provider": "Εταιρεία ΑΕ"}))  # noqa: RUF001
    greek_name = "Εταιρεία ΑΕ"  # noqa: RUF001
    greek = Disclosure(TransparencyConfig(system={"provider": greek_name, "provider_ascii": "Etaireia AE"}))
    assert b'provider="Etaireia AE"' in greek.default_policy.header_prefix


def test_control_characters_rejected_in_code_too() -> None:
    with pytest.raises(ValueError, match="control character"):
        TransparencyConfig(model={"id": "acme/x\x00"})


@pytest.mark.parametrize(("provider", "header"), [
    ("Zażółć Labs", "Zazolc Labs"),  # Polish ł, ż, ó, ć
    ("Đurđević d.o.o.", "Durdevic d.o.o."),  # Croatian đ
    ("Ħamrun Ltd", "Hamrun Ltd"),  # Maltese ħ
    ("Œuvre SA", "Oeuvre SA"),
    ("Þór ehf.", "Thor ehf."),  # Icelandic þ
    ("Großbäckerei", "Grossbackerei"),
    ("Mu\u0308ller & Søn", "Muller & Son"),  # decomposed umlaut, Danish ø
])
def test_latin_letters_of_eu_languages_fold_into_the_header(provider: str, header: str) -> None:
    disclosure = Disclosure(TransparencyConfig(system={"provider": provider}))
    assert f'provider="{header}"'.encode() in disclosure.default_policy.header_prefix


@pytest.mark.parametrize(("values", "field", "fix", "suggestion"), [
    ({"system": {"provider": "Фирма ООД"}}, "system.provider", "system.provider_ascii", "'Firma OOD'"),
    ({"system": {"provider": "株式会社アクメ"}}, "system.provider", "system.provider_ascii", None),
    ({"disclosure": {"reviewed_by": "Иван Петров"}}, "disclosure.reviewed_by", "in Latin script", "'Ivan Petrov'"),
    ({"model": {"name": "Μοντέλο"}}, "model", "set model.id", "'Montelo'"),
])
def test_other_scripts_are_never_transliterated_silently(
    values: dict[str, dict[str, str]], field: str, fix: str, suggestion: str | None
) -> None:
    # A romanisation depends on the language and the owner (bg 'Щ' is 'Sht', ru 'Shch'): the header only
    # carries a Latin spelling someone chose; the error offers anyascii's guess for Greek and Cyrillic.
    with pytest.raises(ConfigError) as info:
        Disclosure(TransparencyConfig(**values))  # type: ignore[arg-type]
    message = str(info.value)
    assert f": {field}: " in message
    assert fix in message.split("Fix:", 1)[1]
    assert "provider_ascii" not in message or field == "system.provider"
    if suggestion:
        assert f"transliteration would read {suggestion}" in message
    else:
        assert "transliteration" not in message


@pytest.mark.parametrize(("front_matter", "expected"), [
    ("language: 7\n", ["front matter key 'language'", "(got 7)", "Fix:"]),
    ("language: [en, no]\n", ["front matter key 'language'", "False", 'language: [en, "no"]']),
    ("base_model: 3\n", ["front matter key 'base_model'", "(got 3)", "Fix:"]),
    ("license: 2.0\n", ["front matter key 'license'", "must be a string", "Fix:"]),
    ("datasets: {a: 1}\n", ["front matter key 'datasets'", "Fix:"]),
    ("eval_results: 3\n", ["'eval_results'", "model-index", "Fix:"]),
    ("license: [unclosed\n", ["YAML front matter does not parse", "line 1", "Fix:"]),
    ("- a\n- b\n", ["should be a dict", "Fix:"]),
])
def test_bad_model_card_front_matter_is_a_config_error_naming_file_and_key(
    tmp_path: Path, front_matter: str, expected: list[str]
) -> None:
    card = write(tmp_path / "README.md", f"---\n{front_matter}---\n# A model\n")
    path = write(tmp_path / "aiact.yaml", "model: {card: README.md}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: model.card: {card}: ")
    for fragment in expected:
        assert fragment in message


def test_card_without_front_matter_logs_nothing_from_huggingface_hub(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "README.md", "# Just a readme\n")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError, match="no YAML front matter"):
        load_config(write(tmp_path / "aiact.yaml", "model: {card: README.md}\n"))
    assert not [r for r in caplog.records if r.name.startswith("huggingface_hub")]


def test_config_built_in_code_reports_like_a_file() -> None:
    with pytest.raises(ConfigError) as info:
        TransparencyConfig(sytem={"name": "x"})  # type: ignore[call-arg]
    message = str(info.value)
    assert message.startswith("config (embedded defaults and AIACT_* environment): 1 problem(s)")
    assert "sytem: Extra inputs are not permitted" in message and "Fix: remove the key" in message
