"""Gradio helpers: one call makes a Gradio demo disclose itself and mark every image it outputs.

``demo = aiact_transparency.gradio.wrap(demo, config)`` then ``demo.launch()``; or
``aiact_transparency.gradio.mount(app, demo, "/gradio", config)`` inside a FastAPI service. Supported: the
Gradio range pinned by the ``gradio`` extra (6.31.x); wrap the outermost demo, the one you launch or mount.

What a wrapped demo does:

- **Banner** first in the UI, in the visitor's language (``Accept-Language``, negotiated on page load), with
  a link to the discovery page; ``<meta name="ai-disclosure">`` merged into the ``head`` given to
  ``launch()``/``mount()``.
- **Without JavaScript** Gradio's page is an empty shell: a ``<noscript>`` copy of the banner and of the meta
  tag goes into its HTML (:mod:`.noscript`), so a visitor or crawler without scripts sees the notice.
- **Headers** (``AI-Disclosure``, ``Link``) on every route: ``demo.launch()`` of a wrapped demo passes
  :class:`~aiact_transparency.TransparencyMiddleware` to Gradio's FastAPI app through ``app_kwargs``
  (``FastAPI(middleware=[...])``), the public way Gradio 6.31 offers; it sits inside Gradio's Brotli
  middleware, so it sees bodies uncompressed. Server-side rendering (``ssr_mode=True``) puts a Node server
  in front that this middleware does not see, so the wrapper defaults ``ssr_mode`` to False.
- **Images**: every image a wrapped demo's events output (``gr.Image``, ``gr.Gallery``, images in
  ``assistant`` messages of ``gr.Chatbot``, cached examples, each yield of a generator) is marked
  (watermark, XMP, visible label if configured, C2PA) on the final file Gradio encoded, in a worker thread,
  and the session is pointed at the marked copy. Uploads and example inputs are never marked. The hook is
  Gradio's private ``processing_utils.async_move_files_to_cache`` (see :mod:`.hook`, which checks
  its signature at wrap time and fails loudly when an upgrade moved it).

WebP: ``gr.Image`` encodes outputs as lossy WebP by default. The wrapper keeps the format the app chose and
marks the file Gradio encoded; the pipeline re-encodes lossy WebP at ``images.jpeg_quality`` (92), one more
lossy generation. Measured on a 1 MP generated image (examples/gradio_app.py, 2 busy cores):

======================  =================  =======  ========  =====================  ===================
format                  Gradio encodes     marking  size      PSNR vs source (dB)    C2PA / XMP / mark
======================  =================  =======  ========  =====================  ===================
webp (Gradio default)   75 ms              163 ms   107 KiB   38.9 (Gradio's: 40.9)  found / found / found
png (switched)          547 ms             312 ms   1144 KiB  45.3 (watermark only)  found / found / found
======================  =================  =======  ========  =====================  ===================

Switching to PNG would cost 3.6x the time and 10x the bytes for 2 dB nobody sees and no gain in detection,
so the format stays the app's choice: ``gr.Image(format="png")`` gives lossless outputs, marked losslessly.

Where Gradio itself drops marks (documented, tested in tests/gradio/test_gradio.py):

- its MCP server (``launch(mcp_server=True)``) re-encodes output images with Pillow into base64 tool results:
  C2PA and XMP are gone there, only the watermark can survive; the ``Image URL`` it adds points at the marked
  file.
- ``gr.ChatInterface``'s API endpoint (``api_name``, default the function's name) runs with
  ``postprocess=False``: API clients get the chat function's raw return value, e.g. the server path of a file
  it wrote (which Gradio's file route refuses, 403, unless it lies in Gradio's cache or ``allowed_paths``)
  or the ``repr`` of a returned ``gr.Image``. No image bytes, hence no marks, reach API clients that way;
  the chat UI shows marked copies. Serve images to API clients from a ``gr.Blocks`` event with an image
  output instead. Do not write chat images into Gradio's cache folder, or that raw path becomes fetchable.
- The middleware's event-stream comment is switched off on Gradio's paths: gradio_client 2.7 rejects SSE
  comment lines ("Unexpected SSE line"), though they are valid SSE; the queue still carries the headers.
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from typing import Any

try:
    import gradio as gr
except ImportError as exc:  # pragma: no cover - exercised by a test that hides gradio
    raise ImportError('aiact_transparency.gradio needs Gradio: pip install "aiact-transparency[gradio]"') from exc

from starlette.middleware import Middleware

from ..asgi.discovery import DiscoveryEndpoint
from ..asgi.middleware import TransparencyMiddleware
from ..config import TransparencyConfig
from ..disclosure import Disclosure
from ..fingerprints.outputs import OutputLog
from ..startup import load_config
from . import hook as _gradio_hook  # the name tests and readers know it by
from .banner import add_banner, gradio_routes_config, merge_head
from .marking import OutputMarker
from .noscript import NoscriptNotice

__all__ = ["WrappedDemo", "launch", "mount", "wrap"]

_STATE_ATTRIBUTE = "_aiact_transparency"


@dataclass(frozen=True)
class WrappedDemo:
    """What :func:`wrap` attached to a demo (``demo._aiact_transparency``)."""

    config: TransparencyConfig
    disclosure: Disclosure
    banner: gr.HTML | None
    marker: OutputMarker | None


def wrap(demo: gr.Blocks, config: TransparencyConfig | None = None) -> gr.Blocks:
    """Make `demo` transparent in place and return it: banner, meta tag, headers at launch, marked images.

    Works for ``gr.Blocks``, ``gr.Interface``, ``gr.ChatInterface`` and ``gr.TabbedInterface``. Wrapping twice
    is harmless (the first config stays).
    """
    existing = getattr(demo, _STATE_ATTRIBUTE, None)
    if isinstance(existing, WrappedDemo):
        return demo
    if not isinstance(demo, gr.Blocks):
        raise TypeError(f"wrap() takes a gr.Blocks, gr.Interface or gr.ChatInterface, not {type(demo).__name__}")
    config = config if config is not None else load_config()
    _gradio_hook.check_hook_point()  # before touching the demo: an unsupported Gradio fails here, loudly
    disclosure = Disclosure(config)
    on = config.disclosure.mode != "none"
    banner = add_banner(demo, disclosure) if on and config.banner.enabled else None
    marker = OutputMarker(config, output_log=_output_log(config)) if on and disclosure.marks_media else None
    if marker is not None:
        _gradio_hook.attach(demo, marker)
    setattr(demo, _STATE_ATTRIBUTE, WrappedDemo(config, disclosure, banner, marker))
    original_launch = demo.launch

    def launch_transparently(*args: Any, **kwargs: Any) -> Any:
        return original_launch(*args, **_launch_kwargs(disclosure, config, kwargs, banner is not None, marker))

    demo.launch = launch_transparently  # type: ignore[method-assign]
    return demo


def launch(demo: gr.Blocks, config: TransparencyConfig | None = None, **launch_kwargs: Any) -> Any:
    """``wrap(demo, config).launch(**launch_kwargs)``: Gradio's launch, with the disclosure on every route."""
    return wrap(demo, config).launch(**launch_kwargs)


