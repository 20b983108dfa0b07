"""The one config file that describes the deployed system, the model behind it and what to disclose.

Sources, highest priority first: values passed to ``TransparencyConfig(...)`` in code, ``AIACT_*``
environment variables (nested with ``__``, e.g. ``AIACT_SYSTEM__NAME``), the YAML/TOML file given to
:func:`load_config`, then the embedded defaults, which work out of the box.

This module only parses and validates. :func:`aiact_transparency.load_config` (in :mod:`..startup`) calls
:func:`parse_config` and then runs the start-up checks that need the layers above config.
"""

from __future__ import annotations

import contextvars
import os
from functools import cache
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .audio import AudioConfig
from .detection import DetectionSettings
from .errors import ConfigError, format_validation_error
from .files import read_config_file
from .fingerprints import FingerprintSettings
from .sections import BannerConfig, DisclosureConfig, ImagesConfig, ModelConfig, SystemConfig
from .text import TextConfig
from .video import VideoConfig

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
    text: TextConfig = TextConfig()
    detection: DetectionSettings = DetectionSettings()
    fingerprints: FingerprintSettings = Field(default_factory=FingerprintSettings)  # store path: read per config
    audio: AudioConfig = AudioConfig()
    video: VideoConfig = VideoConfig()
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
            raise ConfigError(format_validation_error(exc, values.get("source"), _secret_paths())) from None

    def resolve_path(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder (or the working directory)."""
        base = self.source.parent if self.source is not None else Path.cwd()
        return path if path.is_absolute() else (base / path)



def _secrets_in(model: type[BaseModel], prefix: str) -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        kinds = {field.annotation, *get_args(field.annotation)}
        if SecretStr in kinds:
            paths.add(path)
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                paths |= _secrets_in(kind, path + ".")
    return paths


@cache
def _secret_paths() -> frozenset[str]:
    """The dotted paths of every SecretStr field: config errors never print what was given for them."""
    return frozenset(_secrets_in(TransparencyConfig, ""))


def parse_config(path: str | os.PathLike[str] | None = None) -> TransparencyConfig:
    """Read and validate the config: `path`, else the file named by AIACT_CONFIG, else embedded defaults.

    Every problem is a :class:`ConfigError` naming the file, the field, what was expected and how to fix it.
    No start-up checks: use :func:`aiact_transparency.load_config` for those.
    """
    if path is None and os.environ.get("AIACT_CONFIG"):
        path = os.environ["AIACT_CONFIG"]
    source = Path(path).resolve() if path is not None else None
    values = read_config_file(source) if source is not None else {}
    token = _file_values.set(values)
    try:
        return TransparencyConfig(source=source)
    finally:
        _file_values.reset(token)
