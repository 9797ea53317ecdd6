"""``upload_documents`` embeds each file with its upload (``addToWorkspaces``), then checks them all
against one read of the workspace and repairs only what the server left out: how many calls, what
an answer lost in transit means, and what the client's own limits allow."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.client.resources.embeddings import first_alone
from support import docpaths, make_client


def make_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"doc-{index:03d}.txt"
        path.write_text(f"Document number {index} talks about topic {index * 7}.\n", encoding="utf-8")
        paths.append(path)
    return paths


def requests_to(emulator: Any, method: str, suffix: str) -> list[Any]:
    return [r for r in emulator.emulator.faults.requests if r.method == method and r.path.endswith(suffix)]


async def test_each_file_is_embedded_with_its_upload_and_checked_once_at_the_end(
    emulator: Any, emu_workspace: Workspace, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 120)
    async with make_client(emulator.url, emulator.api_key, max_connections_per_host=8) as client:
        results = await client.upload_documents(emu_workspace.slug, files, concurrency=8)
        embedded = await docpaths(client, emu_workspace.slug)

    assert [r.path for r in results] == [str(p) for p in files]
    assert all(r.status == "embedded" and r.location for r in results)
    uploads = requests_to(emulator, "POST", "/document/upload")
    assert len(uploads) == 120
    assert requests_to(emulator, "POST", "/update-embeddings") == []  # nothing was left out
    # the workspace is read once before (does it exist?) and once after (the check)
    assert len(requests_to(emulator, "GET", f"/workspace/{emu_workspace.slug}")) == 3  # + docpaths()
    assert sorted(embedded) == sorted(r.location for r in results if r.location)  # each exactly once


async def test_a_repair_done_but_its_answer_lost_is_found_embedded_not_sent_again(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    faults = emulator.emulator.faults
    faults.lose_embeddings(next_n=2)
    # the server embeds the repair, then the connection breaks in the middle of its answer
    faults.add("POST", "/api/v1/workspace/*/update-embeddings", drop="after_headers")
    results = await emu_client.upload_documents(emu_workspace.slug, make_files(tmp_path, 5))
    assert sorted(r.status for r in results) == ["embedded"] * 3 + ["repaired"] * 2
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted(str(r.location) for r in results)


async def test_a_repair_without_an_answer_is_reported_and_never_repeated(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    faults = emulator.emulator.faults
    faults.lose_embeddings(next_n=4)
    # no answer at all: the server may still be embedding, so sending it again could duplicate
    faults.add("POST", "/api/v1/workspace/*/update-embeddings", drop="before_headers")
    results = await emu_client.upload_documents(emu_workspace.slug, make_files(tmp_path, 4))

    assert [r.status for r in results] == ["not_embedded"] * 4
    for result in results:
        assert result.location
        assert "got no answer" in (result.error or "")
        assert "not sent again" in (result.error or "")
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1
    # what the error advises finishes the job, once each
    locations = [str(r.location) for r in results]
    check = await emu_client.ensure_embedded(emu_workspace.slug, locations)
    assert check.ok
    assert sorted(check.repaired) == sorted(locations)
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted(locations)


async def test_ensure_embedded_embeds_only_what_is_missing(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    first, second = make_files(tmp_path, 2)
    inside = (await emu_client.upload_file(first, workspaces=emu_workspace.slug)).location
    outside = (await emu_client.upload_file(second)).location
    emulator.emulator.faults.clear_requests()
    check = await emu_client.ensure_embedded(emu_workspace.slug, [inside, outside])
    assert check.ok
    assert check.repaired == [outside]
    assert sorted(check.present) == sorted([inside, outside])
    assert check.workspace is not None
    assert check.workspace.docpaths == {inside, outside}
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1
    # each once: embedding the one already in again would have duplicated its vectors
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted([inside, outside])
    # the repair's answer carries the workspace: read once before, not again after (+ docpaths())
    assert len(requests_to(emulator, "GET", f"/workspace/{emu_workspace.slug}")) == 2
    again = await emu_client.ensure_embedded(emu_workspace.slug, [inside, outside])
    assert again.ok
    assert again.repaired == []
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1


async def test_more_concurrency_than_the_client_allows_is_said(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="anythingllm_bridge.client"):
        files = make_files(tmp_path, 2)
        results = await emu_client.upload_documents(emu_workspace.slug, files, concurrency=16)
    assert all(r.ok for r in results)
    (line,) = [r.getMessage() for r in caplog.records if "concurrency=16" in r.getMessage()]
    assert "at most 10" in line
    assert "max_connections_per_host=10" in line


async def test_embed_batch_is_deprecated_and_ignored(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, tmp_path: Path
) -> None:
    from anythingllm_bridge.client import AnythingLLMDeprecationWarning

    files = make_files(tmp_path, 2)
    with pytest.warns(AnythingLLMDeprecationWarning, match="embed_batch"):
        results = await emu_client.upload_documents(emu_workspace.slug, files, embed_batch=1)
    assert [r.status for r in results] == ["embedded", "embedded"]


async def test_a_file_that_vanishes_after_its_check_fails_alone(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 3)

    def metadata(path: Path) -> dict[str, str]:  # called after the file was checked, before it is read
        if path == files[1]:
            path.unlink()
        return {"docAuthor": "Batch"}

    results = await emu_client.upload_documents(emu_workspace.slug, files, metadata=metadata)
    assert [r.status for r in results] == ["embedded", "failed", "embedded"]
    assert "doc-001.txt" in (results[1].error or "")
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted(
        str(r.location) for r in results if r.ok
    )


async def test_into_a_fresh_workspace_the_first_upload_goes_alone(
    emulator: Any, emu_workspace: Workspace, tmp_path: Path
) -> None:
    """A real AnythingLLM creates a workspace's vector table with its first embedding, and concurrent
    first embeddings race to create it (the losers are dropped): the first upload is sent alone."""
    emulator.emulator.faults.add("POST", "/api/v1/document/upload", latency=0.05, times=None)
    async with make_client(emulator.url, emulator.api_key, max_connections_per_host=8) as client:
        results = await client.upload_documents(emu_workspace.slug, make_files(tmp_path, 6), concurrency=4)
    assert all(r.status == "embedded" for r in results)
    first, *rest = sorted(r.at for r in requests_to(emulator, "POST", "/document/upload"))
    assert all(at - first >= 0.05 for at in rest)  # the others only once the first was answered


async def test_a_metadata_function_that_raises_fails_its_file_alone(
    emulator: Any, emu_workspace: Workspace, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 4)

    def metadata(path: Path) -> dict[str, str]:
        if path == files[2]:
            raise KeyError("no author for this one")
        return {"docAuthor": path.stem}

    async with make_client(emulator.url, emulator.api_key) as client:
        results = await client.upload_documents(emu_workspace.slug, files, metadata=metadata)
        embedded = await docpaths(client, emu_workspace.slug)
    assert [r.status for r in results] == ["embedded", "embedded", "failed", "embedded"]
    assert results[2].error == "the metadata function raised KeyError: 'no author for this one'"
    assert results[2].location is None
    assert len(requests_to(emulator, "POST", "/document/upload")) == 3  # nothing sent for it
    assert sorted(embedded) == sorted(r.location for r in results if r.location)


async def test_when_one_send_raises_the_others_are_cancelled_not_orphaned() -> None:
    started: list[int] = []
    cancelled: list[int] = []
    never = asyncio.Event()

    async def send(item: int) -> int:
        started.append(item)
        if item == 1:
            await asyncio.sleep(0)  # the others have started by now
            raise RuntimeError("boom")
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(item)
            raise
        return item

    with pytest.raises(RuntimeError, match="boom"):
        await first_alone([0, 1, 2, 3], send, False, lambda _result: True)
    assert sorted(started) == [0, 1, 2, 3]
    assert sorted(cancelled) == [0, 2, 3]  # all of them, before first_alone returned


async def test_into_a_fresh_workspace_the_smallest_file_goes_alone_and_the_rest_largest_first(
    emulator: Any, emu_workspace: Workspace, tmp_path: Path
) -> None:
    """Nothing else is in flight while the first upload embeds, so it is the cheapest one; then a
    large file starts early rather than being the last one still embedding."""
    sizes = {"a.txt": 300, "b.txt": 40, "c.txt": 900, "d.txt": 120}
    files = []
    for name, size in sizes.items():
        (tmp_path / name).write_text(f"{name} " + "x" * size + "\n", encoding="utf-8")
        files.append(tmp_path / name)
    async with make_client(emulator.url, emulator.api_key) as client:
        results = await client.upload_documents(emu_workspace.slug, files, concurrency=1)
        documents = (await client.get_workspace(emu_workspace.slug)).documents
    assert [r.path for r in results] == [str(p) for p in files]  # results stay in input order
    assert all(r.status == "embedded" for r in results)
    by_arrival = sorted(documents, key=lambda document: document.id or 0)
    assert [next(r.path for r in results if r.location == d.docpath) for d in by_arrival] == [
        str(tmp_path / name) for name in ("b.txt", "c.txt", "a.txt", "d.txt")
    ]


async def test_first_alone_reorders_the_sends_only_when_given_sizes() -> None:
    sent: list[int] = []

    async def send(item: int) -> int:
        sent.append(item)
        return item

    assert await first_alone([5, 1, 9, 3], send, True, lambda _result: True) == [5, 1, 9, 3]
    assert sent == [5, 1, 9, 3]
    sent.clear()
    sized = await first_alone([5, 1, 9, 3], send, True, lambda _result: True, size=lambda item: item)
    assert sized == [5, 1, 9, 3]
    assert sent == [1, 9, 5, 3]
