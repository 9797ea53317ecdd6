"""Calls per second of GET /api/v1/workspaces through the full Transport path, divided by the same with
a bare ``aiohttp.ClientSession``, at concurrency 1 and 32. Target: ratio >= 0.85.

The server is a minimal aiohttp app in a subprocess (its own core), answering a fixed three-workspace
body. Both clients get the same connection limits (the Transport's ``max_concurrency`` and
``max_connections_per_host`` are raised to the concurrency under test, as is the bare connector's
``limit_per_host``), so the ratio is the cost of our path alone: breaker guard, concurrency slot,
timeouts, trace id, error mapping, logging calls. The bare loop is aiohttp as documented
(``async with session.get(...)``, ``raise_for_status()``, ``await resp.json()``, default timeouts);
a leaner bare loop (``read()`` + ``json.loads``, no content-type check, no total timeout) is
measured too, so the baseline cannot be said to be handicapped. ``AnythingLLMClient.list_workspaces()``
(transport + pydantic models) is reported for information. Rounds run the modes back to back (in
a rotated order) and the medians of per-round ratios are kept: short cells and many rounds, since
other processes on a shared machine skew whole cells.

    .venv/bin/python bench/transport_overhead.py            # 10 rounds x 0.5 s per cell, ~55 s
    .venv/bin/python bench/transport_overhead.py --seconds 1 --rounds 1   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NamedTuple

import aiohttp

API_KEY = "BENCH-KEY-0000000"
WORKSPACES: dict[str, Any] = {
    "workspaces": [
        {
            "id": i,
            "name": f"Workspace {i}",
            "slug": f"workspace-{i}",
            "vectorTag": None,
            "createdAt": "2026-11-21T23:40:10.367Z",
            "openAiTemp": 0.7,
            "openAiHistory": 20,
            "lastUpdatedAt": "2026-11-21T23:40:10.367Z",
            "openAiPrompt": None,
            "similarityThreshold": 0.25,
            "chatProvider": None,
            "chatModel": None,
            "topN": 4,
            "chatMode": "chat",
            "pfpFilename": None,
            "agentProvider": None,
            "agentModel": None,
            "queryRefusalResponse": None,
            "vectorSearchMode": "default",
            "threads": [],
        }
        for i in range(1, 4)
    ]
}


# ---------------------------------------------------------------- server (subprocess)


def serve(port: int) -> None:
    from aiohttp import web

    body = json.dumps(WORKSPACES).encode()

    async def workspaces(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/workspaces", workspaces)
    print("READY", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_server() -> tuple[subprocess.Popen[str], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):  # wait until it accepts connections
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the benchmark server did not start")


# ---------------------------------------------------------------- clients


Call = Callable[[], Awaitable[Any]]


class Sample(NamedTuple):
    rate: float  # calls per second (wall clock)
    cpu_us: float  # client-process CPU microseconds per call (robust when the machine is shared)


async def measure(call: Call, concurrency: int, seconds: float) -> Sample:
    """Calls per second with ``concurrency`` workers calling in a loop for ``seconds``."""
    for _ in range(20):  # warm up connections
        await call()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1e6)


async def _bare(url: str, concurrency: int, seconds: float, limits: aiohttp.ClientTimeout | None) -> Sample:
    connector = aiohttp.TCPConnector(limit_per_host=concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    kwargs: dict[str, Any] = {} if limits is None else {"timeout": limits}
    async with aiohttp.ClientSession(connector=connector, headers=headers, **kwargs) as session:
        target = url + "/api/v1/workspaces"

        async def call() -> Any:
            async with session.get(target) as resp:
                resp.raise_for_status()
                return await resp.json()

        return await measure(call, concurrency, seconds)


async def bare(url: str, concurrency: int, seconds: float) -> Sample:
    """aiohttp as it comes: default timeouts (total 300 s, no read timeout)."""
    return await _bare(url, concurrency, seconds, None)


async def bare_timeouts(url: str, concurrency: int, seconds: float) -> Sample:
    """aiohttp given connect, read and total timeouts its own way (ClientTimeout's sock_read re-arms a
    timer on every chunk): what a bare client pays for the timeouts the Transport enforces."""
    return await _bare(
        url, concurrency, seconds, aiohttp.ClientTimeout(total=300, sock_connect=10, sock_read=120)
    )


async def bare_lean(url: str, concurrency: int, seconds: float) -> Sample:
    """The least a bare loop can do for the same answer: no total timeout, no context manager, no
    content-type check — ``read()``, ``release()``, ``json.loads``."""
    connector = aiohttp.TCPConnector(limit_per_host=concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        target = url + "/api/v1/workspaces"

        async def call() -> Any:
            resp = await session.get(target)
            if resp.status != 200:
                raise RuntimeError(resp.status)
            raw = await resp.read()
            resp.release()
            return json.loads(raw)

        return await measure(call, concurrency, seconds)


async def transport(url: str, concurrency: int, seconds: float) -> Sample:
    from anythingllm_bridge.client._transport import ClientConfig, Transport

    config = ClientConfig(max_concurrency=concurrency, max_connections_per_host=concurrency)
    path = Transport(url, API_KEY, config)
    await path.open()
    try:

        async def call() -> Any:
            return (await path.request("GET", "/v1/workspaces")).data

        return await measure(call, concurrency, seconds)
    finally:
        await path.close()


async def client(url: str, concurrency: int, seconds: float) -> Sample:
    try:
        from anythingllm_bridge.client import AnythingLLMClient
    except ImportError:
        return Sample(float("nan"), float("nan"))
    async with AnythingLLMClient(
        url, API_KEY, max_concurrency=concurrency, max_connections_per_host=concurrency
    ) as c:
        return await measure(c.list_workspaces, concurrency, seconds)


# ---------------------------------------------------------------- main


def own_cost_us(calls: int = 20_000, repeats: int = 5) -> tuple[float, float]:
    """CPU microseconds per call of the Transport's own code, aiohttp replaced by an instant stub
    answer (best of ``repeats``), and of ``json.loads`` of the same body (which bare aiohttp pays too)."""
    from multidict import CIMultiDict, CIMultiDictProxy

    from anythingllm_bridge.client._transport import ClientConfig, Transport

    body = json.dumps(WORKSPACES).encode()

    class StubResponse:
        status, content_type, charset = 200, "application/json", "utf-8"
        headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))

        async def read(self) -> bytes:
            return body

        def release(self) -> None:
            pass

    class StubSession:
        closed = False

        async def request(self, *args: Any, **kwargs: Any) -> StubResponse:
            return StubResponse()

        async def close(self) -> None:
            pass

    async def run() -> float:
        path = Transport("http://127.0.0.1:9", API_KEY, ClientConfig())
        await path.open()
        await path.close()
        await path.open()
        assert path._session is not None
        await path._session.close()
        path._session = StubSession()  # type: ignore[assignment]
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            for _ in range(calls):
                await path.request("GET", "/v1/workspaces")
            best = min(best, (time.process_time() - started) / calls * 1e6)
        return best

    own = asyncio.run(run())
    started = time.process_time()
    for _ in range(calls):
        json.loads(body.decode())
    return own, (time.process_time() - started) / calls * 1e6


MODES: dict[str, Callable[[str, int, float], Coroutine[Any, Any, Sample]]] = {
    "bare": bare,
    "bare_lean": bare_lean,
    "bare_timeouts": bare_timeouts,
    "transport": transport,
    "client": client,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.5, help="measuring time per run")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds; medians are kept")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    load_before = f"{os.getloadavg()[0]:.2f}"
    proc, url = start_server()
    samples: dict[tuple[str, int], list[Sample]] = {}
    try:
        names = list(MODES)
        for concurrency in args.concurrency:
            for r in range(args.rounds):  # modes back to back, so each round's ratios share conditions
                for name in names[r % len(names) :] + names[: r % len(names)]:  # no mode always first
                    samples.setdefault((name, concurrency), []).append(
                        asyncio.run(MODES[name](url, concurrency, args.seconds))
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    def ratio(name: str, base: str, c: int) -> float:
        """Median over rounds of name's calls/s divided by base's calls/s in the same round."""
        pairs = zip(samples[(name, c)], samples[(base, c)], strict=True)
        return statistics.median(a.rate / b.rate for a, b in pairs)

    def spread(name: str, base: str, c: int) -> str:
        """p25–p75 of the per-round ratios (how much the machine moved them)."""
        pairs = zip(samples[(name, c)], samples[(base, c)], strict=True)
        values = [a.rate / b.rate for a, b in pairs]
        if len(values) < 2:
            return "n/a"
        q1, _, q3 = statistics.quantiles(values, n=4)
        return f"{q1:.2f}–{q3:.2f}"

    def cpu_ratio(name: str, base: str, c: int) -> float:
        """Median over rounds of base's CPU per call divided by name's: the throughput ratio a
        CPU-bound client would see, insensitive to other processes on the machine."""
        pairs = zip(samples[(name, c)], samples[(base, c)], strict=True)
        return statistics.median(b.cpu_us / a.cpu_us for a, b in pairs)

    def med(name: str, c: int, field: str) -> float:
        return float(statistics.median(getattr(x, field) for x in samples[(name, c)]))

    cpus, py, aio = os.cpu_count(), platform.python_version(), aiohttp.__version__
    print(f"machine: {cpus} CPUs (nproc), Python {py}, aiohttp {aio}; server in a subprocess")
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(f"runs: {args.rounds} rounds x {args.seconds:g} s per cell; medians")
    print()
    print("calls/s (client CPU µs per call):")
    print()
    print(
        "| concurrency | bare aiohttp | bare, lean loop | bare + aiohttp's read/total timeouts "
        "| Transport | list_workspaces() |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for c in args.concurrency:
        cells = [f"{med(n, c, 'rate'):,.0f} ({med(n, c, 'cpu_us'):.0f} µs)" for n in MODES]
        print(f"| {c} | " + " | ".join(cells) + " |")
    print()
    print("ratios (median of per-round ratios):")
    print()
    print(
        "| concurrency | Transport / bare (p25–p75) | Transport / bare lean | Transport / bare + timeouts "
        "| list_workspaces() / bare | CPU: bare / Transport | CPU: bare lean / Transport |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    worst = float("inf")
    for c in args.concurrency:
        wall = ratio("transport", "bare", c)
        worst = min(worst, wall)
        print(
            f"| {c} | {wall:.2f} ({spread('transport', 'bare', c)}) "
            f"| {ratio('transport', 'bare_lean', c):.2f} "
            f"| {ratio('transport', 'bare_timeouts', c):.2f} | {ratio('client', 'bare', c):.2f} "
            f"| {cpu_ratio('transport', 'bare', c):.2f} | {cpu_ratio('transport', 'bare_lean', c):.2f} |"
        )
    print()
    print(f"target Transport / bare >= 0.85: {'met' if worst >= 0.85 else 'NOT met'} (worst {worst:.2f})")
    own, decode = own_cost_us()
    print(
        f"Transport's own CPU per call (aiohttp stubbed out, best of 5): {own:.1f} µs, "
        f"of which {decode:.1f} µs is decoding the JSON body"
    )


if __name__ == "__main__":
    main()
