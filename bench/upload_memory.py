"""Peak memory of the client while it uploads a large file.

Uploads a sparse file (default 1 GiB) with ``AnythingLLMClient.upload_file`` to a minimal sink
server on 127.0.0.1 that runs in a *separate process*, reads the request body in chunks and
throws it away, then answers like AnythingLLM's upload route. (The emulator is not used: it
stores and parses every upload, and running it in this process would put the server's memory
into the measurement.) The client process's peak RSS (``ru_maxrss``) is compared before and
after the upload; the target is a growth below 64 MiB.

    .venv/bin/python bench/upload_memory.py            # 1 GiB
    .venv/bin/python bench/upload_memory.py --mib 256  # smaller
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MIB = 64


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --------------------------------------------------------------------------- the sink (child process)


def run_sink() -> None:
    from aiohttp import web

    async def upload(request: web.Request) -> web.Response:
        received = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            received += len(chunk)
        document = {
            "id": "sink",
            "title": "sink",
            "location": "custom-documents/sink.json",
            "received_bytes": received,
            "content_length": request.content_length,
            "transfer_encoding": request.headers.get("Transfer-Encoding"),
        }
        return web.json_response({"success": True, "error": None, "documents": [document]})

    async def ping(_: web.Request) -> web.Response:
        return web.json_response({"online": True})

    async def main() -> None:
        app = web.Application(client_max_size=0)
        app.router.add_post("/api/v1/document/upload", upload)
        app.router.add_get("/api/ping", ping)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- the client (this process)


def sparse_file(folder: str, size: int) -> Path:
    path = Path(folder) / "big-sparse.bin"
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: no disk space, reads as zeros
    return path


async def measure(size: int, url: str) -> dict[str, float | int | str | None]:
    from anythingllm_bridge.client import AnythingLLMClient

    with tempfile.TemporaryDirectory() as folder:
        path = sparse_file(folder, size)
        async with AnythingLLMClient(url, "BENCH-KEY", max_retries=0, timeout=3600) as client:
            await client.ping()  # warm up: session, connector, imports
            baseline_peak = peak_rss_mib()
            baseline_now = current_rss_mib()
            started = time.perf_counter()
            result = await client.upload_file(path)
            elapsed = time.perf_counter() - started
        extra = result.document.model_extra or {}
        return {
            "file_bytes": size,
            "received_bytes": extra.get("received_bytes"),
            "content_length": extra.get("content_length"),
            "transfer_encoding": extra.get("transfer_encoding"),
            "seconds": round(elapsed, 2),
            "mib_per_s": round(size / 2**20 / elapsed, 1),
            "rss_before_mib": round(baseline_now, 1),
            "peak_before_mib": round(baseline_peak, 1),
            "peak_after_mib": round(peak_rss_mib(), 1),
            "peak_growth_mib": round(peak_rss_mib() - baseline_peak, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink()
        return 0

    sink = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        report = asyncio.run(measure(args.mib * 2**20, f"http://127.0.0.1:{port}"))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    report["target_growth_mib"] = TARGET_MIB
    report["ok"] = (
        report["received_bytes"] is not None
        and int(report["received_bytes"]) > args.mib * 2**20
        and float(report["peak_growth_mib"] or 0) < TARGET_MIB
    )
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
