"""Facts about the model, from a local Hugging Face model card, overridden by the config.

The card is read from disk and parsed with ``huggingface_hub.ModelCard(text)``: ``ModelCard.load`` would
treat a missing path as a Hub repo id and go to the network, and ``.validate()`` always does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ._config_errors import ConfigError

# The metadata block huggingface_hub reads: '---' on the first non-blank line (repocard.REGEX_YAML_BLOCK).
_FRONT_MATTER = re.compile(r"\s*---(?:\r\n|\r|\n)[\S\s]*?(?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|$)")

if TYPE_CHECKING:
    from .config import TransparencyConfig


@dataclass(frozen=True)
class ModelFacts:
    id: str | None = None
    name: str | None = None
    license: str | None = None
    base_model: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    languages: tuple[str, ...] = ()
    eval_results: tuple[dict[str, Any], ...] = field(default=())

    @property
    def label(self) -> str | None:
        """How the model is named to people and in headers: its id, else its name."""
        return self.id or self.name

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


def _read_card(config: TransparencyConfig) -> dict[str, Any]:
    if config.model.card is None:
        return {}
    try:
        from huggingface_hub import ModelCard, ModelCardData
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError("model.card needs huggingface_hub: pip install huggingface_hub") from exc
    path = config.resolve_path(config.model.card)
    where = f"{config.source or 'config'}: model.card"
    if not path.is_file():
        raise ConfigError(
            f"{where}: {path} is not a file. Fix: point model.card at a local model card (the README.md of a "
            "Hugging Face model repo, with YAML front matter); Hub repo ids are not fetched, use model.id for those"
        )
    try:
        text = path.read_text(encoding="utf-8")
        card = ModelCard(text, ignore_metadata_errors=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path} is not a readable model card: {exc}") from None
    if not _FRONT_MATTER.match(text):
        # Without front matter there are no facts to read: most likely the wrong file (a mistyped or traversing
        # path). The message names the path, never the content.
        raise ConfigError(
            f"{where}: {path} has no YAML front matter (a '---' block with license, base_model, ...), so it is "
            "not a Hugging Face model card. Fix: point model.card at the model repo's README.md, or remove it"
        )
    data = card.data
    if not isinstance(data, ModelCardData):  # pragma: no cover - ModelCard always yields ModelCardData
        raise ConfigError(f"{where}: {path} did not parse as a model card")
    results = [
        {"task": r.task_type, "dataset": r.dataset_name, "metric": r.metric_type, "value": r.metric_value}
        for r in (data.eval_results or [])
    ]
    return {
        "id": getattr(data, "model_id", None) or None,
        "name": data.model_name,
        "license": data.license,
        "base_model": data.base_model,
        "datasets": data.datasets,
        "pipeline_tag": data.pipeline_tag,
        "languages": data.language,
        "eval_results": results,
    }


def model_facts(config: TransparencyConfig) -> ModelFacts:
    card = _read_card(config)
    model = config.model

    def pick(override: Any, key: str) -> Any:
        return override if override is not None else card.get(key)

    return ModelFacts(
        id=pick(model.id, "id"),
        name=pick(model.name, "name"),
        license=pick(model.license, "license"),
        base_model=_as_tuple(pick(model.base_model, "base_model")),
        datasets=_as_tuple(pick(model.datasets, "datasets")),
        pipeline_tag=card.get("pipeline_tag"),
        languages=_as_tuple(card.get("languages")),
        eval_results=tuple(card.get("eval_results") or ()),
    )
