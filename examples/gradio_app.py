"""A Gradio demo made transparent with one call: a procedural image "generator" and an echo chat bot.

Run: ``python examples/gradio_app.py`` (needs ``pip install "aiact-transparency[gradio]"``), then open
http://127.0.0.1:7860. ``make demo`` mounts the same demo under ``/gradio`` via :func:`build_demo`.
No model is downloaded: the "generator" paints interference patterns from the prompt's hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import gradio as gr
import numpy as np
from PIL import Image

from aiact_transparency import TransparencyConfig, load_config
from aiact_transparency.gradio import launch, wrap


def generate(prompt: str, size: int = 512) -> Image.Image:
    """Deterministic per prompt: a few sine waves whose frequencies and phases come from its hash."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(2, 12), rng.uniform(2, 12), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (fx * x + fy * y) + phase) + np.sin(2 * np.pi * fx * np.hypot(x - 0.5, y - 0.5))
        channels.append((wave - wave.min()) / (np.ptp(wave) or 1.0))
    return Image.fromarray((np.stack(channels, axis=-1) * 255).astype(np.uint8))


def chat(message: str, history: list[dict[str, object]]) -> str | dict[str, object]:
    """Echoes the message; "draw <something>" answers with a generated image instead."""
    if message.lower().startswith("draw "):
        # Outside Gradio's cache on purpose: ChatInterface's API returns this raw path, and Gradio serves
        # only its cache (which gets the marked copy) while the temp dir at large stays private.
        folder = os.path.join(tempfile.gettempdir(), "aiact-gradio-example")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"chat-{hashlib.sha1(message.encode()).hexdigest()}.png")
        generate(message[5:], 256).save(path)
        return {"text": f"Here is {message[5:]!r}.", "files": [path]}
    return f"You said: {message}"


def build_demo(config: TransparencyConfig | None = None) -> gr.Blocks:
    """The wrapped demo, ready for ``demo.launch()`` or ``aiact_transparency.gradio.mount(app, demo, ...)``."""
    images = gr.Interface(
        generate,
        inputs=[gr.Textbox(label="Prompt", value="a calm sea at dusk"), gr.Slider(128, 1024, 512, step=64)],
        outputs=gr.Image(label="Generated image"),
        examples=[["northern lights", 256]],
        cache_examples=False,
        api_name="generate",
    )
    bot = gr.ChatInterface(chat, examples=["hello", "draw a lighthouse"], api_name="chat")
    demo = gr.TabbedInterface([images, bot], ["Image generator", "Chat"], title="aiact-transparency demo")
    return wrap(demo, config if config is not None else load_config())


if __name__ == "__main__":
    launch(build_demo(), server_name="127.0.0.1", server_port=int(os.environ.get("PORT", "7860")))
