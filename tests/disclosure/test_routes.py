"""Route rules: glob matching and the policy cache."""

from __future__ import annotations

import tracemalloc

from aiact_transparency import TransparencyConfig
from aiact_transparency.disclosure import Disclosure

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


def test_route_glob_matches_paths_with_a_decoded_line_break() -> None:
    # ASGI paths are percent-decoded: "/private/a%0Ab" arrives as "/private/a\nb". '*' must still match it,
    # or a request escapes its route rule (here: the mode=none rule) by adding %0A to the path.
    config = TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/private/*", "mode": "none"}]})
    disclosure = Disclosure(config)
    assert disclosure.policy_for("/private/a").mode == "none"
    assert disclosure.policy_for("/private/a\nb").mode == "none"
    # And an exact pattern must not match the same path with a trailing line break.
    exact = Disclosure(TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/x", "mode": "none"}]}))
    assert exact.policy_for("/x\n").mode != "none"


def test_route_policy_cache_does_not_keep_long_paths() -> None:
    # The cache was keyed by the full path: 4096 distinct 16 KB paths pinned 66 MB. Measured: what stays
    # allocated once the caller has dropped its paths is what the cache keeps.
    config = TransparencyConfig(system=SYSTEM, disclosure={"routes": [{"path": "/api/*", "json": True}]})
    disclosure = Disclosure(config)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(300):
            assert disclosure.policy_for(f"/api/{n:05d}" + "a" * (16 << 10)).json_body
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 300 * 1024, f"{kept} bytes kept after 300 paths of 16 KB"
