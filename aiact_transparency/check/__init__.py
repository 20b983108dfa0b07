"""`aiact-transparency check`: probe a running deployment (ours or anyone's) from the outside and report per
Article 50 paragraph and Code of Practice commitment, with evidence and a fix for each finding."""

from __future__ import annotations

from .cli import add_arguments, main_check, run_from_args
from .options import CheckOptions, CheckOptionsError, StreamProbe
from .report import CheckResult, Evidence, Report
from .runner import run_check

__all__ = [
    "CheckOptions",
    "CheckOptionsError",
    "CheckResult",
    "Evidence",
    "Report",
    "StreamProbe",
    "add_arguments",
    "main_check",
    "run_check",
    "run_from_args",
]
