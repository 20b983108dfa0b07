"""Every example runs with its one documented command (examples/README.md), as a user would start it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from aiact_transparency import verify
from tests.wired.flows import stripped

from .servers import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@contextmanager
def running(args: list[str], port: int, env: dict[str, str] | None = None, ready: str = "/",
            output: list[str] | None = None) -> Iterator[str]:
    """Start an example as a subprocess, wait until it answers on 127.0.0.1:port, stop it afterwards.
    `output`, when given, receives what the example printed before it answered."""
    # Output to a file, not a pipe: nobody reads it while the example runs, and a full pipe would block it.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen([sys.executable, *args], env={**os.environ, **(env or {})}, stdout=log, stderr=log)
        try:
            base = _wait_for(proc, f"http://127.0.0.1:{port}", ready, log)
            if output is not None:
                log.seek(0)
                output.append(log.read())
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(proc: subprocess.Popen[bytes], base: str, ready: str, log: IO[str]) -> str:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"{proc.args} exited early:\n{log.read()}")
        try:
            httpx.get(base + ready, timeout=2)
            return base
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.args} did not answer at {base}") from None
            time.sleep(0.2)


def test_make_demo_serves_every_example() -> None:
    port = free_port()
    printed: list[str] = []
    with running([str(EXAMPLES / "demo.py")], port, env={"PORT": str(port)}, output=printed) as base:
        page = httpx.get(base + "/", headers={"accept-language": "de"})
        assert '<aside id="aiact-disclosure"' in page.text and 'lang="de"' in page.text
        assert page.headers["ai-disclosure"].startswith("mode=ai-originated")
        # examples/aiact.yaml names examples/MODEL_CARD.md: its facts are in the header and the discovery document.
        assert 'model="Acme Studio demo generator"' in page.headers["ai-disclosure"]
        assert "Acme Studio (demo)" in page.text
        image = httpx.get(base + "/generate", params={"prompt": "sunset", "format": "jpeg"}, timeout=60)
        report = verify(image.content)
        assert report.c2pa["valid"] and report.xmp["ai_generated"] and report.watermark["found"]
        # examples/audio_api.py's clips: examples/aiact.yaml turns the spoken disclaimer on (espeak-ng)
        clip = httpx.get(base + "/music", params={"prompt": "sunset", "seconds": 4}, timeout=120)
        assert clip.status_code == 200 and clip.headers["content-type"] == "audio/wav"
        heard = verify(clip.content)
        assert heard.c2pa["valid"] and heard.xmp["ai_generated"] and heard.watermark["found"]
        gradio_page = httpx.get(base + "/gradio/", timeout=30)
        assert gradio_page.status_code == 200 and "ai-disclosure" in gradio_page.headers
        discovery = httpx.get(base + "/.well-known/ai-disclosure").json()
        assert discovery["marking"]["images"]["c2pa"] is True
        assert discovery["model"]["name"] == "Acme Studio demo generator"
        assert discovery["fingerprints"]["enabled"] and discovery["fingerprints"]["engine"] == "sqlite"
        # The demo logs its outputs: the image, turned and stripped of its metadata, is found by fingerprint.
        turned = stripped(image.content, turn=True)
        for _ in range(100):  # the record is written off the response path
            detected = httpx.post(base + discovery["detection"]["url"], content=turned, timeout=60,
                                  headers={"content-type": "image/jpeg"}).json()
            if detected["verdict"] != "not-detected":
                break
            time.sleep(0.1)
        assert detected["verdict"] == "generated-by-this-system" and detected["based_on"] == ["fingerprint"]
        assert discovery["model"]["license"] == "apache-2.0" and discovery["model"]["pipeline_tag"] == "text-to-image"
        with httpx.stream(
            "POST",
            base + "/v1/chat/completions",
            json={"stream": True, "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        ) as stream:
            lines = [line for line in stream.iter_lines() if line]
        assert lines[0].startswith(": AI-Disclosure:")
        tokens = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        assert tokens and tokens[0]["object"] == "chat.completion.chunk"
        assert lines[-1] == "data: [DONE]"
        # The check command the demo prints, run as printed (the venv's console script): every obligation passes.
        command = next(line.split(":", 1)[1] for line in printed[0].splitlines() if "Check it as an auditor" in line)
        words = shlex.split(command.strip())
        assert words[0] == ".venv/bin/aiact-transparency" and words[1] == "check"
        script = Path(sys.executable).with_name("aiact-transparency")
        checked = subprocess.run([str(script), *words[1:], "--json"], capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
        summary = json.loads(checked.stdout)["summary"]
        assert summary["compliant"] is True and summary["fail"] == 0, summary


def test_remote_signing_example_against_the_signing_service(tmp_path: Path) -> None:
    port = free_port()
    env = {"AIACT_KEYS_DIR": str(tmp_path / "keys"), "AIACT_SIGNER_TOKEN": "example-token"}
    service = [str(EXAMPLES / "signing_service.py"), "--port", str(port)]
    with running(service, port, env=env, ready="/health-does-not-exist") as base:
        client = subprocess.run(
            [sys.executable, str(EXAMPLES / "remote_signing.py")],
            env={**os.environ, **env, "AIACT_SIGNER_URL": base},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert client.returncode == 0, client.stderr
    assert "valid: True" in client.stdout
    assert "PRIVATE KEY" not in client.stdout + client.stderr
