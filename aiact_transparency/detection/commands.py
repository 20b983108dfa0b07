"""What the CLI's `detect` and `serve-detector` commands run (cli/detection.py adds the subcommands).

    aiact-transparency detect FILE... [--url URL] [--json] [--jws]
    aiact-transparency serve-detector --config aiact.yaml [--host 127.0.0.1] [--port 8000]

Exit codes as `verify`: 0 every file carries AI marks, 1 a file has none detected, 2 an error.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..http_messages import ASGIApp, Receive, Scope, Send
from .local import Detector, UnsupportedContent
from .remote import RemoteError, detect_remote
from .responses import respond, respond_problem

if TYPE_CHECKING:
    from ..config import TransparencyConfig
    from .endpoint import DetectionEndpoint
    from .fingerprint import FingerprintIndex

__all__ = ["EXIT_ERROR", "EXIT_NOT_MARKED", "EXIT_OK", "describe_result", "detect_command", "serve_detector",
           "standalone_app"]

EXIT_OK, EXIT_NOT_MARKED, EXIT_ERROR = 0, 1, 2


def describe_result(name: str, result: dict[str, Any]) -> str:
    lines = [f"{name}: {result['verdict']} (based on: {', '.join(result['based_on']) or 'nothing'})",
             f"  {result['explanation']}"]
    for layer_name, layer in result["layers"].items():
        state = "this system" if layer.get("this_system") else "AI mark" if layer.get("ai_mark") else \
            "found" if layer.get("found") else "not checked" if not layer.get("checked", True) else "none"
        lines.append(f"  {layer_name}: {state}: {layer.get('based_on', '')}")
    return "\n".join(lines)


def _one(path: Path, detector: Detector | None, url: str | None, signed: bool) -> dict[str, Any] | str:
    """The result dict, or the compact JWS; raises OSError, UnsupportedContent or RemoteError."""
    data = path.read_bytes()
    if url is not None:
        answer = detect_remote(data, url, signed=signed)
        if answer.jws is not None:
            return answer.jws
        assert answer.result is not None
        if answer.status != 200:
            raise RemoteError(f"the detector answered {answer.status}: {answer.result.get('detail', answer.result)}")
        return answer.result
    assert detector is not None
    result = detector.detect_bytes(data).to_dict()
    return detector.sign(result) if signed else result


def detect_command(files: Sequence[Path], *, config: TransparencyConfig | None = None, url: str | None = None,
                   as_json: bool = False, as_jws: bool = False, out: TextIO | None = None,
                   err: TextIO | None = None, fingerprints: FingerprintIndex | None = None) -> int:
    """Check each file locally (with `config` naming "this system", `fingerprints` its output log) or with the
    detector at `url`."""
    out, err = out or sys.stdout, err or sys.stderr
    detector = None
    if url is None:
        from ..config import TransparencyConfig
        from .wiring import text_scorer_for

        chosen = config if config is not None else TransparencyConfig()
        # As the served detector: text is scored for this system's watermark when its tokenizer is configured.
        detector = Detector(chosen, fingerprints=fingerprints, text_scorer=text_scorer_for(chosen))
    answers: dict[str, Any] = {}
    status = EXIT_OK
    for path in files:
        try:
            answer = _one(path, detector, url, as_jws)
        except OSError as exc:
            error = f"cannot read ({exc.strerror or exc})"
        except (UnsupportedContent, RemoteError) as exc:
            error = str(exc)
        else:
            answers[str(path)] = answer
            verdict = json.loads(_payload(answer))["verdict"] if isinstance(answer, str) else answer["verdict"]
            if verdict == "not-detected" and status == EXIT_OK:
                status = EXIT_NOT_MARKED
            if not as_json:
                print(f"{path}: {answer}" if isinstance(answer, str) else describe_result(str(path), answer), file=out)
            continue
        answers[str(path)] = {"error": error}
        status = EXIT_ERROR
        print(f"{path}: {error}", file=err)
    if as_json:
        print(json.dumps(answers, indent=2, sort_keys=True, ensure_ascii=False), file=out)
    return status


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def standalone_app(endpoint: DetectionEndpoint) -> ASGIApp:
    """The detector alone: its path answers (and the Soft Binding Resolution API under its base, when the
    endpoint has one), "/" redirects to the detector, everything else is 404."""
    from .wiring import soft_binding_route

    path = endpoint.settings.path
    soft_binding, prefix = soft_binding_route(endpoint)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop: acknowledge both
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == path:
            await endpoint(scope, receive, send)
        elif soft_binding is not None and scope["path"].startswith(prefix):
            await soft_binding(scope, receive, send)
        elif scope["path"] == "/":
            await respond(send, 307, b"text/plain", b"", [(b"location", path.encode("ascii"))])
        else:
            await respond_problem(send, 404, "Not Found", f"this server only runs the detector at {path}", "not_found")

    return app


def serve_detector(config: TransparencyConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the detector alone under uvicorn (the `server` extra). Behind a reverse proxy, start it with the
    proxy's address in FORWARDED_ALLOW_IPS so rate limits count real clients, not the proxy."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError("serve-detector needs uvicorn: pip install 'aiact-transparency[server]'") from None
    from .wiring import endpoint_for

    uvicorn.run(standalone_app(endpoint_for(config)), host=host, port=port, proxy_headers=True)
