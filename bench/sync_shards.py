"""Sharded sync: N ``allm sync --shard I/N`` processes at once on one machine, for N = 1, 2, 4.

Each N syncs the same folder of small text files into a fresh workspace: N processes started
together (each its own state folder, as separate machines would be), each taking its share of the
files. files/s = files / the wall time from starting the processes until the last one ends (process
start-up included: that is what a job runner pays too). Then it checks the workspace holds every file
exactly once.

Against the built-in emulator (started in a separate process) by default, or a real server with
``--url`` and ``--key`` (everything created there is deleted afterwards).

    .venv/bin/python bench/sync_shards.py                       # emulator, 1,000 files
    .venv/bin/python bench/sync_shards.py --url http://127.0.0.1:3001 --key "$(cat key.txt)" --files 240
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.ingest import Marker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_throughput import KEY, emulator_process


def make_files(root: Path, count: int) -> None:
    root.mkdir(parents=True)
    for n in range(count):
        (root / f"note-{n:05d}.txt").write_text(
            f"Note {n} of the shard bench. The glorp valley observatory logged {n * 7} meteors.\n"
        )


@contextlib.contextmanager
def server(url: str | None, key: str | None) -> Iterator[tuple[str, str]]:
    if url:
        yield url.rstrip("/"), key or ""
    else:
        with emulator_process() as local:
            yield local, KEY


async def workspace(url: str, key: str, name: str) -> str:
    async with AnythingLLMClient(url, key) as client:
        return (await client.create_workspace(name)).workspace.slug


async def tally_and_clean(url: str, key: str, slug: str, source: str) -> Counter[str]:
    """Our documents per key in the workspace; then the workspace and its documents are deleted."""
    async with AnythingLLMClient(url, key) as client:
        listing = await client.get_workspace(slug)
        markers = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
        counts = Counter(m.key for m in markers if m is not None and m.source == source)
        await client.delete_workspace(slug)
        await client.delete_documents_from_server([d.docpath for d in listing.documents])
    return counts


def run(url: str, key: str, folder: Path, slug: str, shards: int, concurrency: int, state: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYTHINGLLM_")}
    env.update(ANYTHINGLLM_URL=url, ANYTHINGLLM_API_KEY=key)
    started = time.perf_counter()
    procs = []
    for index in range(shards):
        env_i = {**env, "XDG_STATE_HOME": str(state / f"machine-{index}")}
        args = ["-q", "sync", str(folder), "-w", slug, "--types", "txt", "-c", str(concurrency)]
        args += ["--source-id", "shard-bench", "--shard", f"{index}/{shards}"]
        procs.append(subprocess.Popen([sys.executable, "-m", "anythingllm_bridge.cli", *args], env=env_i))
    codes = [proc.wait() for proc in procs]
    elapsed = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"a shard failed: exit codes {codes}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a real server (default: the built-in emulator)")
    parser.add_argument("--key", help="its API key")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4, help="files at once per process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="allm-shards-") as tmp, server(args.url, args.key) as (url, key):
        folder = Path(tmp) / "docs"
        make_files(folder, args.files)
        where = "the emulator" if not args.url else url
        print(f"{args.files} files, concurrency {args.concurrency} per process, against {where}")
        for shards in args.shards:
            slug = asyncio.run(workspace(url, key, f"shard bench {shards} {time.time_ns()}"))
            load = " ".join(f"{v:.2f}" for v in os.getloadavg())
            elapsed = run(url, key, folder, slug, shards, args.concurrency, Path(tmp) / f"state-{shards}")
            counts = asyncio.run(tally_and_clean(url, key, slug, "shard-bench"))
            once = len(counts) == args.files and set(counts.values()) == {1}
            print(
                f"  N={shards}: {elapsed:6.2f} s  {args.files / elapsed:7.1f} files/s  "
                f"(load before {load}; every file once: {once})"
            )


if __name__ == "__main__":
    main()
