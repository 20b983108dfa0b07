"""The discovery document's event-stream claims on the routes Gradio's helpers configure (notices off there)."""

from __future__ import annotations

import pytest

from aiact_transparency import TransparencyConfig
from tests.disclosure.test_discovery_page import assert_sse_claims_hold
from tests.tools import require_module

pytestmark = pytest.mark.anyio


async def test_sse_notice_claims_match_gradio_paths() -> None:
    require_module("gradio")
    from aiact_transparency.gradio.banner import gradio_routes_config

    config = gradio_routes_config(TransparencyConfig(disclosure={"event_stream": True}), "/gradio")
    await assert_sse_claims_hold(config)
