"""`python -m aiact_transparency.cli`: the same as the `aiact-transparency` console script."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
