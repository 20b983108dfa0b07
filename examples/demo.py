"""`make demo`: every example behind one server on 127.0.0.1, configured by examples/aiact.yaml.

That config names an example model card (examples/MODEL_CARD.md), so the model-card facts show in the header
and on the discovery page out of the box. Set AIACT_CONFIG=path/to/aiact.yaml to try your own config instead;
PORT to change the port.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from aiact_transparency import TransparencyConfig, TransparencyMiddleware, load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))

# examples/ is not a package: each example also runs on its own, so import them by path.
import audio_api
import chat_app
import image_api
from gradio_app import build_demo

from aiact_transparency.gradio import mount

HOST = "127.0.0.1"
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "aiact.yaml"


def demo_config() -> TransparencyConfig:
    """$AIACT_CONFIG when set, else examples/aiact.yaml (with its example model card); AIACT_* variables apply."""
    return load_config(None if os.environ.get("AIACT_CONFIG") else EXAMPLE_CONFIG)


def create_app() -> FastAPI:
    app = FastAPI(title="aiact-transparency demo")
    app.include_router(chat_app.router)
    app.include_router(image_api.router)
    app.include_router(audio_api.router)
    # Built before serving: config, model card and signing keys are checked now, not at the first request.
    config = demo_config()
    app.add_middleware(TransparencyMiddleware, config=config)
    # The Gradio demo under /gradio: banner in its UI, its output images marked by the Gradio hook.
    mount(app, build_demo(config), "/gradio", config=config)
    return app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    app = create_app()
    base = f"http://{HOST}:{port}"
    print(
        f"\naiact-transparency demo ({os.environ.get('AIACT_CONFIG') or 'examples/aiact.yaml'}; Ctrl+C to stop)\n"
        f"  Page with the AI banner:   {base}/            (try another browser language)\n"
        f"  Headers only:              curl -i {base}/health\n"
        f"  Chat stream (SSE):         curl -N {base}/v1/chat/completions -H 'content-type: application/json' "
        '-d \'{"stream": true, "messages": [{"role": "user", "content": "hi"}]}\'\n'
        f"  Generated image (marked):  {base}/generate?prompt=sunset&format=jpeg\n"
        f"  Verify it:                 curl -s '{base}/generate?prompt=sunset' -o ai.png && "
        ".venv/bin/aiact-transparency verify ai.png\n"
        f"  Generated audio (marked):  {base}/music?prompt=sunset  (spoken disclaimer, watermark, XMP, C2PA)\n"
        f"  Gradio demo (wrapped):     {base}/gradio/\n"
        f"  Discovery document:        {base}/.well-known/ai-disclosure\n"
        f"  Check it as an auditor:    .venv/bin/aiact-transparency check {base} --page / --media "
        f"'/generate?prompt=sunset' --stream /v1/chat/completions --stream-body "
        '\'{"stream": true, "messages": [{"role": "user", "content": "hi"}]}\' --lang en,de,fr\n',
        flush=True,
    )
    uvicorn.run(app, host=HOST, port=port, log_level="info")


if __name__ == "__main__":
    main()