def mount(app: Any, demo: gr.Blocks, path: str, config: TransparencyConfig | None = None, **mount_kwargs: Any) -> Any:
    """``gr.mount_gradio_app`` for a wrapped demo, with :class:`TransparencyMiddleware` on the parent app.

    A TransparencyMiddleware already on `app` is reused (its config gains the Gradio route rules) rather
    than stacked; a new one goes inside the app's compression middleware (GZip, Brotli), never outside it,
    and a reused one found outside it is refused (ValueError naming the order to use). When the demo has a
    banner, :class:`~.noscript.NoscriptNotice` goes right inside it, for the index page without
    JavaScript. Extra keyword arguments go to ``gr.mount_gradio_app``; ``head`` is merged.
    """
    wrap(demo, config)
    state: WrappedDemo = getattr(demo, _STATE_ATTRIBUTE)
    mount_kwargs["head"] = merge_head(state.disclosure, mount_kwargs.get("head"))
    at = _install_middleware(app, state.config, path)
    if state.banner is not None:
        app.user_middleware.insert(at + 1, Middleware(NoscriptNotice, disclosure=state.disclosure, path=path))
    return gr.mount_gradio_app(app, demo, path=path, **mount_kwargs)


class _GradioAppMiddleware(TransparencyMiddleware):
    """TransparencyMiddleware on the app ``launch()`` builds, where the demo is the whole app: the output hook
    marks the images (with the demo's config), the middleware marks none, so its discovery document describes
    the hook's marking and signer rather than the middleware's switched-off one."""

    def __init__(
        self, app: Any, config: TransparencyConfig, *, marking: TransparencyConfig, marker: OutputMarker | None
    ) -> None:
        super().__init__(app, config, output_log=marker.output_log if marker is not None else None)
        signer = marker.marker.identity if marker is not None else None  # the hook's marker exists already
        self.discovery = DiscoveryEndpoint(self.disclosure, marking=marking, signer=signer)


