"""The emulator's optional latency profile: off by default; with one, every request is charged what the
profile says for the work it does, serial parts run one at a time, and concurrent first embeddings
into a workspace race as on the real server.

Nothing here waits for real time: the tests replace ``emulator.latency.sleep`` (the one place the
profile spends time) with a recorder, and gate it where they need requests to overlap.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from emulator_api import Api

from anythingllm_bridge.testing import Emulator, LatencyProfile, run_emulator
from anythingllm_bridge.testing.latency import PROFILES, Cost, Costs, chunk_count

KEY = "LATENCY-KEY"
MIB = 1 << 20
PROFILE = LatencyProfile(
    name="test",
    costs=Costs(
        upload=Cost(serial=0.5, parallel=0.25),
        upload_per_mib=Cost(serial=1.0),
        embed_document=Cost(serial=0.125, parallel=0.0625),
        embed_chunk=Cost(serial=0.01),
        update_embeddings=Cost(parallel=0.3),
        update_embeddings_document=Cost(serial=0.2, parallel=0.1),
        update_embeddings_chunk=Cost(serial=0.02),
        list_workspace=Cost(serial=0.04),
        list_workspace_document=Cost(serial=0.001),
        list_documents=Cost(serial=0.05),
        list_documents_document=Cost(serial=0.002),
        chat=Cost(serial=0.7, parallel=0.35),
        stream_first_token=Cost(serial=0.6),
        stream_rest=Cost(parallel=0.15),
        vector_search=Cost(serial=0.45, parallel=0.05),
    ),
)
TEXT = b"The Zorblax protocol was invented in 1987 by Dr. Quentin Marsh at the Lunar Institute.\n"

Recorded = list[tuple[str, float]]


async def _served(emulator: Emulator) -> AsyncIterator[Api]:
    async with run_emulator(emulator=emulator) as running, aiohttp.ClientSession() as session:
        yield Api(running, session)


def _recorder(emulator: Emulator) -> Recorded:
    """Replace the emulator's sleep: record ``("serial" | "parallel", seconds)`` and go on at once."""
    spent: Recorded = []

    async def sleep(seconds: float) -> None:
        spent.append(("serial" if emulator.latency.serial_busy else "parallel", seconds))
        await asyncio.sleep(0)

    emulator.latency.sleep = sleep
    return spent


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for served in _served(Emulator(KEY, latency_profile=PROFILE)):
        yield served


async def _workspace(api: Api, name: str = "Latency") -> str:
    reply = await api.post("/v1/workspace/new", json={"name": name})
    return str(reply.json["workspace"]["slug"])


async def _upload(api: Api, name: str, data: bytes = TEXT, workspace: str | None = None) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="text/plain")
    if workspace:
        form.add_field("addToWorkspaces", workspace)
    reply = await api.post("/v1/document/upload", data=form)
    assert reply.status == 200, reply.text
    document: dict[str, Any] = reply.json["documents"][0]
    return document


async def _documents(api: Api, slug: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0][
        "documents"
    ]
    return documents


def _approx(spent: Recorded) -> list[tuple[str, Any]]:
    return [(kind, pytest.approx(seconds)) for kind, seconds in spent]


# ---------------------------------------------------------------------------------------- off


async def test_no_profile_by_default_charges_nothing() -> None:
    emulator = Emulator(KEY)
    assert emulator.latency.profile is None
    spent = _recorder(emulator)
    async for api in _served(emulator):
        slug = await _workspace(api)
        document = await _upload(api, "notes.txt", workspace=slug)
        await api.post(f"/v1/workspace/{slug}/update-embeddings", json={"adds": [document["location"]]})
        await api.get(f"/v1/workspace/{slug}")
        await api.get("/v1/documents")
        await api.post(f"/v1/workspace/{slug}/chat", json={"message": "Zorblax?", "mode": "chat"})
        await api.post(f"/v1/workspace/{slug}/stream-chat", json={"message": "Zorblax?", "mode": "chat"})
        await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": "Zorblax"})
        assert len(await _documents(api, slug)) == 2  # nothing lost either
    assert spent == []


# ------------------------------------------------------------------------------- what is charged


