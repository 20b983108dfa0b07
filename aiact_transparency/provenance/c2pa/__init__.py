"""C2PA manifests: build and sign (manifest.py), read and validate (reading.py), data-hashed stores for text
(data_hash.py). The only modules that import c2pa-python (an import-linter contract keeps it so); its error
type is re-exported here so callers can catch it without importing the library.
"""

from __future__ import annotations

from c2pa import C2paError

__all__ = ["C2paError"]
