"""Bulk upload with verification: many files at once into a fresh workspace, each embedded exactly
once and searchable, against the emulator and (marked ``integration``) a real AnythingLLM.

A real server (1.16.0, LanceDB) mishandles concurrent first embeddings into a fresh workspace: they
race to create its vector table, and while every upload answers 200, some documents stay out of the
workspace ("Table already exists") and others are listed in it but lost their vectors (the table was
created again over them). The emulator does the same when its latency profile says so. Whatever the
server did, ``upload_documents`` must end with every file in the workspace once, and findable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.testing import Emulator, LatencyProfile, run_emulator
from anythingllm_bridge.testing.latency import Cost, Costs
from support import Server, make_client

FILES = 32


def notes(folder: Path, tag: str) -> list[Path]:
    paths = []
    for index in range(FILES):
        path = folder / f"{tag}-{index:02d}.txt"
        path.write_text(f"Bulk note {index}: the comet number {index} passes the ridge at dawn.\n")
        paths.append(path)
    return paths


async def assert_each_once_and_searchable(
    client: AnythingLLMClient, slug: str, paths: list[Path], locations: list[str | None]
) -> None:
    listed = Counter(document.docpath for document in (await client.get_workspace(slug)).documents)
    assert sorted(listed) == sorted(str(location) for location in locations)
    assert set(listed.values()) == {1}  # a repair that re-embedded a present document duplicates it
    query = "comet passes the ridge at dawn"  # every file says it: every chunk is a hit
    hits = await client.search_workspace(slug, query, limit=4 * FILES, score_threshold=0)
    assert sorted({hit.title for hit in hits}) == sorted(path.name for path in paths)  # vectors, each


async def test_every_file_of_a_bulk_upload_is_embedded_exactly_once(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    paths = notes(tmp_path, server.name("bulk"))
    results = await client.upload_documents(workspace.slug, paths, concurrency=8)
    server.created_documents += [r.location for r in results if r.location]
    assert [(r.path, r.status, r.error) for r in results if not r.ok] == []
    await assert_each_once_and_searchable(client, workspace.slug, paths, [r.location for r in results])


@pytest.fixture
async def racing_client() -> AsyncIterator[AnythingLLMClient]:
    """A client of an emulator whose first concurrent embeddings into a workspace race as on the
    real server (a millisecond of embedding each, so that uploads in flight overlap)."""
    costs = Costs(embed_document=Cost(parallel=0.001), update_embeddings_document=Cost(parallel=0.001))
    emulator = Emulator("RACE-KEY", latency_profile=LatencyProfile(name="race", costs=costs, table_race=True))
    async with (
        run_emulator(emulator=emulator) as running,
        make_client(running.url, running.api_key) as client,
    ):
        yield client


async def test_embeddings_lost_to_the_vector_table_race_are_noticed_and_repaired(
    racing_client: AnythingLLMClient, tmp_path: Path
) -> None:
    for attempt in range(3):  # each a fresh workspace: the race is at its first embeddings
        slug = (await racing_client.create_workspace(f"Race {attempt}")).workspace.slug
        paths = notes(tmp_path, f"race-{attempt}")
        results = await racing_client.upload_documents(slug, paths, concurrency=8)
        assert [(r.path, r.status, r.error) for r in results if not r.ok] == []
        await assert_each_once_and_searchable(racing_client, slug, paths, [r.location for r in results])