async def test_an_upload_is_charged_per_request_per_mib_and_for_embedding(api: Api) -> None:
    slug = await _workspace(api)
    spent = _recorder(api.emulator)
    await _upload(api, "plain.txt")
    assert spent == _approx([("parallel", 0.25), ("serial", 0.5 + len(TEXT) / MIB)])
    spent.clear()
    big = b"nebula quasar comet " * 5000  # 100,000 bytes: 100 chunks
    await _upload(api, "big.txt", big, workspace=slug)
    assert chunk_count(big.decode()) == 100
    assert spent == _approx(
        [("parallel", 0.25), ("serial", 0.5 + len(big) / MIB), ("parallel", 0.0625), ("serial", 0.125 + 1.0)]
    )


async def test_update_embeddings_is_charged_per_call_and_per_document(api: Api) -> None:
    slug = await _workspace(api)
    locations = [(await _upload(api, f"n{i}.txt"))["location"] for i in range(2)]
    spent = _recorder(api.emulator)
    reply = await api.post(f"/v1/workspace/{slug}/update-embeddings", json={"adds": locations})
    assert reply.status == 200
    per_document = [("parallel", 0.1), ("serial", 0.2 + 0.02)]
    assert spent == _approx([("parallel", 0.3), *per_document, *per_document])
    assert len(reply.json["workspace"]["documents"]) == 2


async def test_listings_cost_more_with_more_documents(api: Api) -> None:
    slug = await _workspace(api)
    for i in range(3):
        await _upload(api, f"n{i}.txt", workspace=slug)
    await _upload(api, "loose.txt")
    spent = _recorder(api.emulator)
    await api.get(f"/v1/workspace/{slug}")
    await api.get("/v1/documents")
    assert spent == _approx([("serial", 0.04 + 3 * 0.001), ("serial", 0.05 + 4 * 0.002)])


async def test_chat_stream_and_search_are_charged(api: Api) -> None:
    slug = await _workspace(api)
    await _upload(api, "notes.txt", workspace=slug)
    spent = _recorder(api.emulator)
    await api.post(f"/v1/workspace/{slug}/chat", json={"message": "Zorblax?", "mode": "chat"})
    assert spent == _approx([("parallel", 0.35), ("serial", 0.7)])
    spent.clear()
    reply = await api.post(f"/v1/workspace/{slug}/stream-chat", json={"message": "Zorblax?", "mode": "chat"})
    assert reply.events()[-1]["type"] == "finalizeResponseStream"
    assert spent == _approx([("serial", 0.6), ("parallel", 0.15)])
    spent.clear()
    await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": "Zorblax"})
    assert spent == _approx([("parallel", 0.05), ("serial", 0.45)])


# ------------------------------------------------------------------------------ how it overlaps


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (the requests are in this loop: no clock needed)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the requests never got there")


async def test_serial_parts_run_one_at_a_time(api: Api) -> None:
    latency = api.emulator.latency
    gate = asyncio.Event()
    parallel: list[float] = []
    serial: list[float] = []

    async def sleep(seconds: float) -> None:
        if latency.serial_busy:
            serial.append(seconds)
            await gate.wait()
        else:
            parallel.append(seconds)
            await asyncio.sleep(0)

    latency.sleep = sleep
    uploads = [asyncio.create_task(_upload(api, f"n{i}.txt")) for i in range(2)]
    await _until(lambda: len(parallel) == 2 and len(serial) == 1)  # both past their parallel part
    for _ in range(100):  # whatever runs meanwhile, the second stays queued
        await asyncio.sleep(0)
    assert len(serial) == 1
    gate.set()
    await asyncio.gather(*uploads)
    assert len(serial) == 2


@pytest.mark.parametrize("table_race", [True, False])
@pytest.mark.parametrize("route", ["upload", "update-embeddings"])
async def test_concurrent_first_embeddings_race_for_the_vector_table(table_race: bool, route: str) -> None:
    embedding_only = Costs(embed_document=Cost(parallel=1.0), update_embeddings_document=Cost(parallel=1.0))
    profile = LatencyProfile(name="race", costs=embedding_only, table_race=table_race)
    emulator = Emulator(KEY, latency_profile=profile)
    gate = asyncio.Event()
    waiting: list[float] = []

    async def sleep(seconds: float) -> None:
        waiting.append(seconds)
        await gate.wait()

    emulator.latency.sleep = sleep
    async for api in _served(emulator):
        slug = await _workspace(api)
        names = [f"racer-{i}.txt" for i in range(3)]
        if route == "upload":
            first = [_upload(api, name, workspace=slug) for name in names]
        else:
            locations = [(await _upload(api, name))["location"] for name in names]
            path = f"/v1/workspace/{slug}/update-embeddings"
            first = [api.post(path, json={"adds": [location]}) for location in locations]
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(_awaited(call)) for call in first]
        await _until(lambda: len(waiting) == 3)  # all three embeddings under way, no table yet
        gate.set()
        await asyncio.gather(*tasks)  # every answer is 200
        listed = sorted(json.loads(d["metadata"])["title"] for d in await _documents(api, slug))
        if table_race:  # the second created the table over the first's; the third failed
            assert listed == names[:2]
            assert await _searchable(api, slug) == names[1:2]
        else:
            assert listed == names
            assert await _searchable(api, slug) == names
        await _upload(api, "later.txt", workspace=slug)  # the table exists now: no race
        assert "later.txt" in await _searchable(api, slug)


