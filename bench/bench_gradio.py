"""Added latency of a wrapped Gradio prediction returning a 1 MP image, against the same demo unwrapped.

    .venv/bin/python bench/bench_gradio.py [--runs 15]

Both demos run in this process on 127.0.0.1 and are called alternately through gradio_client (request,
queue, event stream, file download). The image pipeline's own cost is timed on the very bytes Gradio encodes
(lossy WebP, gr.Image's default). Target: wrapped - unwrapped <= pipeline + 10 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from gradio import processing_utils
from gradio_client import Client  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from gradio_app import generate

from aiact_transparency import TransparencyConfig
from aiact_transparency.gradio import wrap
from aiact_transparency.provenance.pipeline import ImageMarker
from tests.servers import free_port

IMAGE = generate("a calm sea at dusk", 1024)  # 1024 x 1024: 1 MP


def start(demo: gr.Blocks) -> tuple[gr.Blocks, Client]:
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, Client(f"http://127.0.0.1:{port}", verbose=False)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    config = TransparencyConfig(system={"name": "Bench Studio", "provider": "Bench"})
    plain, plain_client = start(gr.Interface(lambda _: IMAGE, "text", gr.Image(), api_name="generate"))
    wrapped, wrapped_client = start(
        wrap(gr.Interface(lambda _: IMAGE, "text", gr.Image(), api_name="generate"), config)
    )
    marker = ImageMarker(config)
    encoded = processing_utils.encode_pil_to_bytes(IMAGE, "webp")
    try:
        for client in (plain_client, wrapped_client):
            client.predict("warm-up", api_name="/generate")
        marker.mark(encoded)
        plain_ms, wrapped_ms, pipeline_ms = [], [], []
        for i in range(runs):
            # Alternate, and use a new prompt each time, so neither side profits from warm caches alone.
            plain_ms.append(timed(lambda i=i: plain_client.predict(f"p{i}", api_name="/generate")))
            wrapped_ms.append(timed(lambda i=i: wrapped_client.predict(f"w{i}", api_name="/generate")))
            pipeline_ms.append(timed(lambda: marker.mark(encoded)))
    finally:
        plain.close()
        wrapped.close()
    plain_med, wrapped_med, pipeline_med = (statistics.median(x) for x in (plain_ms, wrapped_ms, pipeline_ms))
    added = wrapped_med - plain_med
    overhead = added - pipeline_med
    print(f"1 MP image, gr.Image (webp), {runs} runs each, medians:")
    print(f"  unwrapped prediction   {plain_med:8.1f} ms")
    print(f"  wrapped prediction     {wrapped_med:8.1f} ms   ratio wrapped/unwrapped {wrapped_med / plain_med:.2f}x")
    print(f"  image pipeline alone   {pipeline_med:8.1f} ms")
    print(f"  added by wrapping      {added:8.1f} ms   ratio added/pipeline {added / pipeline_med:.2f}x")
    verdict = "OK" if overhead <= 10 else "OVER TARGET"
    print(f"  beyond the pipeline    {overhead:8.1f} ms   target <= 10 ms: {verdict}")


if __name__ == "__main__":
    main()
