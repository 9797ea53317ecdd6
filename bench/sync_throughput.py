"""Sync throughput: small text files into the emulator, and an unchanged re-sync of many files.

1. Syncs N (default 1,000) small text files into a fresh workspace at concurrency 1, 4 and 16 and
   reports files per second (validate, upload with the file's marker and ``addToWorkspaces``, one
   check of the workspace at the end, the cache written after every file).
2. Syncs M (default 10,000) files once, then times an unchanged re-sync of them (target < 2 s) and
   counts, with an audit hook on ``open``, how many files under the source folder were opened
   during it (target: 0 — size and mtime decide without reading content; the workspace's listing,
   with every document's marker, decides what is synced).

The emulator runs in a separate process (``python -m anythingllm_bridge.testing.emulator``) on
127.0.0.1, so the client's process measures only itself.

    .venv/bin/python bench/sync_throughput.py                 # 1,000 files; re-sync of 10,000
    .venv/bin/python bench/sync_throughput.py --files 200 --resync-files 2000   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, SyncReport, sync
from anythingllm_bridge.validation import FileValidator

KEY = "BENCH-KEY"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-W",
        "ignore::RuntimeWarning",
        "-m",
        "anythingllm_bridge.testing.emulator",
        "--host",
        "127.0.0.1",
    ]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--api-key", KEY], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def make_files(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        sub = root / f"d{n // 1000:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"note-{n:05d}.txt").write_text(
            f"Note {n}. The glorp valley observatory logged {n * 7} meteors.\n"
        )


async def run_sync(url: str, root: Path, manifest: Path, workspace: str, concurrency: int) -> SyncReport:
    async with AnythingLLMClient(
        url, KEY, max_concurrency=concurrency + 4, max_connections_per_host=concurrency + 4
    ) as client:
        return await sync(
            client,
            FolderSource(root),
            FileManifestStore(manifest),
            workspace=workspace,
            validator=FileValidator(allowed_file_types=["txt"]),
            concurrency=concurrency,
        )


async def new_workspace(url: str, name: str) -> str:
    async with AnythingLLMClient(url, KEY) as client:
        return (await client.create_workspace(name)).workspace.slug


class OpenCounter:
    """Counts ``open`` audit events for paths under ``root`` while ``active``."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.active = False
        self.opened: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.active and event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            path = os.fsdecode(args[0])
            if path.startswith(self.root):
                self.opened.append(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--resync-files", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 16])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="allm-bench-") as tmp, emulator_process() as url:
        base = Path(tmp)
        small = base / "small"
        make_files(small, args.files)
        print(f"throughput: {args.files} small text files, emulator at {url}")
        for concurrency in args.concurrency:
            slug = asyncio.run(new_workspace(url, f"bench c{concurrency}"))
            report = asyncio.run(run_sync(url, small, base / f"m-c{concurrency}.json", slug, concurrency))
            assert not report.failed, report.failed
            assert len(report.uploaded) == args.files
            rate = args.files / report.elapsed
            print(f"  concurrency {concurrency:>2}: {report.elapsed:6.2f} s  {rate:7.1f} files/s")

        many = base / "many"
        make_files(many, args.resync_files)
        slug = asyncio.run(new_workspace(url, "bench resync"))
        manifest = base / "m-resync.json"
        started = time.perf_counter()
        first = asyncio.run(run_sync(url, many, manifest, slug, 16))
        assert not first.failed, first.failed
        print(f"re-sync: first sync of {args.resync_files} files took {time.perf_counter() - started:.1f} s")

        counter = OpenCounter(many)
        counter.active = True
        started = time.perf_counter()
        again = asyncio.run(run_sync(url, many, manifest, slug, 16))
        took = time.perf_counter() - started
        counter.active = False
        assert len(again.unchanged) == args.resync_files, again.counts()
        verdict = "ok" if took < 2.0 else "SLOWER THAN THE 2 s TARGET"
        print(f"  unchanged re-sync of {args.resync_files} files: {took:.2f} s ({verdict}),")
        print(f"  files opened under the source during it: {len(counter.opened)}")


if __name__ == "__main__":
    main()
