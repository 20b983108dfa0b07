"""What docker/container_test.sh checks against the running container, as a user would, over 127.0.0.1 only.

Usage: container_checks.py BASE_URL WORK_DIR VERIFY_CLI --system-name NAME --run-pid PID --pid-file FILE
       [--expect-uid UID] [--gradio] [--config FILE] [--signer-serial SERIAL]
Prints one line per check; exits non-zero at the first failure. Writes the server's process id to --pid-file
so that the caller can stop it by id.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

BANNER = '<aside id="aiact-disclosure"'


def fetch(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
          timeout: float = 30) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.headers, response.read()


def check(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        sys.exit(f"FAIL: {what} {detail}")
    print(f"  ok: {what}")


def wait_healthy(base: str, seconds: float, run_pid: int) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if not Path(f"/proc/{run_pid}").exists():
            sys.exit(f"FAIL: the container exited (buildah run pid {run_pid}) before answering")
        try:
            status, _, _ = fetch(f"{base}/.well-known/ai-disclosure", timeout=3)
            if status == 200:
                return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: {base}/.well-known/ai-disclosure did not answer within {seconds:.0f}s")
        time.sleep(1)


def check_pages(base: str, system_name: str) -> None:
    status, headers, body = fetch(f"{base}/.well-known/ai-disclosure", headers={"Accept": "application/json"})
    document = json.loads(body)
    check(status == 200 and system_name in json.dumps(document), "discovery document names the system",
          document)
    status, headers, body = fetch(f"{base}/", headers={"Accept": "text/html", "Accept-Language": "de"})
    disclosure = headers.get("AI-Disclosure", "")
    check(status == 200 and "mode=ai-originated" in disclosure, "AI-Disclosure header on /", disclosure)
    check('rel="describedby"' in headers.get("Link", ""), "Link header to the discovery document", headers)
    page = body.decode()
    after_body = page[page.index("<body"):]
    check(BANNER in after_body[:300] and 'lang="de"' in after_body[:300],
          "banner right after <body>, in the requested language (de)", after_body[:300])
    chat = json.dumps({"stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    status, headers, body = fetch(f"{base}/v1/chat/completions", data=chat,
                                  headers={"content-type": "application/json"})
    check(body.startswith(b": AI-Disclosure: ") and b"data: " in body, "SSE chat stream opens with the notice",
          body[:120])


def listening_pid(port: int) -> int | None:
    """The process owning the listening socket on `port`, from /proc (no ss/lsof needed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def check_process(port: int, pid_file: Path, expect_uid: int | None) -> None:
    pid = listening_pid(port)
    check(pid is not None, f"found the server process listening on port {port}")
    assert pid is not None
    pid_file.write_text(str(pid))
    uids = next(line.split()[1:] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("Uid:"))
    if expect_uid is not None:
        check(all(int(uid) == expect_uid for uid in uids), f"server (pid {pid}) runs as uid {expect_uid}", uids)


def check_image(base: str, work: Path, cli: str, config: str | None, signer_serial: str | None) -> None:
    status, headers, body = fetch(f"{base}/generate?prompt=container+test")
    check(status == 200 and headers.get_content_type() == "image/png", "/generate returns a PNG", headers)
    path = work / "generated.png"
    path.write_bytes(body)
    command = [cli, *(["--config", config] if config else []), "verify", "--json", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    check(result.returncode == 0, f"`{' '.join(command)}` exits 0", result.stdout + result.stderr)
    report = json.loads(result.stdout)[str(path)]
    layers = {name: report[name].get("found") for name in ("c2pa", "xmp", "watermark")}
    check(report["marked"] and all(layers.values()), "image carries C2PA, XMP and watermark", layers)
    check(bool(report["c2pa"].get("valid")), "C2PA signature valid", report["c2pa"])
    if signer_serial is not None:
        check(report["c2pa"].get("signer_serial") == signer_serial, "signed by the mounted key's certificate",
              report["c2pa"].get("signer_serial"))
    else:
        check(report["c2pa"].get("trusted") is False, "signed by the untrusted development chain",
              report["c2pa"].get("signer_issuer"))


def _snr_db(reference: Any, marked: Any) -> float:
    import numpy as np

    residual = float(np.sum((marked - reference) ** 2))
    return 10 * float(np.log10(float(np.sum(reference**2)) / max(residual, 1e-20)))


def check_audio(base: str, work: Path, cli: str, config: str | None) -> None:
    """/music (examples/audio_api.py) comes back as a WAV with the spoken disclaimer at the start (the clip
    there differs from what the generator made far more than any watermark would), the watermark, XMP and a
    valid C2PA manifest, as the CLI's verify reads them on the host."""
    import soundfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from audio_api import RATE, generate

    prompt, seconds = "container test", 8.0
    status, headers, body = fetch(f"{base}/music?prompt=container+test&seconds={seconds:g}", timeout=120)
    check(status == 200 and headers.get_content_type() == "audio/wav", "/music returns a WAV", headers)
    path = work / "generated.wav"
    path.write_bytes(body)
    command = [cli, *(["--config", config] if config else []), "verify", "--json", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    check(result.returncode == 0, f"`{' '.join(command)}` exits 0", result.stdout + result.stderr)
    report = json.loads(result.stdout)[str(path)]
    layers = {name: report[name].get("found") for name in ("c2pa", "xmp", "watermark")}
    check(report["marked"] and all(layers.values()), "audio carries C2PA, XMP and watermark", layers)
    check(bool(report["c2pa"].get("valid")), "audio C2PA signature valid", report["c2pa"])
    marked, rate = soundfile.read(path, dtype="float64")
    original = generate(prompt, seconds)
    check(rate == RATE and len(marked) == len(original), "audio keeps its rate and length", (rate, len(marked)))
    start, rest = _snr_db(original[: 2 * RATE], marked[: 2 * RATE]), _snr_db(original[4 * RATE :], marked[4 * RATE :])
    check(start < 15 and rest >= 30, "a spoken disclaimer over the first seconds, only the watermark after",
          f"SNR {start:.1f} dB over 0-2 s, {rest:.1f} dB after 4 s")


def check_gradio(base: str) -> None:
    status, headers, body = fetch(f"{base}/gradio/", headers={"Accept": "text/html"})
    check(status == 200 and "mode=ai-originated" in headers.get("AI-Disclosure", ""),
          "Gradio demo mounted under /gradio/ with the disclosure header", status)
    # Gradio renders in the browser: its banner is a component in the page's config, not HTML the
    # middleware injects (the page's head is too large for that, and Gradio pages get no second banner).
    check(b"aiact-disclosure-banner" in body, "Gradio page carries the disclosure banner component")


def check_compliance(base: str, cli: str) -> None:
    """The project's own auditor, from the host, as `make demo` prints it: every required check must pass."""
    stream_body = '{"stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    command = [cli, "check", base, "--page", "/", "--media", "/generate?prompt=sunset", "--stream",
               "/v1/chat/completions", "--stream-body", stream_body, "--lang", "en,de,fr", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    failed = []
    try:
        report = json.loads(done.stdout)
        failed = [f"{c['id']} {c['target']}" for c in report["checks"] if c["status"] == "fail"]
    except (ValueError, KeyError):
        report = {}
    check(done.returncode == 0 and report.get("summary", {}).get("compliant") is True,
          "aiact-transparency check finds every obligation met", failed or done.stderr[-500:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("work", type=Path)
    parser.add_argument("cli")
    parser.add_argument("--system-name", required=True)
    parser.add_argument("--run-pid", type=int, required=True)
    parser.add_argument("--pid-file", type=Path, required=True)
    parser.add_argument("--expect-uid", type=int)
    parser.add_argument("--gradio", action="store_true")
    parser.add_argument("--config")
    parser.add_argument("--signer-serial")
    parser.add_argument("--wait", type=float, default=180)
    args = parser.parse_args()
    started = time.monotonic()
    wait_healthy(args.base, args.wait, args.run_pid)
    print(f"  ok: healthy after {time.monotonic() - started:.1f}s")
    check_process(int(args.base.rsplit(":", 1)[1]), args.pid_file, args.expect_uid)
    check_pages(args.base, args.system_name)
    check_image(args.base, args.work, args.cli, args.config, args.signer_serial)
    check_audio(args.base, args.work, args.cli, args.config)
    if args.gradio:
        check_gradio(args.base)
    check_compliance(args.base, args.cli)


if __name__ == "__main__":
    main()
