"""Development certificate chain: generated once per user, reused, renewed before it runs out.

The chain is self-made, so validators report manifests it signs as "Valid", never "Trusted".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .certs import Issued, cert_pem, issue_root_ca, issue_signer, key_pem

try:  # POSIX only; on Windows concurrent first runs are not serialised (the loader still catches a torn pair)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("aiact_transparency.keys")

ENV_KEYS_DIR = "AIACT_KEYS_DIR"
DEV_ORGANIZATION = "aiact-transparency development (UNTRUSTED)"
CA_FILE, CA_KEY_FILE = "dev-root-ca.pem", "dev-root-ca.key.pem"
CHAIN_FILE, KEY_FILE = "dev-signer-chain.pem", "dev-signer.key.pem"
CA_LIFETIME = dt.timedelta(days=3650)
SIGNER_LIFETIME = dt.timedelta(days=365)
# Renew a month early so a long-running process never signs with a certificate about to lapse.
RENEW_MARGIN = dt.timedelta(days=30)
# Allow for clocks of other machines that read the manifest being slightly behind ours.
BACKDATE = dt.timedelta(minutes=5)


def resolve_keys_dir(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Argument, then $AIACT_KEYS_DIR, then the per-user data directory."""
    if path is not None:
        return Path(path)
    env = os.environ if environ is None else environ
    if env.get(ENV_KEYS_DIR):
        return Path(env[ENV_KEYS_DIR])
    from platformdirs import user_data_dir

    return Path(user_data_dir("aiact-transparency")) / "keys"


def unusable_keys_dir(directory: Path) -> str | None:
    """Why the development chain could not be made or read in `directory`, or None; creates nothing.

    For load_config: a folder that cannot be created is otherwise found only when the first marker is
    built, which under uvicorn is the first request.
    """
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory, so the development chain cannot be kept in {directory}"
    if existing == directory:
        missing = [name for name in (CHAIN_FILE, KEY_FILE) if not (directory / name).exists()]
        if missing and not os.access(directory, os.W_OK | os.X_OK):
            return f"{directory} is not writable and holds no development chain yet"
    elif not os.access(existing, os.W_OK | os.X_OK):
        return f"{directory} does not exist and {existing} is not writable"
    return None


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    # A crash or a concurrent reader must never see half a key: write a temp file, then rename over.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # Several workers may start at once; only one may generate, the others then reuse its files.
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(directory / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_pair(cert_path: Path, key_path: Path) -> Issued | None:
    try:
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, IndexError):
        return None
    if cert.public_key().public_bytes(*_SPKI) != key.public_key().public_bytes(*_SPKI):
        return None
    return Issued(key, cert)  # type: ignore[arg-type]


def _fresh(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + RENEW_MARGIN < cert.not_valid_after_utc


def ensure_dev_chain(directory: Path, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Create or renew the development chain in `directory`; return (chain PEM path, key PEM path)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory):
        ca = _load_pair(directory / CA_FILE, directory / CA_KEY_FILE)
        if ca is None or not _fresh(ca.cert, now):
            ca = issue_root_ca(f"{DEV_ORGANIZATION} root CA", not_before=now - BACKDATE, not_after=now + CA_LIFETIME)
            write_atomic(directory / CA_KEY_FILE, key_pem(ca.key), 0o600)
            write_atomic(directory / CA_FILE, cert_pem(ca.cert), 0o644)
            log.warning("generated a development root CA in %s: UNTRUSTED, for development only", directory)
        signer = _load_pair(directory / CHAIN_FILE, directory / KEY_FILE)
        if signer is None or not _fresh(signer.cert, now) or signer.cert.issuer != ca.cert.subject:
            _renew_signer(directory, ca, now)
    return directory / CHAIN_FILE, directory / KEY_FILE


def _renew_signer(directory: Path, ca: Issued, now: dt.datetime) -> None:
    lifetime = min(SIGNER_LIFETIME, ca.cert.not_valid_after_utc - now)
    signer = issue_signer(ca, "aiact-transparency development signer", DEV_ORGANIZATION,
                          not_before=now - BACKDATE, not_after=now + lifetime)
    # Key first: a reader that sees the new chain with the old key fails validation loudly, never silently.
    write_atomic(directory / KEY_FILE, key_pem(signer.key), 0o600)
    write_atomic(directory / CHAIN_FILE, cert_pem(signer.cert, ca.cert), 0o644)
    log.warning("generated a development signing certificate in %s (valid until %s): UNTRUSTED, "
                "manifests it signs validate as 'Valid', never 'Trusted'", directory,
                signer.cert.not_valid_after_utc.date().isoformat())
