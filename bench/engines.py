"""The stores a fingerprint-log bench fills and measures (bench_fingerprints.py, bench_soft_binding.py): SQLite in
a temporary file or `--sqlite-db`, PostgreSQL at `--pg-url` or a throwaway server, as `--only` picks them."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--sqlite-db", help="keep the SQLite database here (and reuse it when it is full)")
    parser.add_argument("--pg-url", help="use this PostgreSQL server instead of a throwaway one (reused when full)")


def each_engine(args: argparse.Namespace, prefix: str, run: Callable[[str, str], None]) -> None:
    """`run(engine, store_url)` on each engine `args` (add_engine_options') picks; `prefix`: the temporary folder's."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        if args.only in (None, "sqlite"):
            run("sqlite", f"sqlite:///{args.sqlite_db or tmp + '/fingerprints.db'}")
        if args.only in (None, "postgresql") and args.pg_url:
            run("postgresql", args.pg_url)
        elif args.only in (None, "postgresql"):
            from tests.fingerprints.pg_server import PostgresUnavailable, start_postgres

            try:
                # A server tuned as a small dedicated box would be; durable (fsync on) so inserts are honest.
                server = start_postgres(
                    durable=True, settings=("shared_buffers=1GB", "max_wal_size=4GB", "checkpoint_timeout=30min")
                )
            except PostgresUnavailable as exc:
                print(f"PostgreSQL not measured: {exc}")
            else:
                try:
                    run("postgresql", server.url)
                finally:
                    server.stop()
