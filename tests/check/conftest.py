from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def _module_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Apps are built per module (before the per-test key directory applies): their development chain goes to
    # a throwaway directory too, never to the user's data directory.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIACT_KEYS_DIR", str(tmp_path_factory.mktemp("check-keys")))
        yield
