"""Many clients at once: every request is served and the state stays consistent."""

from __future__ import annotations

import asyncio
import re

import aiohttp
from emulator_api import Api


async def test_a_hundred_concurrent_raw_text_uploads_into_one_workspace(api: Api) -> None:
    workspace = await api.workspace("Busy")
    slug = workspace["slug"]

    async def upload(n: int) -> str:
        document = await api.raw_text(f"Doc {n}", f"Document number {n} mentions marker{n}.", add_to=slug)
        return str(document["location"])

    locations = await asyncio.gather(*(upload(n) for n in range(100)))
    assert len(set(locations)) == 100
    rows = (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0]["documents"]
    assert sorted(r["docpath"] for r in rows) == sorted(locations)
    assert sorted(r["id"] for r in rows) == list(range(1, 101))
    assert (await api.get("/v1/system/vector-count")).json == {"vectorCount": 100}
    listed = (await api.get("/v1/documents")).json["localFiles"]["items"][0]["items"]
    assert len(listed) == 100
    hit = await api.post(
        f"/v1/workspace/{slug}/vector-search", json={"query": "marker42", "topN": 1, "scoreThreshold": 0}
    )
    assert hit.json["results"][0]["metadata"]["title"] == "doc-42.txt"


async def test_a_hundred_concurrent_file_uploads_over_separate_connections(api: Api) -> None:
    workspace = await api.workspace("Files")
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def upload(n: int) -> int:
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("file", f"file {n} body".encode(), filename=f"f{n}.txt")
            form.add_field("addToWorkspaces", workspace["slug"])
            async with session.post(f"{api.base}/v1/document/upload", data=form, headers=api.auth) as resp:
                return resp.status

        statuses = await asyncio.gather(*(upload(n) for n in range(100)))
    assert statuses == [200] * 100
    rows = (await api.get(f"/v1/workspace/{workspace['slug']}")).json["workspace"][0]["documents"]
    assert len(rows) == 100


async def test_concurrent_workspace_creation_and_chats_get_unique_ids(api: Api) -> None:
    created = await asyncio.gather(*(api.workspace("Same Name") for _ in range(100)))
    slugs = [w["slug"] for w in created]
    assert len(set(slugs)) == 100
    assert slugs.count("same-name") == 1
    assert all(s == "same-name" or re.fullmatch(r"same-name-\d{8}", s) for s in slugs)
    assert sorted(w["id"] for w in created) == list(range(1, 101))

    async def chat(n: int) -> int:
        reply = await api.post("/v1/workspace/same-name/chat", json={"message": f"q{n}", "mode": "chat"})
        return int(reply.json["chatId"])

    chat_ids = await asyncio.gather(*(chat(n) for n in range(100)))
    assert sorted(chat_ids) == list(range(1, 101))
    history = (await api.get("/v1/workspace/same-name/chats?limit=1000")).json["history"]
    assert len(history) == 200
