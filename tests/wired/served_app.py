"""`uvicorn tests.wired.served_app:app`: the image app behind the middleware, configured by AIACT_* variables
(the two-replica test starts two of these on one PostgreSQL fingerprint store)."""

from __future__ import annotations

from aiact_transparency import load_config

from .flows import image_app

app = image_app(load_config())
