"""`aiact-transparency`: mark, sign and verify files offline; manage the signing keys; detect (locally or with a
deployed detector), serve the detector, audit the fingerprint log (cli/detection.py); check a deployment.

Exit codes: 0 success (for verify: every file is marked), 1 a file is not marked, 2 an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config.errors import ConfigError
from . import detection

EXIT_OK, EXIT_NOT_MARKED, EXIT_ERROR = 0, 1, 2


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    # The same options before or after the command ("--config c.yaml verify x" and "verify x --config c.yaml").
    # Below the command they default to SUPPRESS, so an option given before it is not reset by the subparser.
    common = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    common.add_argument("--config", help="config file (YAML/TOML); default: $AIACT_CONFIG, else built-in defaults",
                        **default)
    common.add_argument("--json", action="store_true", help="print JSON instead of text", **default)
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiact-transparency",
        description="Mark AI-generated images, audio and video (EU AI Act Art. 50) and verify marks.",
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = [_common_options(top=False)]
    commands = parser.add_subparsers(dest="command", required=True)
    mark = commands.add_parser(
        "mark", help="watermark, label, add XMP and sign an image, audio (WAV, FLAC, MP3, M4A) or video (MP4, MOV) "
        "file", parents=common
    )
    mark.add_argument("input", type=Path)
    mark.add_argument("output", type=Path, help="same format as the input (the CLI does not convert)")
    verify = commands.add_parser("verify", help="report which marks files carry; --json: {file: report}",
                                 parents=common)
    verify.add_argument("files", type=Path, nargs="+")
    verify.add_argument("--recover", action="store_true", help="for files without embedded credentials: find "
                        "them through the watermark or fingerprint (C2PA Soft Binding Resolution API) and validate "
                        "them against the file; exit 0 recovered, 1 none found, 2 an error")
    verify.add_argument("--url", help="with --recover: the API's base URL, e.g. https://example.com"
                        "/.well-known/ai-disclosure/c2pa/v1 (default: the configured fingerprint log)")
    keys = commands.add_parser("keys", help="the signing identity", parents=common)
    keys.add_argument("action", choices=["init", "show"],
                      help="init: create the development chain if needed; show: describe the identity (read only)")
    detection.add_commands(commands, common)
    from ..check.cli import add_arguments as add_check_arguments

    check = commands.add_parser("check", parents=common,
                                help="probe a running deployment: what it discloses and marks, per Art. 50 obligation")
    add_check_arguments(check)
    return parser


def _config(path: str | None) -> Any:
    from ..startup import load_config

    return load_config(path)




def _mark(args: argparse.Namespace) -> int:
    from ..provenance.formats import SUFFIX_TYPES  # output names whose suffix promises a format
    from ..provenance.media import MediaMarkers

    marker = MediaMarkers(_config(args.config))
    result = marker.mark(args.input.read_bytes())
    promised = SUFFIX_TYPES.get(args.output.suffix.lower())
    if promised is not None and promised != result.media_type:
        # Writing PNG bytes to out.jpg would hand on a file whose name lies about its format.
        wanted = next((suffix for suffix, kind in SUFFIX_TYPES.items() if kind == result.media_type),
                      args.input.suffix)
        medium = result.media_type.split("/", 1)[0]
        print(f"error: {args.output}: the marked {medium} is {result.media_type} (as the input), but the name says "
              f"{promised}; nothing written. Fix: name the output {args.output.with_suffix(wanted).name}, or "
              "convert the input to the wanted format before marking it", file=sys.stderr)
        return EXIT_ERROR
    args.output.write_bytes(result.data)
    report = result.report.to_dict()
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    # A document's report has no XMP or visible label (its C2PA manifest is its only mark).
    done_layers = (("watermark", report["watermark"]), ("visible label", report.get("visible_label")),
                   ("XMP", report.get("xmp")), ("C2PA", report["c2pa"]))
    layers = [name for name, done in done_layers if done]
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
            f"  watermark: found, system {payload['system_id']:06x} "
            + (f"image {payload['image_id']:06x}, " if "image_id" in payload else f"item {payload['item_id']:06x}, ")
            + (f"in the {' and the '.join(mark['found_by'])}, " if mark.get("found_by") else "")
            + f"agreement {mark['bit_agreement']:.1%}, "
            f"false-positive chance <= {mark['false_positive_probability']:.1e}"
        )
    else:
        lines.append(f"  watermark: none ({mark['based_on']})")
    return "\n".join(lines)


def _verify(args: argparse.Namespace) -> int:
    if args.recover:
        return detection.recover(args)
    if args.url is not None:
        print("error: --url goes with --recover (the base URL of a Soft Binding Resolution API)", file=sys.stderr)
        return EXIT_ERROR
    from ..provenance.errors import MarkingError
    from ..provenance.formats import sniff_media_type
    from ..provenance.media import medium_for
    from ..provenance.verify import verify

    # Without --config or $AIACT_CONFIG nothing names "our" system: the embedded demo defaults would make
    # every report claim a system mismatch, so the reports then stay system-neutral.
    configured = args.config is not None or bool(os.environ.get("AIACT_CONFIG"))
    config = _config(args.config) if configured else None
    reports: dict[str, Any] = {}
    status = EXIT_OK
    for path in args.files:
        # One file that cannot be read or is no supported medium is reported as such; the others are still verified.
        try:
            data = path.read_bytes()
            medium = medium_for(sniff_media_type(data))  # a document (PDF, DOCX) has its own verify
            report = (medium.verify if medium is not None else verify)(data, config=config).to_dict()
        except OSError as exc:
            error = f"cannot read ({exc.strerror or exc})"
        except MarkingError as exc:
            error = str(exc)
        else:
            reports[str(path)] = report
            if not report["marked"] and status == EXIT_OK:
                status = EXIT_NOT_MARKED
            if not args.json:
                print(_describe(str(path), report))
            continue
        reports[str(path)] = {"error": error}
        status = EXIT_ERROR
        print(f"{path}: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
    return status


def _keys(args: argparse.Namespace) -> int:
    from ..provenance.keys import development_signer, existing_development_signer, production_signer

    config = _config(args.config)
    signing = config.images.signing
    signer = production_signer(
        None if signing.cert is None else config.resolve_path(signing.cert),
        None if signing.key is None else config.resolve_path(signing.key),
        tsa_url=signing.timestamp_url,
    )
    if signer is None:
        # `show` only reads: it must not create (or renew) the chain it is asked to describe.
        signer = development_signer() if args.action == "init" else existing_development_signer()
    if signer is None:
        from ..provenance.keys.dev_chain import resolve_keys_dir

        print(f"error: no signing identity yet: no production key is configured and there is no development "
              f"chain in {resolve_keys_dir()}. Fix: run 'aiact-transparency keys init', or set "
              "images.signing.cert and images.signing.key", file=sys.stderr)
        return EXIT_ERROR
    described = signer.identity.describe()
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        for key, value in described.items():
            print(f"{key:>20}: {value}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from ..check.cli import run_from_args

    return run_from_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"mark": _mark, "verify": _verify, "keys": _keys, "check": _check, **detection.handlers}
    from ..provenance.errors import MarkingError
    from ..provenance.keys import KeyConfigError

    try:
        return handlers[args.command](args)
    except (ConfigError, KeyConfigError, MarkingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR

