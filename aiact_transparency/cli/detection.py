"""The CLI's `detect`, `serve-detector` and `fingerprints` commands (issue 11).

    aiact-transparency detect FILE... [--url URL] [--json] [--jws]
    aiact-transparency serve-detector [--host 127.0.0.1] [--port 8000]
    aiact-transparency fingerprints stats | purge | export [--output FILE] [--manifests]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..startup import load_config

__all__ = ["add_commands", "handlers", "recover"]

EXIT_OK = 0


def add_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    detect = commands.add_parser("detect", parents=common, help="is this content AI-generated, by this system or "
                                 "another? exit 0 all detected, 1 one not detected, 2 an error")
    detect.add_argument("files", type=Path, nargs="+")
    detect.add_argument("--url", help="ask the detector deployed at this URL instead of checking locally")
    detect.add_argument("--jws", action="store_true", help="a signed result (compact JWS) per file")
    serve = commands.add_parser("serve-detector", parents=common, help="run the detection service alone (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    log = commands.add_parser("fingerprints", parents=common, help="the fingerprint log: figures, retention purge, "
                              "JSON Lines export for audits")
    log.add_argument("action", choices=["stats", "purge", "export"])
    log.add_argument("--output", type=Path, help="export: write the JSON Lines here (default: standard output)")
    log.add_argument("--manifests", action="store_true", help="export: the kept C2PA manifest stores (base64) "
                     "instead of the fingerprint records")


def _configured(args: argparse.Namespace) -> bool:
    return args.config is not None or bool(os.environ.get("AIACT_CONFIG"))


# The commands' modules are imported when run, as cli/__init__.py does: `--help` stays quick.
def _detect(args: argparse.Namespace) -> int:
    from ..detection.commands import detect_command
    from ..detection.output_log import StoreIndex
    from ..fingerprints import open_store

    # As verify: without --config or $AIACT_CONFIG nothing names "our" system, so results stay system-neutral.
    config = load_config(args.config) if _configured(args) else None
    index = None
    if config is not None and config.fingerprints.enabled and args.url is None:
        settings = config.fingerprints
        index = StoreIndex(open_store(settings.store, **settings.store_options()), settings)
    try:
        return detect_command(args.files, config=config, url=args.url, as_json=args.json, as_jws=args.jws,
                              fingerprints=index)
    finally:
        if index is not None:
            index.store.close()


def _serve(args: argparse.Namespace) -> int:
    from ..detection.commands import serve_detector

    serve_detector(load_config(args.config), host=args.host, port=args.port)
    return EXIT_OK


def _fingerprints(args: argparse.Namespace) -> int:
    from ..fingerprints import export_jsonl, export_manifests_jsonl, open_store, purge_expired, stats

    config = load_config(args.config)
    settings = config.fingerprints
    if not settings.enabled:
        print(f"note: fingerprints.enabled is false; reading the {settings.describe()['engine']} store anyway",
              file=sys.stderr)
    with open_store(settings.store) as store:
        if args.action == "stats":
            figures = stats(store)
            if args.json:
                print(json.dumps(figures, indent=2, sort_keys=True))
            else:
                for key, value in figures.items():
                    print(f"{key:>15}: {value}")
        elif args.action == "purge":
            purged = purge_expired(store, settings.retention_days)
            print(json.dumps({"purged": purged, "retention_days": settings.retention_days}) if args.json else
                  f"purged {purged} record(s) older than {settings.retention_days} days")
        else:
            out = args.output.open("w", encoding="utf-8") if args.output is not None else sys.stdout
            try:
                count = 0
                for line in (export_manifests_jsonl if args.manifests else export_jsonl)(store):
                    out.write(line)
                    count += 1
            finally:
                if args.output is not None:
                    out.close()
            if args.output is not None:
                what = "manifest store(s)" if args.manifests else "record(s)"
                print(f"exported {count} {what} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _describe_recovery(name: str, report: dict[str, Any]) -> str:
    lines = [f"{name}: {report['summary']}"]
    manifest = report.get("manifest") or {}
    if report["recovered"] and report["through"] != "embedded":
        score = report.get("similarity_score")
        similarity = f" (similarity {score}/100)" if score is not None else ""
        lines.append(f"  manifest: {report['manifest_id']}{similarity}")
    if manifest.get("found"):
        source = (manifest.get("digital_source_type") or "no source type").rsplit("/", 1)[-1]
        signer = manifest.get("signer_common_name") or "unknown signer"
        lines.append(f"  says: {source}, made with {manifest.get('software_agent') or manifest.get('claim_generator')}"
                     f", signed by {signer} ({manifest.get('signer_issuer') or 'unknown issuer'})"
                     + (f" at {manifest['signed_at']}" if manifest.get("signed_at") else ""))
        if manifest.get("disclosed_system"):
            lines.append(f"  system: {manifest['disclosed_system']}, provider {manifest.get('disclosed_provider')}")
        from ..provenance.c2pa.reading import _HARD_BINDING_PREFIXES

        # The hard binding is expected to break on a re-encoded copy; anything else is a real failure.
        others = [e for e in manifest.get("errors", []) if not e.startswith(_HARD_BINDING_PREFIXES)]
        lines.append(f"  c2pa: {manifest.get('validation_state')} (signature and claim "
                     f"{'INVALID' if others else 'valid'}; {'trusted' if manifest.get('trusted') else 'untrusted'}"
                     " signer)")
        lines += [f"    {e}" for e in manifest.get("errors", [])]
        lines += [f"  note: {n}" for n in manifest.get("notes", [])]
    return "\n".join(lines)


def recover(args: argparse.Namespace) -> int:
    """`verify --recover FILE... [--url BASE]`: 0 every file's credentials found, 1 one without, 2 an error."""
    from ..detection.soft_binding.recover import HttpResolution, LocalResolution, RecoveryError
    from ..detection.soft_binding.recover import recover as recover_one
    from ..detection.soft_binding.resolver import Resolver
    from ..fingerprints import open_store

    store = None
    try:
        if args.url is not None:
            resolution: HttpResolution | LocalResolution = HttpResolution(args.url)
        else:
            config = load_config(args.config) if _configured(args) else None
            if config is None or not config.fingerprints.enabled:
                print("error: --recover needs --url BASE (a C2PA Soft Binding Resolution API) or a config with "
                      "fingerprints.enabled (--config or $AIACT_CONFIG)", file=sys.stderr)
                return 2
            store = open_store(config.fingerprints.store)
            resolution = LocalResolution(Resolver(config, store))
        status, reports = EXIT_OK, {}
        for path in args.files:
            try:
                report = recover_one(path.read_bytes(), resolution).to_dict()
            except OSError as exc:
                error = f"cannot read ({exc.strerror or exc})"
            except RecoveryError as exc:
                error = str(exc)
            else:
                reports[str(path)] = report
                if not report["recovered"] and status == EXIT_OK:
                    status = 1
                if not args.json:
                    print(_describe_recovery(str(path), report))
                continue
            reports[str(path)] = {"error": error}
            status = 2
            print(f"{path}: {error}", file=sys.stderr)
        if args.json:
            print(json.dumps(reports, indent=2, sort_keys=True))
        return status
    except RecoveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            store.close()


handlers = {"detect": _detect, "serve-detector": _serve, "fingerprints": _fingerprints}
