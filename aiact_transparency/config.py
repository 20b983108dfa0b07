"""The one config file that describes the deployed system, the model behind it and what to disclose.

Sources, highest priority first: values passed to ``TransparencyConfig(...)`` in code, ``AIACT_*``
environment variables (nested with ``__``, e.g. ``AIACT_SYSTEM__NAME``), the YAML/TOML file given to
:func:`load_config`, then the embedded defaults, which work out of the box.
"""

from __future__ import annotations

import contextvars
import os
import re
import string
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ._config_errors import ConfigError, format_validation_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DisclosureMode = Literal["none", "ai-modified", "ai-originated", "machine-generated"]
RiskClass = Literal["minimal", "limited", "high", "prohibited"]
FailurePolicy = Literal["fail-closed", "fail-open"]

# C0 controls and DEL: CR/LF would split a header, NUL truncates C strings downstream, the rest has no
# business in a disclosure text. Rejected everywhere, so nothing that reaches a header can inject one.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Lone surrogates: what Python makes of environment bytes that are not valid UTF-8; they cannot be encoded.
_SURROGATES = re.compile("[\ud800-\udfff]")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_ROUTE_PATTERN = re.compile(r"^/[\x21-\x7e]*$")


def _no_control_chars(value: str) -> str:
    match = _CONTROL_CHARS.search(value)
    if match:
        raise ValueError(
            f"contains the control character {match.group()!r} at position {match.start()}; "
            "remove line breaks, tabs and NUL bytes (they could inject HTTP headers)"
        )
    if _SURROGATES.search(value):
        raise ValueError("is not valid UTF-8 text (an environment variable with undecodable bytes?); fix its encoding")
    return value