async def _searchable(api: Api, slug: str) -> list[str]:
    """The documents that have vectors (found by a search that every chunk matches)."""
    reply = await api.post(
        f"/v1/workspace/{slug}/vector-search",
        json={"query": "Zorblax protocol", "topN": 50, "scoreThreshold": 0},
    )
    return sorted({result["metadata"]["title"] for result in reply.json["results"]})


async def _awaited(call: Awaitable[Any]) -> Any:
    return await call


# ------------------------------------------------------------------------------- profiles


def test_the_shipped_profile_loads_and_charges_the_work_that_ranks_strategies() -> None:
    assert PROFILES == ("real-1.16",)
    profile = LatencyProfile.named("real-1.16")
    assert profile == LatencyProfile.load("real-1.16")
    costs = profile.costs
    for name in ("upload", "embed_document", "update_embeddings_document", "list_workspace", "chat"):
        cost = getattr(costs, name)
        assert cost.serial + cost.parallel > 0, name
    assert profile.table_race
    assert "server_costs.py" in profile.measured


def test_a_profile_file_round_trips_and_extra_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**PROFILE.model_dump(), "raw": {"upload_small_s": 0.75}}))
    assert LatencyProfile.from_file(path) == PROFILE
    assert LatencyProfile.load(str(path)) == PROFILE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"cannot read latency profile '.*missing\.json'"),
        ("{not json", r"latency profile '.*' is not JSON"),
        ("[]", r"a latency profile is a JSON object, got list"),
        ('{"name": "x", "costs": {"uplod": {"serial": 1}}}', r"unknown field 'costs\.uplod'"),
        (
            '{"name": "x", "costs": {"upload": {"serial": -1}}}',
            r"costs\.upload\.serial: Input should be greater than or equal to 0, got -1",
        ),
        ('{"costs": {}}', r"name: required$"),
    ],
)
def test_a_bad_profile_is_one_clear_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        LatencyProfile.from_file(path)
    assert "\n" not in str(caught.value)


def test_an_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown latency profile 'real-9' \(shipped: real-1\.16; or give"):
        LatencyProfile.named("real-9")
    with pytest.raises(ValueError, match=r"unknown latency profile 'real-9' \(shipped"):
        LatencyProfile.load("real-9")


def test_allm_emulator_takes_a_profile_and_refuses_a_bad_one_as_a_usage_error() -> None:
    command = [sys.executable, "-m", "anythingllm_bridge.cli", "emulator", "--port", "0", "--key", KEY]
    refused = subprocess.run(
        [*command, "--latency-profile", "real-9"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "unknown latency profile 'real-9'" in refused.stderr
    process = subprocess.Popen(
        [*command, "--latency-profile", "real-1.16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        found = re.search(
            r"listening on (http://127\.0\.0\.1:\d+) \(latency profile real-1\.16\)",
            process.stdout.readline(),
        )
        assert found
        request = urllib.request.Request(
            found.group(1) + "/api/v1/auth", headers={"Authorization": f"Bearer {KEY}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == {"authenticated": True}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_command_line_takes_a_profile_and_refuses_a_bad_one(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "anythingllm_bridge.testing.emulator", "--port", "0", "--api-key", KEY]
    refused = subprocess.run(
        [*command, "--latency-profile", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert re.search(r"--latency-profile: cannot read latency profile '.*nope\.json'", refused.stderr)
    process = subprocess.Popen(
        [*command, "--latency-profile", "real-1.16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        assert re.search(
            r"listening on http://127\.0\.0\.1:\d+ \(latency profile real-1\.16\)", process.stdout.readline()
        )
    finally:
        process.terminate()
        process.wait(timeout=20)
