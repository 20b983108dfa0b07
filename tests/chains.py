"""Certificate chains for tests: a root and a C2PA signer, valid or not, written as PEM files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aiact_transparency.provenance.keys.certs import Issued, PrivateKey, cert_pem, issue_root_ca, issue_signer, key_pem

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def make_chain(*, leaf_key: PrivateKey | None = None, not_before: dt.datetime = NOW - DAY,
               not_after: dt.datetime = NOW + 90 * DAY, purposes: list[object] | None = None) -> tuple[Issued, Issued]:
    ca = issue_root_ca("test root", not_before=NOW - 10 * DAY, not_after=NOW + 3650 * DAY)
    leaf = issue_signer(ca, "test signer", "test org", not_before=not_before, not_after=not_after, key=leaf_key,
                        purposes=purposes)  # type: ignore[arg-type]
    return ca, leaf


def write_pair(tmp_path: Path, ca: Issued, leaf: Issued, key: PrivateKey | None = None) -> tuple[Path, Path]:
    cert_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert_pem(leaf.cert, ca.cert))
    key_file.write_bytes(key_pem(key or leaf.key))
    return cert_file, key_file