Text = Annotated[str, AfterValidator(_no_control_chars)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemConfig(_Section):
    name: Text = "aiact-transparency demo"
    provider: Text = "Example Provider"
    # RFC 9651 Strings are ASCII. An ASCII spelling of the provider for the AI-Disclosure header, when
    # `provider` is not in Latin script: Latin letters (ł, ß, Œ, accents) are folded automatically, other
    # scripts never are, since only the provider knows its Latin-script name (structured_fields.fold_to_ascii).
    provider_ascii: Text | None = None
    contact: Text | None = None
    purpose: Text | None = None
    risk_class: RiskClass = "limited"

    @field_validator("contact")
    @classmethod
    def _contact_is_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(mailto:[^@\s]+@[^@\s]+|https?://\S+)$", value):
            raise ValueError("must be a mailto: address or an http(s):// URL, e.g. 'mailto:ai@example.com'")
        return value

    @field_validator("risk_class")
    @classmethod
    def _not_prohibited(cls, value: str) -> str:
        if value == "prohibited":
            raise ValueError(
                "a system in the 'prohibited' class (AI Act Article 5) may not be placed on the EU market or "
                "used there at all; transparency measures cannot make it lawful, so this library refuses to "
                "run for it. Fix: use 'minimal', 'limited' or 'high' if the classification was a mistake"
            )
        return value


class ModelConfig(_Section):
    card: Path | None = Field(default=None, description="Local Hugging Face model card (README.md with YAML)")
    id: Text | None = None
    name: Text | None = None
    license: Text | None = None
    base_model: list[Text] | None = None
    datasets: list[Text] | None = None

    @field_validator("base_model", "datasets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RouteRule(_Section):
    path: Text
    mode: DisclosureMode | None = None
    banner: bool | None = None
    json_body: bool | None = Field(default=None, alias="json")
    event_stream: bool | None = None
    # Mark image responses here (true) or never (false); unset: as images.routes says.
    images: bool | None = None

    # serialize_by_alias: with nested_model_default_partial_update, the defaults are dumped and merged with the
    # user's keys; dumped by field name, `json_body` would then count as an extra key next to the user's `json`.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    @field_validator("path")
    @classmethod
    def _path_pattern(cls, value: str) -> str:
        if not _ROUTE_PATTERN.match(value):
            raise ValueError("must start with '/' and contain no spaces, e.g. '/static/*' ('*' matches anything)")
        return value


class DisclosureConfig(_Section):
    mode: DisclosureMode = "ai-originated"
    reviewed_by: Text | None = None
    routes: list[RouteRule] = []
    discovery_path: Text = "/.well-known/ai-disclosure"
    json_body: bool = Field(default=False, alias="json")
    json_key: Text = "ai_disclosure"
    event_stream: bool = True

    # serialize_by_alias: with nested_model_default_partial_update, the defaults are dumped and merged with the
    # user's keys; dumped by field name, `json_body` would then count as an extra key next to the user's `json`.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    @field_validator("discovery_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        # "//host/x" would be a network-path reference: the banner's link would point to another site.
        if not re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*", value) or "*" in value or value.startswith("//"):
            raise ValueError("must be an absolute URL path without wildcards, e.g. '/.well-known/ai-disclosure'")
        return value


def _check_banner_text(text: dict[str, str]) -> dict[str, str]:
    for language, sentence in text.items():
        if not _LANGUAGE_TAG.match(language):
            raise ValueError(f"{language!r} is not a language tag; use BCP 47 tags such as 'de' or 'pt-BR'")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(sentence) if name is not None}
        except ValueError as exc:
            raise ValueError(f"text for {language!r}: {exc}; write literal braces as '{{{{' and '}}}}'") from None
        unknown = fields - {"system", "provider"}
        if unknown:
            raise ValueError(
                f"text for {language!r} uses unknown placeholder(s) {sorted(unknown)}; "
                "only {system} and {provider} are filled in"
            )
    return text


class BannerConfig(_Section):
    enabled: bool = True
    text: Annotated[dict[str, Text], AfterValidator(_check_banner_text)] = {}
    default_language: Text = "en"
    max_lookahead: int = Field(default=16384, ge=256, le=1 << 20)


class SigningConfig(_Section):
    cert: Path | None = None
    key: Path | None = None
    timestamp_url: Text | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> SigningConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("set both 'cert' and 'key' (PEM files), or neither to use the development chain")
        return self


class ImagesConfig(_Section):
    enabled: bool = True
    routes: list[Text] = ["*"]
    watermark: bool = True
    visible_label: bool = False
    c2pa: bool = True
    xmp: bool = True
    on_error: FailurePolicy = "fail-closed"
    jpeg_quality: int = Field(default=92, ge=1, le=100)
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=40_000_000, ge=1024)
    workers: int | None = Field(default=None, ge=1, le=256)
    executor: Literal["thread", "process"] = "thread"
    max_queue: int = Field(default=64, ge=0, le=100_000)
    generated_sizes: list[tuple[int, int]] = []
    training_mining: dict[str, Literal["allowed", "notAllowed", "constrained"]] = {
        "cawg.ai_generative_training": "notAllowed",
        "cawg.ai_training": "notAllowed",
        "cawg.data_mining": "notAllowed",
    }
    signing: SigningConfig = SigningConfig()

    @field_validator("routes")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if pattern != "*" and not _ROUTE_PATTERN.match(pattern):
                raise ValueError(f"route {pattern!r} must start with '/' or be '*' (every image response)")
        return value


_file_values: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("aiact_file_values", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """Values read by load_config(); ranked below environment variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return (_file_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


class TransparencyConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIACT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    system: SystemConfig = SystemConfig()
    model: ModelConfig = ModelConfig()
    disclosure: DisclosureConfig = DisclosureConfig()
    banner: BannerConfig = BannerConfig()
    images: ImagesConfig = ImagesConfig()
    # Where the config came from; relative paths inside it (model card, keys) resolve against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)

    def __init__(self, **values: Any) -> None:
        # The same report as a file gets: TransparencyConfig(sytem=...) in code names the field and the fix.
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, values.get("source"))) from None

    def resolve_path(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder (or the working directory)."""
        base = self.source.parent if self.source is not None else Path.cwd()
        return path if path.is_absolute() else (base / path)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found. Fix: check the path or unset AIACT_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        elif path.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(raw) or {}
        else:
            raise ConfigError(f"{path}: unknown config format {path.suffix!r}. Fix: use a .yaml, .yml or .toml file")
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with keys such as 'system' and 'model'")
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> TransparencyConfig:
    """Load and validate the config: `path`, else the file named by AIACT_CONFIG, else embedded defaults.

    Every problem is reported here, at start-up, as a :class:`ConfigError` naming the file, the field,
    what was expected and how to fix it; the model card is read and checked too.
    """
    if path is None and os.environ.get("AIACT_CONFIG"):
        path = os.environ["AIACT_CONFIG"]
    source = Path(path).resolve() if path is not None else None
    values = read_config_file(source) if source is not None else {}
    token = _file_values.set(values)
    try:
        config = TransparencyConfig(source=source)
    finally:
        _file_values.reset(token)
    # The composition seam (see _startup): imported here, not at module level, so config imports nothing above it.
    from ._startup import check_startup

    check_startup(config)
    return config
