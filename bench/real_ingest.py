"""Ingest speed on a real AnythingLLM: the bare ceiling against ``upload_documents`` and the sync.

Three contenders put the same number of small text files (each run its own, never seen by the
server before) into a fresh workspace, at the same concurrency (default 8):

* ``bare``: aiohttp alone, each file uploaded with ``addToWorkspaces`` and nothing else — no check,
  no repair, no marker: the ceiling;
* ``upload_documents``: ``AnythingLLMClient.upload_documents`` (uploads with ``addToWorkspaces``,
  then one check of the workspace and a repair of what the server left out);
* ``sync``: ``anythingllm_bridge.ingest.run_sync`` of a folder (validation, markers, the same
  check and repair, the cache written), as ``allm sync`` runs it.

Rounds interleave the contenders (their order rotates), so a shared, noisy machine slows all of
them alike; the result is each contender's median files/s and its ratio to the bare median, plus
how many documents each left out of the workspace (the bare one does not repair). The load
average is printed before every round. Everything created on the server (workspaces, documents)
is deleted after each run.

    .venv/bin/python bench/real_ingest.py --url http://127.0.0.1:3001 --key "$(cat key.txt)"
    .venv/bin/python bench/real_ingest.py --url ... --key ... --files 120 --rounds 5 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.config import Settings
from anythingllm_bridge.ingest import run_sync

TOPICS = ["zorblax", "quasar", "nebula", "pulsar", "comet", "aurora", "meteor", "eclipse", "parallax"]
TOPICS += ["redshift", "spectrograph", "magnetar", "asteroid", "corona", "photon", "neutrino", "galaxy"]


def corpus(folder: Path, count: int, tag: str, rng: random.Random) -> list[Path]:
    """``count`` small text files (~0.5 KB), their text new to the server."""
    folder.mkdir(parents=True)
    paths = []
    for n in range(count):
        lines = [f"Field note {tag}-{n:03d}."]
        lines += [f"The {rng.choice(TOPICS)} orbits the {rng.choice(TOPICS)}." for _ in range(12)]
        path = folder / f"{tag}-{n:03d}.txt"
        path.write_text(" ".join(lines) + "\n")
        paths.append(path)
    return paths


async def bare(url: str, key: str, slug: str, paths: list[Path], concurrency: int) -> list[str]:
    """Upload each file with ``addToWorkspaces``, ``concurrency`` at a time; their locations."""
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(url + "/api/", headers=headers, connector=connector) as session:

        async def one(path: Path) -> str:
            form = aiohttp.FormData(quote_fields=False)
            body = await asyncio.to_thread(path.read_bytes)
            form.add_field("file", body, filename=path.name, content_type="text/plain")
            form.add_field("addToWorkspaces", slug)
            async with gate, session.post("v1/document/upload", data=form) as response:
                response.raise_for_status()
                location: str = (await response.json())["documents"][0]["location"]
                return location

        return list(await asyncio.gather(*(one(path) for path in paths)))


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def run_one(
    name: str, url: str, key: str, paths: list[Path], concurrency: int, state: Path
) -> tuple[float, int, int, float]:
    """One contender once: (seconds, documents in the workspace, documents left out, seconds of
    this process's CPU it took)."""
    slots = concurrency + 2
    async with AnythingLLMClient(url, key, max_concurrency=slots, max_connections_per_host=slots) as client:
        slug = (await client.create_workspace(f"bench {name} {os.getpid()}-{time.time_ns()}")).workspace.slug
        cpu = time.process_time()
        try:
            if name == "bare":
                seconds = await timed(lambda: bare(url, key, slug, paths, concurrency))
            elif name == "upload_documents":
                seconds = await timed(lambda: client.upload_documents(slug, paths, concurrency=concurrency))
            else:
                settings = Settings(
                    _env_file=None, anythingllm_url=url, anythingllm_api_key=key, allowed_file_types=["txt"]
                )
                seconds = await timed(
                    lambda: run_sync(
                        settings,
                        paths[0].parent,
                        workspace=slug,
                        concurrency=concurrency,
                        manifest=state / f"{slug}.json",
                    )
                )
            cpu = time.process_time() - cpu
            listing = await client.get_workspace(slug)
            names = {path.name for path in paths}
            inside = sum(1 for doc in listing.documents if (doc.metadata.get("title") or "") in names)
            return seconds, inside, len(paths) - inside, cpu
        finally:
            documents = await client.list_documents()
            mine = [
                d.location for d in documents if d.location and (d.title or "") in {p.name for p in paths}
            ]
            await client.delete_workspace(slug)
            if mine:
                await client.delete_documents_from_server(mine)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="the server's root, e.g. http://127.0.0.1:3001")
    parser.add_argument("--key", required=True, help="a developer API key")
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--contenders", nargs="*", default=["bare", "upload_documents", "sync"], help="which to run"
    )
    args = parser.parse_args()
    url = args.url.rstrip("/")
    rng = random.Random(20261203)
    results: dict[str, list[tuple[float, int, int, float]]] = {name: [] for name in args.contenders}
    print(f"{args.files} files, concurrency {args.concurrency}, {args.rounds} rounds against {url}")
    with tempfile.TemporaryDirectory(prefix="allm-real-ingest-") as tmp:
        base = Path(tmp)
        for round_ in range(args.rounds):
            order = (
                args.contenders[round_ % len(args.contenders) :]
                + args.contenders[: round_ % len(args.contenders)]
            )
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"round {round_ + 1}: load average {load}")
            for name in order:
                tag = f"r{round_}{name[:2]}{rng.randrange(10**6):06d}"
                paths = corpus(base / tag, args.files, tag, rng)
                seconds, inside, lost, cpu = await run_one(name, url, args.key, paths, args.concurrency, base)
                results[name].append((seconds, inside, lost, cpu))
                rate = args.files / seconds
                shown = f"{seconds:6.2f} s  {rate:6.1f} files/s  in the workspace {inside}/{args.files}"
                shown += f"  client CPU {cpu:.2f} s"
                print(f"  {name:<17} {shown}")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print("median files/s; median of the per-round ratios to bare; documents left out per run:")
    for name, runs in results.items():
        rate = statistics.median(args.files / run[0] for run in runs)
        ratio = ""
        if "bare" in results and name != "bare":
            ratios = [bare[0] / run[0] for bare, run in zip(results["bare"], runs, strict=True)]
            ratio = (
                f"  {statistics.median(ratios):.2f}x bare (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
        cpu = statistics.median(run[3] for run in runs)
        print(
            f"  {name:<17} {rate:6.1f}{ratio}  client CPU {cpu:.2f} s  left out: {[run[2] for run in runs]}"
        )


if __name__ == "__main__":
    asyncio.run(main())
