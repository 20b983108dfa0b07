"""Facts about the model, from a local Hugging Face model card, overridden by the config.

The card is read from disk and parsed with ``huggingface_hub.ModelCard(text)``: ``ModelCard.load`` would
treat a missing path as a Hub repo id and go to the network, and ``.validate()`` always does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from .errors import ConfigError, config_origin

# The metadata block huggingface_hub reads: '---' on the first non-blank line (repocard.REGEX_YAML_BLOCK).
_FRONT_MATTER = re.compile(r"\s*---(?:\r\n|\r|\n)[\S\s]*?(?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|$)")

if TYPE_CHECKING:
    from .settings import TransparencyConfig


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
    return tuple(value)


# The front-matter keys read here, and whether each may also be a list of strings.
_CARD_KEYS = {
    "model_id": False, "model_name": False, "license": False, "pipeline_tag": False,
    "base_model": True, "datasets": True, "language": True,
}


_EXAMPLES = {
    "model_id": 'model_id: "acme/studio-xl"', "model_name": 'model_name: "Studio 2"',
    "license": "license: apache-2.0", "pipeline_tag": "pipeline_tag: text-to-image",
    "base_model": 'base_model: "org/model"', "datasets": 'datasets: ["org/data"]', "language": 'language: [en, "no"]',
}


def _check_front_matter(data: Any, where: str, eval_result: type) -> None:
    """Each key the facts come from must be a string (or a list of strings): YAML reads `7`, `no`, `3.0`
    as numbers and booleans, which would otherwise surface as a TypeError or 'False' in a header."""
    for key, many in _CARD_KEYS.items():
        value = getattr(data, key, None)
        if value is None or isinstance(value, str):
            continue
        if many and isinstance(value, list) and all(isinstance(item, str) for item in value):
            continue
        expected = "a string or a list of strings" if many else "a string"
        raise ConfigError(
            f"{where}: front matter key '{key}' must be {expected} (got {value!r}). Fix: write it as text, "
            f"quoting values YAML reads as numbers or booleans, e.g. {_EXAMPLES[key]}"
        )
    results = data.eval_results
    if results is not None and not (isinstance(results, list) and all(isinstance(r, eval_result) for r in results)):
        raise ConfigError(
            f"{where}: front matter key 'eval_results' is not a list of evaluation results (got {results!r}). "
            "Fix: describe evaluations under 'model-index' as the Hugging Face model card spec shows, or remove it"
        )


def _read_card(config: TransparencyConfig) -> dict[str, Any]:
    if config.model.card is None:
        return {}
    try:
        from huggingface_hub import EvalResult, ModelCard, ModelCardData
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError("model.card needs huggingface_hub: pip install huggingface_hub") from exc
    path = config.resolve_path(config.model.card)
    where = f"{config_origin(config.source)}: model.card"
    if not path.is_file():
        raise ConfigError(
            f"{where}: {path} is not a file. Fix: point model.card at a local model card (the README.md of a "
            "Hugging Face model repo, with YAML front matter); Hub repo ids are not fetched, use model.id for those"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path} is not a readable UTF-8 text file ({exc}). Fix: check the file") from None
    if not _FRONT_MATTER.match(text):
        # Without front matter there are no facts to read: most likely the wrong file (a mistyped or traversing
        # path). The message names the path, never the content. Checked before parsing, so huggingface_hub's
        # own "metadata block was not found" warning never reaches the log either.
        raise ConfigError(
            f"{where}: {path} has no YAML front matter (a '---' block with license, base_model, ...), so it is "
            "not a Hugging Face model card. Fix: point model.card at the model repo's README.md, or remove it"
        )
    where = f"{where}: {path}"
    try:
        card = ModelCard(text, ignore_metadata_errors=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: the YAML front matter does not parse: {exc}. Fix: correct the YAML between "
                          "the '---' lines") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: not a readable model card: {exc}. Fix: the front matter must be a "
                          "mapping such as 'license: apache-2.0'") from None
    data = card.data
    if not isinstance(data, ModelCardData):  # pragma: no cover - ModelCard always yields ModelCardData
        raise ConfigError(f"{where}: did not parse as a model card")
    _check_front_matter(data, where, EvalResult)
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
