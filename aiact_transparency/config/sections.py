"""The config file's sections: plain, frozen pydantic models, and the validators every text field shares."""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

logger = logging.getLogger("aiact_transparency.config")

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
    # Mark media responses (images, audio) here (true) or never (false); unset: as images.routes says.
    media: bool | None = None
    # The old name of `media`, from when only images were marked: still read, with a deprecation message.
    images: bool | None = Field(default=None, exclude=True)
    # Append a signed C2PA text manifest (the A.8 wrapper) to generated text here: chat/completions JSON and
    # SSE, text/plain. Opt-in: the wrapper is invisible characters that some consumers drop or count.
    text: Literal["c2pa", "none"] = "none"

    # serialize_by_alias: with nested_model_default_partial_update, the defaults are dumped and merged with the
    # user's keys; dumped by field name, `json_body` would then count as an extra key next to the user's `json`.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    @model_validator(mode="after")
    def _images_is_media(self) -> RouteRule:
        if self.images is None:
            return self
        if self.media is not None and self.media != self.images:
            raise ValueError(f"sets both media ({self.media}) and its deprecated name images ({self.images}); "
                             "keep only media")
        logger.warning("routes[].images (path %s) is deprecated: rename it to routes[].media (it switches "
                       "marking for every medium, images and audio)", self.path)
        object.__setattr__(self, "media", self.images)  # frozen model: set once, while validating
        object.__setattr__(self, "images", None)
        return self

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


LabelVariant = Literal["ai", "ai-generated", "ai-modified"]
_LABEL_WORDS = {"ai", "ai-generated", "ai-modified", "true", "false", "yes", "no", "on", "off", "1", "0"}


def _label_setting(value: Any) -> Any:
    # One message for a wrong word, instead of one per member of the bool | variant union.
    if isinstance(value, str) and value.strip().lower() not in _LABEL_WORDS:
        raise ValueError(f"{value!r} is not a label setting; use true, false, 'ai', 'ai-generated' or 'ai-modified'")
    return value.strip().lower() if isinstance(value, str) and value.strip().lower().startswith("ai") else value


class ImagesConfig(_Section):
    enabled: bool = True
    routes: list[Text] = ["*"]
    watermark: bool = True
    # The EU icon (Code of Practice, Annex 1) top right: "AI", "AI GENERATED" or "AI MODIFIED"; true means "ai".
    visible_label: Annotated[bool | LabelVariant, BeforeValidator(_label_setting)] = False
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

    @property
    def label_variant(self) -> LabelVariant:
        """The icon variant drawn when visible_label is on (true: the plain "AI")."""
        return self.visible_label if isinstance(self.visible_label, str) else "ai"