def _output_log(config: TransparencyConfig) -> OutputLog | None:
    """The hook's fingerprint log. launch()'s middleware closes it at lifespan shutdown; when mounted, the
    parent app's lifespan is not ours to watch, so what is still queued is written at interpreter exit."""
    if not config.fingerprints.enabled:
        return None
    output_log = OutputLog(config.fingerprints)
    atexit.register(output_log.close)
    return output_log


def _launch_kwargs(
    disclosure: Disclosure,
    config: TransparencyConfig,
    kwargs: dict[str, Any],
    noscript: bool,
    marker: OutputMarker | None,
) -> dict[str, Any]:
    kwargs = dict(kwargs)
    kwargs["head"] = merge_head(disclosure, kwargs.get("head"))
    kwargs.setdefault("ssr_mode", False)
    app_kwargs = dict(kwargs.get("app_kwargs") or {})
    middleware = list(app_kwargs.get("middleware") or [])
    if not any(_is_transparency(entry) for entry in middleware):
        # First in the list = outermost of the app's own middleware: headers also cover their responses.
        routes_config = gradio_routes_config(config, "/")
        middleware.insert(0, Middleware(_GradioAppMiddleware, config=routes_config, marking=config, marker=marker))
        if noscript:
            middleware.insert(1, Middleware(NoscriptNotice, disclosure=disclosure, path="/"))
    app_kwargs["middleware"] = middleware
    kwargs["app_kwargs"] = app_kwargs
    return kwargs


def _is_transparency(entry: Any) -> bool:
    cls = getattr(entry, "cls", None)
    return isinstance(cls, type) and issubclass(cls, TransparencyMiddleware)


def _is_compression(entry: Any) -> bool:
    # Starlette's GZipMiddleware, Gradio's BrotliMiddleware and the usual third-party ones (brotli-asgi,
    # zstd): by class name, so that none of them has to be importable here.
    name = getattr(getattr(entry, "cls", None), "__name__", "")
    return any(word in name.lower() for word in ("gzip", "brotli", "zstd", "compress"))


def _install_middleware(app: Any, config: TransparencyConfig, path: str) -> int:
    """Put (or reuse) TransparencyMiddleware on `app` for Gradio under `path`; return its index."""
    entries = getattr(app, "user_middleware", None)
    if entries is None:
        raise TypeError("mount() needs a FastAPI/Starlette app (with add_middleware)")
    # user_middleware[0] is the outermost. The middleware must sit inside any compression, as the README
    # says, or compressed pages pass through with no banner and compressed images unmarked.
    compression = [index for index, entry in enumerate(entries) if _is_compression(entry)]
    for index, entry in enumerate(entries):
        if _is_transparency(entry):
            if compression and index < compression[-1]:
                outer = entries[compression[-1]].cls.__name__
                raise ValueError(
                    f"TransparencyMiddleware was added to this app before {outer}, so it sits outside the "
                    "compression: compressed pages would get no banner and compressed images no marks. Add "
                    f"{outer} after TransparencyMiddleware (or leave TransparencyMiddleware to mount())"
                )
            current = entry.kwargs.get("config") or (entry.args[0] if entry.args else None) or load_config()
            entries[index] = Middleware(TransparencyMiddleware, config=gradio_routes_config(current, path))
            return index
    if getattr(app, "middleware_stack", None) is not None:
        raise RuntimeError("mount() must run before the app starts: Starlette builds its middleware stack once")
    # Outermost otherwise: the headers then also cover responses from the app's other middleware.
    position = compression[-1] + 1 if compression else 0
    entries.insert(position, Middleware(TransparencyMiddleware, config=gradio_routes_config(config, path)))
    return position
