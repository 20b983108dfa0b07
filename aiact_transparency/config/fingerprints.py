"""The `fingerprints:` config section (TransparencyConfig.fingerprints, re-exported by ..fingerprints)::

    fingerprints:
      enabled: false                 # off by default; the demo turns it on
      store: "sqlite:///<user data dir>/fingerprints.db"   # or postgresql://user@host/db (extra "postgres")
      retention_days: 365            # older records are purged (by the writer, hourly, and by `purge`)
      max_distance: 31               # PDQ's reference threshold; 0-31
      dihedral: true                 # lookups also match the 7 rotations and flips of the query
      queue_size: 10000              # records waiting for the writer; beyond it they are dropped (counted)
      batch_size: 200                # records per transaction (small: the writer shares the GIL)
      flush_interval: 0.5            # seconds the writer waits to fill a batch
      lookup_threads: 2              # connections one lookup's 8 orientations are spread over
      memory_index_mb: 512           # in-process read index of the PDQ hashes (~133 MiB per 1M); 0 or above: SQL

Open the store with `open_store(settings.store, **settings.store_options())` and the writer with
`FingerprintWriter(store, retention_days=..., queue_size=..., batch_size=..., flush_interval=...)`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The most memory the fingerprint store's in-process read index may hold (fingerprints/read_index.py).
DEFAULT_INDEX_MB = 512
# The read index's fixed cost is 24 MiB (three segments' bucket offsets, fingerprints/read_index.py); below this
# it could hold few or no hashes and would quietly leave every lookup to SQL.
MIN_INDEX_MB = 32

__all__ = ["DEFAULT_INDEX_MB", "MATCH_THRESHOLD", "MIN_INDEX_MB", "FingerprintSettings", "default_store_url"]

# PDQ's reference: distance <= 31 is a match. Here (the lowest layer that needs it) so the config can bound
# max_distance; fingerprints.pdq re-exports it.
MATCH_THRESHOLD = 31


def default_store_url() -> str:
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('aiact-transparency')) / 'fingerprints.db'}"


class FingerprintSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    store: str = Field(default_factory=default_store_url)
    retention_days: int = Field(default=365, ge=1, le=36500)
    max_distance: int = Field(default=MATCH_THRESHOLD, ge=0, le=MATCH_THRESHOLD)
    dihedral: bool = True
    queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    flush_interval: float = Field(default=0.5, gt=0, le=60)
    lookup_threads: int = Field(default=2, ge=1, le=16)
    memory_index_mb: int = Field(default=DEFAULT_INDEX_MB, ge=0, le=1_048_576)

    def store_options(self) -> dict[str, int]:
        """The keyword arguments of open_store these settings name."""
        return {"lookup_threads": self.lookup_threads, "memory_index_mb": self.memory_index_mb}

    @field_validator("memory_index_mb")
    @classmethod
    def _index_fits(cls, value: int) -> int:
        if 0 < value < MIN_INDEX_MB:
            raise ValueError(
                f"memory_index_mb = {value} is below the read index's fixed cost (24 MiB of bucket offsets): set "
                f"it to 0 to answer every lookup from SQL, or to at least {MIN_INDEX_MB} (~133 MiB per 1,000,000 "
                "outputs)"
            )
        return value

    @field_validator("store")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            if len(value) == len("sqlite:///"):
                raise ValueError("sqlite:/// needs a file path, e.g. sqlite:///var/lib/app/fingerprints.db")
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError(
            "fingerprints.store must be sqlite:///path/to/fingerprints.db or postgresql://user@host/dbname"
        )

    def describe(self) -> dict[str, object]:
        """What a discovery document says about the log: whether it is on, the engine and the retention,
        never the connection string (it may hold a password)."""
        engine = "sqlite" if self.store.startswith("sqlite:") else "postgresql"
        return {"enabled": self.enabled, "engine": engine, "retention_days": self.retention_days}
