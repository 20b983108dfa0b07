"""Running a check against a served app, and what came out of it."""

from __future__ import annotations

from typing import Any

from aiact_transparency.check import CheckOptions, Report, StreamProbe, run_check
from tests.servers import serve

from . import apps


def options(base: str, **changes: Any) -> CheckOptions:
    values: dict[str, Any] = {"pages": ("/",), "media": (apps.MEDIA[0],),
                              "streams": (StreamProbe(apps.STREAM, apps.STREAM_BODY),), "timeout_s": 20.0}
    values.update(changes)
    return CheckOptions(base_url=base, **values)


def check(app: Any, **changes: Any) -> Report:
    with serve(app) as base:
        return run_check(options(base, **changes))


def failing(report: Report) -> set[str]:
    return {c.id for c in report.checks if c.status == "fail"}


def warned(report: Report) -> set[str]:
    return {c.id for c in report.checks if c.status == "warn"}


def only(report: Report, id: str) -> list[Any]:
    return [c for c in report.checks if c.id == id]
