"""The server's side of a request, in-process: uvicorn's own HTTP protocol (h11 or httptools) on a transport
that keeps what it is given, so the CPU a request costs the server can be measured without sockets or wrk.

bench_wrk.py measures the real thing over TCP; on a shared machine its per-request CPU figures drift with the
other load. Here every side runs the same keep-alive request stream in one process, interleaved, and the
difference between sides is what each adds to the server's work per request: parsing, the app and
middleware, h11's header validation, building the response bytes (not the kernel's socket writes).

    .venv/bin/python bench/server_protocol.py [h11] [httptools]     (bench_wrk.py runs it too)
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


if __name__ == "__main__":
    main()
