"""Added latency of a wrapped Gradio prediction returning a 1 MP image, against the same demo unwrapped.

    .venv/bin/python bench/bench_gradio.py [--runs 15] [--gradio-client]

Each demo (unwrapped, wrapped) runs in its own server process on 127.0.0.1, so neither the other server nor
the client shares its GIL; the two are called alternately, with a new prompt each time. A prediction is timed
end to end through Gradio's REST API: POST ``/gradio_api/call/generate`` (the queue), the event stream until
``complete``, then the download of the output file, over one keep-alive connection per server.

Why not gradio_client by default: its event reader polls its message queue with ``time.sleep(0.05)``
(gradio_client 2.7, utils.stream_sse_v1plus), so every prediction it times is rounded up to the next 50 ms
tick after the request was sent. A difference of two such figures is off by up to 50 ms either way,
depending only on where the two server times fall between ticks (measured: +17 ms for the unwrapped demo,
+38 ms for the wrapped one). ``--gradio-client`` times with it anyway, for comparison.

The image pipeline's cost is the time ImageMarker.mark took inside the wrapped demo's timed predictions
(the server process records it), i.e. the same bytes, format, config and load as the hook. For reference it
is also timed alone in this process on the very bytes the unwrapped demo served (Gradio's lossy WebP,
gr.Image's default) with the same config; on a shared machine that figure drifts with other load, which is
why the target uses the in-server one. Target: wrapped - unwrapped <= pipeline + 10 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from results import record

from aiact_transparency import TransparencyConfig
from tests.servers import free_port

API_NAME = "generate"


def bench_config() -> TransparencyConfig:
    return TransparencyConfig(system={"name": "Bench Studio", "provider": "Bench"})


def serve(kind: str, port: int, timings: str | None) -> None:
    """Child process: one demo, launched the way its owner would, until the parent terminates it.

    With `timings`, each ImageMarker.mark the wrapped demo runs appends its duration (ms) there: the image
    pipeline's cost inside the very prediction, under the same load as the server.
    """
    import gradio as gr
    from gradio_app import generate

    from aiact_transparency.gradio import wrap
    from aiact_transparency.provenance.image.marker import ImageMarker

    if timings:
        mark = ImageMarker.mark

        def timed_mark(self: ImageMarker, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return mark(self, *args, **kwargs)
            finally:
                with open(timings, "a") as out:
                    out.write(f"{(time.perf_counter() - started) * 1000}\n")

        ImageMarker.mark = timed_mark  # type: ignore[method-assign]
    image = generate("a calm sea at dusk", 1024)  # 1024 x 1024: 1 MP
    demo = gr.Interface(lambda _: image, "text", gr.Image(), api_name=API_NAME)
    if kind == "wrapped":
        demo = wrap(demo, bench_config())
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True)


def start(kind: str, timings: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--timings", timings],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} demo server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/config", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the {kind} demo server did not start")
        time.sleep(0.1)


def predict(client: httpx.Client, prompt: str) -> bytes:
    """One prediction as a REST client makes it: queue, event stream, then the output file."""
    event_id = client.post(f"/gradio_api/call/{API_NAME}", json={"data": [prompt]}).raise_for_status().json()
    event = None
    with client.stream("GET", f"/gradio_api/call/{API_NAME}/{event_id['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"prediction failed: {line}")
                output = json.loads(line.partition(":")[2])
                break
        else:
            raise RuntimeError("the event stream ended without a result")
    return client.get(output[0]["url"]).raise_for_status().content


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--gradio-client", action="store_true", help="time with gradio_client (50 ms polling)")
    parser.add_argument("--serve", choices=("plain", "wrapped"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.timings)
        return

    from aiact_transparency.provenance.image.marker import ImageMarker

    scratch = tempfile.TemporaryDirectory()
    timings = {kind: os.path.join(scratch.name, kind) for kind in ("plain", "wrapped")}
    servers = {kind: start(kind, timings[kind]) for kind in ("plain", "wrapped")}
    try:
        clients = {kind: httpx.Client(base_url=url, timeout=60) for kind, (_, url) in servers.items()}
        call: dict[str, Callable[[str], object]] = {kind: lambda p, c=c: predict(c, p) for kind, c in clients.items()}
        if args.gradio_client:
            from gradio_client import Client  # type: ignore[import-untyped]

            for kind, (_, url) in servers.items():
                gc = Client(url, verbose=False)
                call[kind] = lambda p, gc=gc: gc.predict(p, api_name=f"/{API_NAME}")
        # The bytes Gradio encoded, as the unwrapped demo serves them: what the wrapped demo's hook marks.
        encoded = predict(clients["plain"], "warm-up")
        marked = predict(clients["wrapped"], "warm-up")
        if b"c2pa" not in marked or b"c2pa" in encoded:
            raise RuntimeError("the wrapped demo did not serve a signed image, or the unwrapped one did")
        for kind in servers:
            call[kind]("warm-up")
        marker = ImageMarker(bench_config())
        marker.mark(encoded)
        os.remove(timings["wrapped"])  # keep the timed runs only
        plain_ms, wrapped_ms, pipeline_ms = [], [], []
        for i in range(args.runs):
            # Alternate, and use a new prompt each time, so neither side profits from warm caches alone.
            plain_ms.append(timed(lambda i=i: call["plain"](f"p{i}")))
            wrapped_ms.append(timed(lambda i=i: call["wrapped"](f"w{i}")))
            pipeline_ms.append(timed(lambda: marker.mark(encoded)))
        for client in clients.values():
            client.close()
    finally:
        for process, _ in servers.values():
            process.terminate()
        for process, _ in servers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    served_ms = [float(line) for line in Path(timings["wrapped"]).read_text().split()]
    unmarked_plain = not os.path.exists(timings["plain"])
    scratch.cleanup()
    if len(served_ms) != args.runs or not unmarked_plain:
        raise RuntimeError(f"the wrapped demo marked {len(served_ms)} images in {args.runs} runs")
    plain_med, wrapped_med, pipeline_med, served_med = (
        statistics.median(x) for x in (plain_ms, wrapped_ms, pipeline_ms, served_ms)
    )
    added = wrapped_med - plain_med
    overhead = added - served_med
    client_name = "gradio_client" if args.gradio_client else "REST + event stream + download"
    print(f"1 MP image, gr.Image (webp), {args.runs} runs each, one server process per demo, {client_name}, medians:")
    print(f"  unwrapped prediction   {plain_med:8.1f} ms")
    print(f"  wrapped prediction     {wrapped_med:8.1f} ms   ratio wrapped/unwrapped {wrapped_med / plain_med:.2f}x")
    print(f"  image pipeline alone   {pipeline_med:8.1f} ms   ({len(encoded)} bytes of WebP, as Gradio encoded them)")
    print(f"  pipeline in the server {served_med:8.1f} ms   (ImageMarker.mark inside the wrapped predictions)")
    print(f"  added by wrapping      {added:8.1f} ms   ratio added/pipeline-in-server {added / served_med:.2f}x")
    verdict = "OK" if overhead <= 10 else "OVER TARGET"
    print(f"  beyond the pipeline    {overhead:8.1f} ms   target <= 10 ms: {verdict}")
    record("Gradio 1 MP prediction, wrapped - unwrapped - pipeline", overhead, "ms", goal="<= 10 ms",
           baseline=f"unwrapped {plain_med:.1f} ms, pipeline in server {served_med:.1f} ms", passed=overhead <= 10)


if __name__ == "__main__":
    main()
