"""Config errors that say where, what and how to fix, instead of pydantic's raw report."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError


class ConfigError(ValueError):
    """The configuration cannot be used. Raised at start-up, never at the first request."""


NO_FILE = "config (embedded defaults and AIACT_* environment)"


def config_origin(source: Path | None) -> str:
    """How an error names where the config came from: its file, else the defaults and the environment."""
    return str(source) if source is not None else NO_FILE


def config_problem(source: Path | None, field: str, problem: str) -> ConfigError:
    """One error in the format every start-up check uses: `<file>: <field>: <problem and fix>`."""
    return ConfigError(f"{config_origin(source)}: {field}: {problem}")


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part in {"function-after", "function-before"} or str(part).startswith(("function-", "Literal[")):
            continue
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _env_loc(loc: tuple[Any, ...]) -> list[str]:
    """The part of `loc` an environment variable can address: a list (or tuple) is set as a whole, as JSON, so
    the name stops at its first index ("AIACT_DISCLOSURE__ROUTES", not "..._ROUTES__PATH", which is ignored)."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            break
        if part in {"function-after", "function-before"} or str(part).startswith(("function-", "Literal[")):
            continue
        parts.append(str(part))
    return parts


def _hint(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove the key or check its spelling against the README's config reference"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"use one of {expected}"
    if kind in {"missing"}:
        return "add the key"
    if kind.endswith("_parsing") or kind.endswith("_type"):
        return f"expected {kind.removesuffix('_parsing').removesuffix('_type').replace('_', ' ')}"
    return ""


# What a config error prints instead of the rejected value of a secret.
HIDDEN = "(not shown: it may be a secret)"


def _is_secret(loc: tuple[Any, ...], value: Any, secret_paths: Collection[str]) -> bool:
    """Keys are never echoed: a field whose name ends in 'key', a SecretStr field or value, a section that holds
    a SecretStr field, or a mapping that holds such a field (a section-level error prints the whole value)."""
    names = [str(part) for part in loc if isinstance(part, str)]
    path = _field_path(loc)
    return (
        isinstance(value, SecretStr)
        or bool(names and names[-1].lower().endswith("key"))
        or any(secret == path or secret.startswith(path + ".") for secret in secret_paths)
        or (isinstance(value, Mapping) and any(_is_secret((*loc, k), v, secret_paths) for k, v in value.items()))
    )


def format_validation_error(exc: ValidationError, source: Path | None, secret_paths: Collection[str] = ()) -> str:
    """pydantic's report as one line per problem: field, what is wrong, the value given (never a secret's), the fix
    and the environment variable that sets it. `secret_paths`: dotted paths of the SecretStr fields."""
    where = config_origin(source)
    lines = [f"{where}: {exc.error_count()} problem(s) in the AI transparency config:"]
    for error in exc.errors(include_url=False):
        field = _field_path(tuple(error["loc"])) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        hint = _hint(error)
        loc = tuple(error["loc"])
        if _is_secret(loc, error.get("input"), secret_paths):
            shown = HIDDEN
        else:
            shown = repr(error.get("input"))
            if len(shown) > 80:
                shown = shown[:77] + "..."
        line = f"  - {field}: {message} (got {shown})"
        if hint:
            line += f". Fix: {hint}"
        env = "AIACT_" + "__".join(str(p).upper() for p in _env_loc(tuple(error["loc"])))
        line += f" [set in the file or as {env}]"
        lines.append(line)
    return "\n".join(lines)
