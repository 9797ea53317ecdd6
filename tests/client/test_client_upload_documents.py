"""``upload_documents`` uploads without ``addToWorkspaces`` and embeds in ``update-embeddings``
batches: how many calls, what an answer lost in transit means, and what a cancellation leaves."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.client.resources.embeddings import EMBED_BATCH_BYTES
from support import docpaths, make_client


def make_files(folder: Path, count: int, size: int = 0) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"doc-{index:03d}.txt"
        text = f"Document number {index} talks about topic {index * 7}.\n"
        path.write_text(text * max(1, size // len(text)), encoding="utf-8")
        paths.append(path)
    return paths


def requests_to(emulator: Any, method: str, suffix: str) -> list[Any]:
    return [r for r in emulator.emulator.faults.requests if r.method == method and r.path.endswith(suffix)]


async def test_files_are_embedded_in_batches_and_checked_from_the_answers(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 120)
    results = await emu_client.upload_documents(emu_workspace.slug, files, concurrency=8, embed_batch=50)

    assert [r.path for r in results] == [str(p) for p in files]
    assert all(r.status == "embedded" and r.location for r in results)
    uploads = requests_to(emulator, "POST", "/document/upload")
    assert len(uploads) == 120
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 3  # 50 + 50 + 20
    # the workspace is read once, before uploading; the check uses the batches' answers
    assert len(requests_to(emulator, "GET", f"/workspace/{emu_workspace.slug}")) == 1
    embedded = await docpaths(emu_client, emu_workspace.slug)
    assert sorted(embedded) == sorted(r.location for r in results if r.location)  # each exactly once


async def test_large_files_make_smaller_batches(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 3, size=EMBED_BATCH_BYTES * 3 // 8)  # two fit in a batch, three do not
    results = await emu_client.upload_documents(emu_workspace.slug, files, concurrency=1)
    assert [r.status for r in results] == ["embedded"] * 3
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 2


async def test_a_batch_done_but_its_answer_lost_is_found_embedded_not_sent_again(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    # the server embeds the batch, then the connection breaks in the middle of its answer
    emulator.emulator.faults.add("POST", "/api/v1/workspace/*/update-embeddings", drop="after_headers")
    results = await emu_client.upload_documents(emu_workspace.slug, make_files(tmp_path, 5))
    assert [r.status for r in results] == ["embedded"] * 5
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted(str(r.location) for r in results)


async def test_a_batch_without_an_answer_is_reported_and_never_repeated(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    # no answer at all: the server may still be embedding, so sending it again could duplicate
    emulator.emulator.faults.add("POST", "/api/v1/workspace/*/update-embeddings", drop="before_headers")
    results = await emu_client.upload_documents(emu_workspace.slug, make_files(tmp_path, 4))

    assert [r.status for r in results] == ["not_embedded"] * 4
    for result in results:
        assert result.location
        assert "got no answer" in (result.error or "")
        assert "not sent again" in (result.error or "")
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1
    # what the error advises finishes the job, once each
    locations = [str(r.location) for r in results]
    update = await emu_client.update_embeddings(emu_workspace.slug, adds=locations)
    assert update.ok
    assert sorted(await docpaths(emu_client, emu_workspace.slug)) == sorted(locations)


async def test_a_cancelled_upload_names_the_documents_it_left_unembedded(
    emulator: Any, emu_workspace: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = make_files(tmp_path, 3)
    # the batch is refused once (503, retried after a wait); the caller gives up during that wait
    emulator.emulator.faults.add("POST", "/api/v1/workspace/*/update-embeddings", status=503)
    job: asyncio.Task[Any] | None = None

    async def give_up_while_waiting(delay: float) -> None:
        assert job is not None
        job.cancel()
        await asyncio.Event().wait()

    async with make_client(emulator.url, emulator.api_key, sleep=give_up_while_waiting) as client:
        job = asyncio.create_task(client.upload_documents(emu_workspace.slug, files))
        with (
            caplog.at_level(logging.WARNING, logger="anythingllm_bridge.client"),
            pytest.raises(asyncio.CancelledError),
        ):
            await job
        stored = {doc.location for doc in await client.list_documents()}
        assert await docpaths(client, emu_workspace.slug) == []

    left = stored - {None}
    assert len(left) == 3  # uploaded, in storage, not in the workspace ...
    warnings = [r.getMessage() for r in caplog.records if "may not be embedded" in r.getMessage()]
    assert len(warnings) == 1
    assert all(str(location) in warnings[0] for location in left)  # ... and the log names each one
    assert len(requests_to(emulator, "POST", "/update-embeddings")) == 1


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
