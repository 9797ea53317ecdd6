"""What each kind of request costs an AnythingLLM server, and how much of it overlaps under concurrency.

    .venv/bin/python bench/compare/server_costs.py --url http://127.0.0.1:3001 --key KEY \\
        --out src/anythingllm_bridge/testing/profiles/real-1.16.json

Every cost is measured twice: one request at a time (its latency L) and eight at a time (throughput
X). A cost is then split into ``serial`` = 1/X (the part no other request can overlap: at
concurrency 8 the server finishes one such request every 1/X seconds) and ``parallel`` = L - serial
(the part that overlaps: waiting on the collector, the embedder, the disk). The result is the
emulator's latency profile (:mod:`anythingllm_bridge.testing.latency`) with the raw measurements
beside it; ``--out`` writes it as JSON.

Measured: an upload without and with ``addToWorkspaces`` (small and 256 KiB text files: per upload,
per MiB, per embedded document, per embedded chunk), ``update-embeddings`` (per call, per document,
per chunk), the workspace listing (per call and per document in the workspace), ``GET
/v1/documents``, chat, streamed chat (time to the first token and to the end) and vector search; the
throughput of uploads with ``addToWorkspaces`` at concurrency 1, 2, 4 and 8 (do they overlap?); and
how many of eight concurrent first uploads into a fresh workspace are left out of it (``table_race``).
The whole measurement runs three times (``--runs``) and each value is the median of the three.
Everything it creates is named ``bench-costs-...`` and removed. About 5 minutes on the reference server.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

CHUNK_CHARS = 1000  # the reference server's EMBEDDING_MODEL_MAX_CHUNK_LENGTH
WORDS = [
    "zorblax",
    "quasar",
    "nebula",
    "pulsar",
    "comet",
    "aurora",
    "meteor",
    "eclipse",
    "parallax",
    "redshift",
    "spectrograph",
    "magnetar",
    "asteroid",
    "corona",
    "photon",
    "neutrino",
    "galaxy",
    "cluster",
    "binary",
    "supernova",
    "telescope",
    "mirror",
    "eyepiece",
]


def text_of(size: int, rng: random.Random, title: str) -> bytes:
    """About ``size`` bytes of sentences (a fresh mix per file, so no two files embed alike)."""
    parts, length = [f"Cost probe {title}."], 0
    while length < size:
        sentence = f"The {rng.choice(WORDS)} {rng.choice(WORDS)}s the {rng.choice(WORDS)}."
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts).encode()[:size]


def chunks_of(size: int) -> int:
    """How many chunks the server's splitter makes of ``size`` characters of prose (about)."""
    return max(1, round(size / (CHUNK_CHARS - 20)))


