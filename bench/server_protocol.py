"""The server's side of a request, in-process: uvicorn's own HTTP protocol (h11 or httptools) on a transport
that keeps what it is given, so the CPU a request costs the server can be measured without sockets or wrk.

bench_wrk.py measures the real thing over TCP; on a shared machine its per-request CPU figures drift with the
other load. Here every side runs the same keep-alive request stream in one process, interleaved, and the
difference between sides is what each adds to the server's work per request: parsing, the app and
middleware, h11's header validation, building the response bytes (not the kernel's socket writes).

    .venv/bin/python bench/server_protocol.py [h11] [httptools]     (bench_wrk.py runs it too)

It also prints where the HTML page's cost goes (in_app_split): the CPU inside the app call and outside it per
side, and the same app in a tight loop without the server. The wrapped side's extra cost is all inside the app
call, and there about twice its tight-loop cost: the loop runs the middleware with warm caches, the server runs
it after its own parsing and writing (issue 17's "server gap").
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState


class _Transport(asyncio.Transport):
    """Counts what the protocol writes; the end of a response is noticed by the protocol's own state."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.writes = 0
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += len(data)
        self.writes += 1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        pass


def protocol_class(http: str) -> Any:
    if http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


def request(path: str, accept_language: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept-Language: {accept_language}\r\n\r\n").encode()


class Connection:
    """One keep-alive connection to `app` through uvicorn's protocol."""

    def __init__(self, app: Any, http: str, loop: asyncio.AbstractEventLoop) -> None:
        config = Config(app, http=http, lifespan="off", log_level="warning", access_log=False)
        config.load()
        self.transport = _Transport()
        self.protocol = protocol_class(http)(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        self.protocol.connection_made(self.transport)

    async def get(self, data: bytes, n: int) -> int:
        """n requests one after the other (as wrk's connections do); the bytes written."""
        protocol, transport = self.protocol, self.transport
        for _ in range(n):
            protocol.data_received(data)
            cycle = protocol.cycle
            while not cycle.response_complete:
                await asyncio.sleep(0)
            await asyncio.sleep(0)  # the protocol's own bookkeeping after the response (keep-alive, next request)
        return transport.written


async def compare(apps: dict[str, Any], http: str, path: str, n: int, rounds: int, accept_language: str
                  ) -> dict[str, list[float]]:  # fmt: skip
    """CPU microseconds per request, per side, `rounds` interleaved rounds of n requests."""
    loop = asyncio.get_running_loop()
    conns = {name: Connection(app, http, loop) for name, app in apps.items()}
    data = request(path, accept_language)
    for conn in conns.values():  # warm-up: imports, caches
        await conn.get(data, n)
    runs: dict[str, list[float]] = {name: [] for name in apps}
    for r in range(rounds):
        names = list(conns)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.process_time_ns()
            await conns[name].get(data, n)
            runs[name].append((time.process_time_ns() - start) / n / 1000)
    return runs


class InApp:
    """Wraps an app to add up the CPU time spent inside it (the middleware, the app, and the server's send
    calls they make), so a side's cost splits into the app's part and the server's part (parsing, the cycle,
    the event loop)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ns = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.process_time_ns()
        try:
            await self.app(scope, receive, send)
        finally:
            self.ns += time.process_time_ns() - start


def in_app_split(http: str, path: str, n: int = 300, rounds: int = 15) -> None:
    """Prints, per side, the CPU per request inside the app call and outside it. Issue 17's server gap: the
    wrapped side's extra cost is inside the app call, and there it is about twice what the same code costs in
    bench_middleware.py's tight loop (the loop runs it with warm caches; the server runs it after its own
    parsing, i.e. cold). `hot` is the tight loop's figure for the same scope, for comparison."""
    import apps
    from bench_wrk import ACCEPT_LANGUAGE

    sides = {name: InApp(getattr(apps, name)) for name in ("bare", "floor", "wrapped")}

    async def split() -> dict[str, tuple[float, float, float]]:
        loop = asyncio.get_running_loop()
        conns = {name: Connection(app, http, loop) for name, app in sides.items()}
        data = request(path, ACCEPT_LANGUAGE)
        for conn in conns.values():
            await conn.get(data, n)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, conn in conns.items():
                sides[name].ns = 0
                start = time.process_time_ns()
                await conn.get(data, n)
                runs[name].append(((time.process_time_ns() - start) / n / 1000, sides[name].ns / n / 1000))
        hot = {name: await _tight_loop(side.app, http, data, n, rounds) for name, side in sides.items()}
        return {
            name: (statistics.median(t for t, _ in r), statistics.median(a for _, a in r), hot[name])
            for name, r in runs.items()
        }

    result = asyncio.run(split())
    print(f"uvicorn {http} {path}, CPU us/request, total / inside the app call (its own tight loop, no server): "
          + "; ".join(f"{name} {t:.1f} / {a:.1f} ({h:.1f})" for name, (t, a, h) in result.items()))  # fmt: skip


async def _tight_loop(app: Any, http: str, data: bytes, n: int, rounds: int) -> float:
    """The app alone on the scope the server gives it, with a send that does nothing: its cost with warm caches."""
    captured: dict[str, Any] = {}

    async def capture(scope: Any, receive: Any, send: Any) -> None:
        captured.setdefault("scope", dict(scope))
        await app(scope, receive, send)

    await Connection(capture, http, asyncio.get_running_loop()).get(data, 1)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    samples = []
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(n):
            await app(dict(captured["scope"]), receive, send)
        samples.append((time.process_time_ns() - start) / n / 1000)
    return statistics.median(samples)


def cpu_table(http: str, n: int = 300, rounds: int = 31) -> None:
    """Per route: the server's CPU per request for bare, floor and wrapped, printed and recorded. When the
    server is CPU-bound its throughput is 1 / (CPU per request), so bare/wrapped is the throughput ratio the
    goals name, without the socket and scheduling noise of a wrk run."""
    import apps  # the same apps bench_wrk.py serves
    from bench_wrk import ACCEPT_LANGUAGE, GOALS
    from results import record

    sides = {"bare": apps.bare, "floor": apps.floor, "wrapped": apps.wrapped}
    for path in ("/json", "/html"):
        runs = asyncio.run(compare(sides, http, path, n, rounds, ACCEPT_LANGUAGE))
        bare = statistics.median(runs["bare"])
        added = {side: statistics.median(t - b for t, b in zip(runs[side], runs["bare"], strict=True))
                 for side in ("floor", "wrapped")}  # fmt: skip
        ratio = {side: bare / (bare + added[side]) for side in added}
        over_floor = added["wrapped"] - added["floor"]
        print(f"uvicorn {http} {path} in-process: server CPU bare {bare:.1f} us/request; floor +{added['floor']:.2f} us"
              f" ({ratio['floor']:.3f}x bare); wrapped +{added['wrapped']:.2f} us ({ratio['wrapped']:.3f}x bare,"
              f" +{over_floor:.2f} us over the floor)")  # fmt: skip
        goal = GOALS[path]
        record(f"uvicorn {http} {path}: server CPU per request, bare/wrapped (in-process protocol)", ratio["wrapped"],
               "x", goal=f">= {goal} (CPU-bound throughput)",
               baseline=f"bare {bare:.1f} us/req; floor (same bytes, no middleware) {ratio['floor']:.3f}x;"
               f" wrapped +{over_floor:.1f} us over the floor",
               passed=ratio["wrapped"] >= goal, issue="17")  # fmt: skip


def main() -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    for http in sys.argv[1:] or ["h11", "httptools"]:
        cpu_table(http)
        in_app_split(http, "/html")


if __name__ == "__main__":
    main()
