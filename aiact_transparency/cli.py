"""`aiact-transparency`: mark, sign and verify files offline; manage the signing keys.

Exit codes: 0 success (for verify: every file is marked), 1 a file is not marked, 2 an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._config_errors import ConfigError
from ._version import __version__

EXIT_OK, EXIT_NOT_MARKED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiact-transparency", description="Mark AI-generated images (EU AI Act Art. 50) and verify marks."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help="config file (YAML/TOML); default: $AIACT_CONFIG, else built-in defaults")
    commands = parser.add_subparsers(dest="command", required=True)
    mark = commands.add_parser("mark", help="watermark, label, add XMP and sign an image")
    mark.add_argument("input", type=Path)
    mark.add_argument("output", type=Path)
    mark.add_argument("--json", action="store_true", help="print the marking report as JSON")
    verify = commands.add_parser("verify", help="report which marks files carry")
    verify.add_argument("files", type=Path, nargs="+")
    verify.add_argument("--json", action="store_true", help="one JSON document: {file: report}")
    keys = commands.add_parser("keys", help="the signing identity")
    keys.add_argument("action", choices=["init", "show"], help="init: create the development chain; show: describe")
    keys.add_argument("--json", action="store_true")
    return parser


def _config(path: str | None) -> Any:
    from .config import load_config

    return load_config(path)


def _mark(args: argparse.Namespace) -> int:
    from .provenance.pipeline import ImageMarker

    marker = ImageMarker(_config(args.config))
    result = marker.mark(args.input.read_bytes())
    args.output.write_bytes(result.data)
    report = result.report.to_dict()
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    layers = [name for name, done in (("watermark", report["watermark"]), ("visible label", report["visible_label"]),
                                      ("XMP", report["xmp"]), ("C2PA", report["c2pa"])) if done]
    state = "already marked, copied unchanged" if report["already_marked"] else "marked with " + ", ".join(layers)
    print(f"{args.output}: {report['media_type']}, {state}")
    if report["c2pa"] and report["c2pa"].get("development"):
        print("  signed with the DEVELOPMENT chain: valid but untrusted; configure production keys for real use")
    for note in report["notes"]:
        print(f"  note: {note}")
    return EXIT_OK


def _describe(name: str, report: dict[str, Any]) -> str:
    c2pa, xmp, mark = report["c2pa"], report["xmp"], report["watermark"]
    lines = [f"{name}: {'MARKED as AI-generated' if report['marked'] else 'no AI marks found'}"]
    if c2pa["found"]:
        trust = "trusted" if c2pa["trusted"] else "untrusted signer"
        state = "valid" if c2pa["valid"] else "INVALID"
        source = (c2pa.get("digital_source_type") or "no source type").rsplit("/", 1)[-1]
        lines.append(f"  C2PA: {state} ({trust}), {source}, by {c2pa.get('claim_generator')}")
        lines += [f"    error: {e}" for e in c2pa.get("errors", [])]
    else:
        lines.append(f"  C2PA: none ({c2pa['based_on']})")
    lines.append(f"  XMP: {xmp.get('digital_source_type') or 'no DigitalSourceType'}")
    if mark["found"]:
        payload = mark["payload"]
        lines.append(
            f"  watermark: found, system {payload['system_id']:06x} image {payload['image_id']:06x}, "
            f"agreement {mark['bit_agreement']:.1%}, false-positive chance <= {mark['false_positive_probability']:.1e}"
        )
    else:
        lines.append(f"  watermark: none ({mark['based_on']})")
    return "\n".join(lines)


def _verify(args: argparse.Namespace) -> int:
    from .provenance.verify import verify

    config = _config(args.config) if args.config else None
    reports: dict[str, Any] = {}
    status = EXIT_OK
    for path in args.files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"{path}: cannot read ({exc.strerror})", file=sys.stderr)
            return EXIT_ERROR
        report = verify(data, config=config).to_dict()
        reports[str(path)] = report
        if not report["marked"]:
            status = EXIT_NOT_MARKED
        if not args.json:
            print(_describe(str(path), report))
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
    return status


def _keys(args: argparse.Namespace) -> int:
    from .provenance.pipeline import signer_for

    signer = signer_for(_config(args.config))
    identity = getattr(signer, "identity", None)
    described = identity.describe() if identity is not None else {"alg": signer.alg}
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        for key, value in described.items():
            print(f"{key:>20}: {value}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"mark": _mark, "verify": _verify, "keys": _keys}
    from .provenance.errors import ImageMarkingError
    from .provenance.keys import KeyConfigError

    try:
        return handlers[args.command](args)
    except (ConfigError, KeyConfigError, ImageMarkingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
