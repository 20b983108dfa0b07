"""Start and stop a throwaway PostgreSQL server from Debian's `postgresql` package (tests and bench).

initdb into a fresh temporary directory, then pg_ctl start on a free loopback port with the Unix socket in
that directory. PostgreSQL refuses to run as root, so as root both run as the `postgres` user the package
creates (via runuser).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
START_ATTEMPTS = 3  # a free port can be taken between our probe and the server's bind


class PostgresUnavailable(RuntimeError):
    """No server binaries (or no way to run them unprivileged): the package is not installed."""


@dataclass
class PostgresServer:
    url: str
    root: Path
    bin_dir: Path
    running: bool = True

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def stop(self) -> None:
        try:
            if self.running:
                _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60",
                      "stop"])
                self.running = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def bin_dir() -> Path:
    def version(initdb: Path) -> int:
        name = initdb.parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=version)
    if not found:
        raise PostgresUnavailable(f"no PostgreSQL server under {PG_ROOT} (Debian package: postgresql)")
    return found[-1].parent


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("runuser is missing: PostgreSQL cannot be started as a non-root user")
    return ["runuser", "-u", "postgres", "--", *args]


def _run(args: list[str], log: Path | None = None) -> None:
    result = subprocess.run(_as_server_user(args), capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}{server_log}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_postgres(*, durable: bool = False, settings: tuple[str, ...] = ()) -> PostgresServer:
    """A running server; `durable=False` turns fsync off (a test server holds nothing worth keeping)."""
    binaries = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="aiact-pg-"))
    try:
        if os.geteuid() == 0:
            try:
                shutil.chown(root, "postgres", "postgres")
            except LookupError as exc:
                raise PostgresUnavailable("no 'postgres' user to run the server as") from exc
        data, log = root / "data", root / "server.log"
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "aiact", "-A", "trust", "-E", "UTF8",
              "--locale=C", "--no-sync"])
        extra = [] if durable else ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        extra += [f"-c {s}" for s in settings]
        for attempt in range(START_ATTEMPTS):
            port = _free_port()
            options = " ".join([f"-k {root} -p {port} -c listen_addresses=127.0.0.1", *extra])
            try:
                _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                      "start"], log)
                return PostgresServer(f"postgresql://aiact@127.0.0.1:{port}/postgres", root, binaries)
            except RuntimeError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
