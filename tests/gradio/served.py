"""A Gradio demo launched on 127.0.0.1 for a test, and a gradio_client connected to it: both closed after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers import free_port
from tests.tools import require_module

gradio_client = require_module("gradio_client")


@contextmanager
def launched(demo: Any, **launch: Any) -> Iterator[str]:
    """`demo` served on a free local port (its base URL), without blocking; `launch`: more launch() options."""
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


@contextmanager
def connected(url: str) -> Iterator[Any]:
    """A gradio_client.Client on `url`. Closed after: its heartbeat thread would keep it (and an event loop)
    alive until exit."""
    client = gradio_client.Client(url, verbose=False)
    try:
        yield client
    finally:
        client.close()