class Probe:
    """One session against the server, and everything it created (removed by :meth:`cleanup`)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, tag: str) -> None:
        self.session, self.api, self.tag = session, url.rstrip("/") + "/api", tag
        self.rng = random.Random(11)
        self.workspaces: list[str] = []
        self.locations: list[str] = []
        self.count = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(method, self.api + path, **kwargs) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}: {body[:200]!r}")
            return json.loads(body) if body[:1] in (b"{", b"[") else body.decode()

    async def workspace(self, label: str) -> str:
        data = await self.call("POST", "/v1/workspace/new", json={"name": f"{self.tag}-{label}"})
        slug = str(data["workspace"]["slug"])
        self.workspaces.append(slug)
        return slug

    def file(self, size: int) -> tuple[str, bytes]:
        self.count += 1
        name = f"{self.tag}-{self.count:04d}.txt"
        return name, text_of(size, self.rng, name)

    async def upload(self, size: int = 700, slug: str | None = None) -> str:
        name, data = self.file(size)
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("file", data, filename=name, content_type="text/plain")
        if slug:
            form.add_field("addToWorkspaces", slug)
        answer = await self.call("POST", "/v1/document/upload", data=form)
        location = str(answer["documents"][0]["location"])
        self.locations.append(location)
        return location

    async def embed(self, slug: str, locations: Sequence[str]) -> None:
        await self.call("POST", f"/v1/workspace/{slug}/update-embeddings", json={"adds": list(locations)})

    async def listing(self, slug: str) -> int:
        data = await self.call("GET", f"/v1/workspace/{slug}")
        return len(data["workspace"][0]["documents"])

    async def cleanup(self) -> None:
        for slug in self.workspaces:
            await self.call("DELETE", f"/v1/workspace/{slug}")
        for start in range(0, len(self.locations), 200):
            names = self.locations[start : start + 200]
            await self.call("DELETE", "/v1/system/remove-documents", json={"names": names})


async def timed(
    count: int, concurrency: int, op: Callable[[int], Awaitable[Any]]
) -> tuple[float, list[float]]:
    """Run ``op(0..count-1)`` with ``concurrency`` workers: (wall seconds, each call's latency)."""
    latencies: list[float] = []
    indices = iter(range(count))

    async def worker() -> None:
        for index in indices:
            started = time.perf_counter()
            await op(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def split(latency: float, serial: float) -> dict[str, float]:
    """A cost as the profile stores it: the serial part is at most the whole latency."""
    serial = max(0.0, min(serial, latency))
    return {"serial": round(serial, 6), "parallel": round(max(0.0, latency - serial), 6)}


async def measure(probe: Probe, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    med = statistics.median

    a = await probe.workspace("a")
    await probe.upload(slug=a)  # creates the workspace's vector table: later embeds do not race for it
    for _ in range(3):  # warm-up
        await probe.upload()
    # --- one at a time
    _, lat = await timed(repeat, 1, lambda i: probe.upload())
    raw["upload_small_s"] = med(lat)
    _, lat = await timed(repeat, 1, lambda i: probe.upload(slug=a))
    raw["upload_small_embed_s"] = med(lat)
    big = 256 * 1024
    _, lat = await timed(3, 1, lambda i: probe.upload(big))
    raw["upload_256k_s"] = med(lat)
    _, lat = await timed(3, 1, lambda i: probe.upload(big, slug=a))
    raw["upload_256k_embed_s"] = med(lat)
    log(f"uploads done: {raw}")

    singles = [await probe.upload() for _ in range(repeat + 10)]
    _, lat = await timed(repeat, 1, lambda i: probe.embed(a, [singles[i]]))
    raw["update_embeddings_1_s"] = med(lat)
    wall, _ = await timed(1, 1, lambda i: probe.embed(a, singles[repeat : repeat + 10]))
    raw["update_embeddings_10_s"] = wall
    batch = [await probe.upload() for _ in range(40)]
    wall, _ = await timed(1, 1, lambda i: probe.embed(a, batch))
    raw["update_embeddings_40_s"] = wall
    bigs = [await probe.upload(big) for _ in range(3)]
    _, lat = await timed(3, 1, lambda i: probe.embed(a, [bigs[i]]))
    raw["update_embeddings_1_256k_s"] = med(lat)
    log("update-embeddings done")

    empty = await probe.workspace("empty")
    _, lat = await timed(repeat, 1, lambda i: probe.listing(empty))
    raw["listing_0_s"] = med(lat)
    raw["listing_a_documents"] = await probe.listing(a)
    _, lat = await timed(repeat, 1, lambda i: probe.listing(a))
    raw["listing_a_s"] = med(lat)

    # --- the first embeddings into a fresh workspace, eight at once (four times): do some get lost?
    lost = 0
    for attempt in range(4):
        fresh_ws = await probe.workspace(f"race-{attempt}")
        await timed(8, 8, lambda i: probe.upload(slug=fresh_ws))  # noqa: B023 (awaited at once)
        lost += 8 - await probe.listing(fresh_ws)
    raw["first_8_embeddings_lost_of_32"] = lost

    # --- concurrency: does it overlap?
    b = await probe.workspace("b")
    await probe.upload(slug=b)
    for c in (1, 2, 4, 8):
        wall, _ = await timed(4 * c + 8, c, lambda i: probe.upload(slug=b))
        raw[f"upload_small_embed_per_s_c{c}"] = (4 * c + 8) / wall
    wall, _ = await timed(40, 8, lambda i: probe.upload())
    raw["upload_small_per_s_c8"] = 40 / wall
    loose = [await probe.upload() for _ in range(40)]
    wall, _ = await timed(40, 8, lambda i: probe.embed(b, [loose[i]]))
    raw["update_embeddings_1_per_s_c8"] = 40 / wall
    # the same with 256 KiB files: how much of the per-MiB and per-chunk work overlaps?
    big = 256 * 1024
    wall, _ = await timed(16, 8, lambda i: probe.upload(big))
    raw["upload_256k_per_s_c8"] = 16 / wall
    wall, _ = await timed(16, 8, lambda i: probe.upload(big, slug=b))
    raw["upload_256k_embed_per_s_c8"] = 16 / wall
    loose_big = [await probe.upload(big) for _ in range(16)]
    wall, _ = await timed(16, 8, lambda i: probe.embed(b, [loose_big[i]]))
    raw["update_embeddings_1_256k_per_s_c8"] = 16 / wall
    loose += loose_big
    log("concurrency done")

    # --- listing growth: a workspace of ~300 documents (uploads at c=8, one update-embeddings)
    many = [loc for loc in probe.locations if loc not in loose]
    c = await probe.workspace("c")
    extra = max(0, 300 - len(many))
    await timed(extra, 8, lambda i: probe.upload())
    many += probe.locations[len(probe.locations) - extra :]
    started = time.perf_counter()
    await probe.embed(c, many)
    raw["update_embeddings_300_cached_s"] = time.perf_counter() - started
    raw["listing_c_documents"] = await probe.listing(c)
    _, lat = await timed(repeat, 1, lambda i: probe.listing(c))
    raw["listing_c_s"] = med(lat)
    wall, _ = await timed(40, 8, lambda i: probe.listing(c))
    raw["listing_c_per_s_c8"] = 40 / wall
    fresh = [await probe.upload() for _ in range(repeat)]
    _, lat = await timed(repeat, 1, lambda i: probe.embed(c, [fresh[i]]))
    raw["update_embeddings_1_in_c_s"] = med(lat)
    _, lat = await timed(3, 1, lambda i: probe.call("GET", "/v1/documents"))
    raw["documents_listing_s"] = med(lat)
    listed = await probe.call("GET", "/v1/documents")
    raw["documents_listing_documents"] = sum(len(f["items"]) for f in listed["localFiles"]["items"])
    log("listing done")

    # --- chat, streamed chat, vector search (in workspace a)
    async def chat(i: int) -> None:
        await probe.call(
            "POST", f"/v1/workspace/{a}/chat", json={"message": f"What orbits {i}?", "mode": "chat"}
        )

    first: list[float] = []

    async def stream(i: int) -> None:
        started = time.perf_counter()
        body = {"message": f"Which comet {i}?", "mode": "chat"}
        async with probe.session.post(f"{probe.api}/v1/workspace/{a}/stream-chat", json=body) as response:
            seen = False
            async for line in response.content:
                if not seen and line.startswith(b"data:") and b'"textResponse":"' in line:
                    first.append(time.perf_counter() - started)
                    seen = True

    async def search(i: int) -> None:
        await probe.call("POST", f"/v1/workspace/{a}/vector-search", json={"query": f"nebula {i}", "topN": 4})

    for label, op in (("chat", chat), ("stream", stream), ("search", search)):
        _, lat = await timed(repeat, 1, op)
        raw[f"{label}_s"] = med(lat)
        wall, _ = await timed(32, 8, op)
        raw[f"{label}_per_s_c8"] = 32 / wall
    raw["stream_first_token_s"] = med(first[:repeat])
    log("chat done")
    return raw


def profile_from(raw: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The latency profile: each cost split into its serial and parallel parts (see the module doc)."""
    big_chunks, small_chunks = chunks_of(256 * 1024), 1
    up, up_embed = raw["upload_small_s"], raw["upload_small_embed_s"]
    up_serial = 1 / raw["upload_small_per_s_c8"]
    embed_doc = max(0.0, up_embed - up)
    embed_serial = max(0.0, 1 / raw["upload_small_embed_per_s_c8"] - up_serial)
    embed_share = min(1.0, embed_serial / embed_doc) if embed_doc else 1.0
    per_mib = max(0.0, (raw["upload_256k_s"] - up) * 4)
    embed_chunk = max(
        0.0, (raw["upload_256k_embed_s"] - raw["upload_256k_s"] - embed_doc) / (big_chunks - small_chunks)
    )
    ue1, ue40 = raw["update_embeddings_1_s"], raw["update_embeddings_40_s"]
    ue_doc = max(0.0, (ue40 - ue1) / 39)
    ue_call = max(0.0, ue1 - ue_doc)
    ue_share = min(1.0, (1 / raw["update_embeddings_1_per_s_c8"]) / ue1)
    ue_chunk = max(0.0, (raw["update_embeddings_1_256k_s"] - ue1) / (big_chunks - small_chunks))
    list_doc = max(0.0, (raw["listing_c_s"] - raw["listing_0_s"]) / raw["listing_c_documents"])
    list_share = min(1.0, (1 / raw["listing_c_per_s_c8"]) / raw["listing_c_s"])
    up_share = min(1.0, up_serial / up)
    docs_doc = max(0.0, raw["documents_listing_s"] - raw["listing_0_s"]) / max(
        1, raw["documents_listing_documents"]
    )
    # serial parts of the size-dependent costs, from the 256 KiB files at concurrency 8
    big_serial = 1 / raw["upload_256k_per_s_c8"]
    per_mib_serial = max(0.0, (big_serial - up_serial) * 4)
    big_embed_serial = 1 / raw["upload_256k_embed_per_s_c8"] - big_serial
    chunk_serial = max(0.0, (big_embed_serial - embed_serial) / (big_chunks - small_chunks))
    ue_big_serial = 1 / raw["update_embeddings_1_256k_per_s_c8"]
    ue_chunk_serial = max(0.0, (ue_big_serial - 1 / raw["update_embeddings_1_per_s_c8"]) / (big_chunks - 1))

    def shared(latency: float, share: float) -> dict[str, float]:
        return split(latency, latency * share)

    def of(label: str) -> dict[str, float]:
        return split(raw[f"{label}_s"], 1 / raw[f"{label}_per_s_c8"])

    stream = of("stream")
    first = raw["stream_first_token_s"]
    stream_share = stream["serial"] / raw["stream_s"] if raw["stream_s"] else 1.0
    return {
        "upload": shared(up, up_share),
        "upload_per_mib": split(per_mib, per_mib_serial),
        "embed_document": shared(embed_doc, embed_share),
        "embed_chunk": split(embed_chunk, chunk_serial),
        "update_embeddings": shared(ue_call, ue_share),
        "update_embeddings_document": shared(ue_doc, ue_share),
        "update_embeddings_chunk": split(ue_chunk, ue_chunk_serial),
        "list_workspace": shared(raw["listing_0_s"], list_share),
        "list_workspace_document": shared(list_doc, list_share),
        "list_documents": shared(raw["listing_0_s"], 1.0),
        "list_documents_document": shared(docs_doc, 1.0),
        "chat": of("chat"),
        "stream_first_token": shared(first, stream_share),
        "stream_rest": shared(max(0.0, raw["stream_s"] - first), stream_share),
        "vector_search": of("search"),
    }


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}, load average {load()}"


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = f"bench-costs-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {args.key}"}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        about, started, runs = machine(), time.perf_counter(), []
        for number in range(args.runs):
            probe = Probe(session, args.url, f"{tag}-{number}")
            try:
                runs.append(
                    await measure(probe, args.repeat, lambda line: print(line, file=sys.stderr, flush=True))
                )
            finally:
                await probe.cleanup()
    # each measurement's median over the runs: a shared machine's bursts of load land in one run
    raw = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    raw["first_8_embeddings_lost_of_32"] = max(run["first_8_embeddings_lost_of_32"] for run in runs)
    raw["probe_seconds"] = round(time.perf_counter() - started, 1)
    return {
        "name": args.name,
        "measured": (
            f"bench/compare/server_costs.py --runs {args.runs} --repeat {args.repeat} against {args.url} "
            f"on {dt.date.today().isoformat()}; {about} at the start, {load()} at the end (server, "
            "collector, stand-in embedder and this probe on the same machine)"
        ),
        "costs": profile_from(raw),
        "table_race": raw["first_8_embeddings_lost_of_32"] > 0,
        "raw": {k: round(v, 6) if isinstance(v, float) else v for k, v in raw.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default=os.environ.get("ANYTHINGLLM_URL"), help="server root (or ANYTHINGLLM_URL)"
    )
    parser.add_argument(
        "--key", default=os.environ.get("ANYTHINGLLM_API_KEY"), help="API key (or ANYTHINGLLM_API_KEY)"
    )
    parser.add_argument("--repeat", type=int, default=12, help="requests per one-at-a-time measurement")
    parser.add_argument("--runs", type=int, default=3, help="whole measurements; each value is their median")
    parser.add_argument("--name", default="real-1.16", help="the profile's name")
    parser.add_argument("--out", type=Path, help="write the profile (JSON) here")
    args = parser.parse_args()
    if not args.url or not args.key:
        parser.error("--url and --key (or ANYTHINGLLM_URL and ANYTHINGLLM_API_KEY) are required")
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
