"""Embedding is verified: update_embeddings, and uploads that the server answers 200 but drops
(the emulator's ``lose_embeddings`` reproduces what a real 1.16.0 did under load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import (
    AnythingLLMClient,
    ChunkMetadata,
    DocumentChunk,
    ProcessedDocument,
    Workspace,
)
from anythingllm_bridge.errors import AnythingLLMEmbeddingError, AnythingLLMNotFoundError
from support import Server, make_client


def make_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"doc-{index:02d}.txt"
        # all of one size: uploads into a fresh workspace go in input order (otherwise largest first)
        path.write_text(f"Document number {index:03d} talks about topic {index * 7:04d}.\n", encoding="utf-8")
        paths.append(path)
    return paths


def embed_posts(emulator: Any) -> list[Any]:
    return [r for r in emulator.emulator.faults.requests if r.path.endswith("/update-embeddings")]


async def test_update_embeddings_adds_skips_and_removes(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    first = await client.upload_file(make_files(tmp_path, 1)[0])
    second = await client.upload_text("Second", "second text")
    server.created_documents += [first.location, second.location]

    update = await client.update_embeddings(workspace.slug, adds=[first.location, second.location])
    assert update.added == [first.location, second.location]
    assert update.ok

    again = await client.update_embeddings(workspace.slug, adds=[first.location])
    assert again.skipped == [first.location]  # not sent twice: that would duplicate vectors
    assert again.added == []
    docpaths = [doc.docpath for doc in await client.list_workspace_documents(workspace.slug)]
    assert sorted(docpaths) == sorted([first.location, second.location])

    removed = await client.delete_document(workspace.slug, first.location)
    assert removed.removed == [first.location]
    assert (await client.get_workspace(workspace.slug)).docpaths == {second.location}
    # the file itself stays in storage
    assert first.location in {doc.location for doc in await client.list_documents()}


async def test_update_embeddings_reports_locations_that_did_not_land(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    # The most common mistake: the original file name instead of the returned location.
    update = await client.update_embeddings(workspace.slug, adds=["custom-documents/notes.txt"])
    assert update.missing == ["custom-documents/notes.txt"]
    assert update.ok is False
    with pytest.raises(AnythingLLMEmbeddingError) as caught:
        update.raise_for_missing()
    assert caught.value.missing == ["custom-documents/notes.txt"]
    assert caught.value.workspace == workspace.slug


async def test_update_embeddings_on_unknown_workspace_is_not_found(client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMNotFoundError):
        await client.update_embeddings("no-such-workspace-xyz", adds=["custom-documents/x.json"])


async def test_update_embeddings_needs_something_to_do(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await client.update_embeddings(workspace.slug)


async def test_upload_file_repairs_a_dropped_embedding(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    emulator.emulator.faults.lose_embeddings(next_n=1)
    result = await emu_client.upload_file(make_files(tmp_path, 1)[0], workspaces=emu_workspace.slug)
    assert result.success is True  # the server said 200, left it out, and the client embedded it again
    assert result.missing_from == []
    assert result.location in (await emu_client.get_workspace(emu_workspace.slug)).docpaths
    assert len(embed_posts(emulator)) == 1


async def test_upload_file_notices_an_embedding_the_repair_could_not_make(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    emulator.emulator.faults.lose_embeddings(next_n=1)
    emulator.emulator.faults.add(  # and the repair is refused
        "POST", "/api/v1/workspace/*/update-embeddings", status=400, body={"error": "refused"}, times=1
    )
    result = await emu_client.upload_file(make_files(tmp_path, 1)[0], workspaces=emu_workspace.slug)
    assert result.success is True  # the server said 200 ...
    assert result.missing_from == [emu_workspace.slug]  # ... but the document is not there
    assert result.location not in (await emu_client.get_workspace(emu_workspace.slug)).docpaths
    with pytest.raises(AnythingLLMEmbeddingError):
        result.raise_for_missing()


async def test_upload_documents_repairs_dropped_embeddings(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 12)
    # the server answers 200 to three uploads yet leaves their documents out of the workspace
    emulator.emulator.faults.lose_embeddings(next_n=3)
    results = await emu_client.upload_documents(emu_workspace.slug, files)

    assert [r.path for r in results] == [str(p) for p in files]
    statuses = [r.status for r in results]
    assert statuses.count("repaired") == 3
    assert statuses.count("embedded") == 9
    assert all(r.ok and r.location for r in results)
    workspace = await emu_client.get_workspace(emu_workspace.slug)
    docpaths = [doc.docpath for doc in workspace.documents]
    assert sorted(docpaths) == sorted(r.location for r in results if r.location)  # all there, none twice
    assert len(embed_posts(emulator)) == 1  # one repair call, only for the three missing
    uploads = [r for r in emulator.emulator.faults.requests if r.path == "/api/v1/document/upload"]
    assert len(uploads) == 12


async def test_upload_documents_reports_what_stays_missing(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 4)
    # seed 0 at one half, one upload at a time: the last two uploads lose their document, the repair
    # of those two loses the last one again
    emulator.emulator.faults.lose_embeddings(fraction=0.5, seed=0, update_embeddings=True)
    results = await emu_client.upload_documents(emu_workspace.slug, files, concurrency=1)
    statuses = [r.status for r in results]
    assert statuses == ["embedded", "embedded", "repaired", "not_embedded"]
    lost = results[3]
    assert lost.location
    assert "after one repair" in (lost.error or "")
    assert lost.location not in (await emu_client.get_workspace(emu_workspace.slug)).docpaths
    assert len(embed_posts(emulator)) == 1


async def test_upload_documents_reports_a_failed_repair(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 4)
    emulator.emulator.faults.lose_embeddings(next_n=4)
    emulator.emulator.faults.add("POST", "/api/v1/workspace/*/update-embeddings", status=500, times=None)
    results = await emu_client.upload_documents(emu_workspace.slug, files)
    # uploaded (each has its location, to embed later or remove), but not embedded, and why
    assert [r.status for r in results] == ["not_embedded"] * 4
    for result in results:
        assert result.location
        assert "repair failed" in (result.error or "")
    assert len(embed_posts(emulator)) == 1  # one repair: no endless retrying
    stored = {doc.location for doc in await emu_client.list_documents()}
    assert {r.location for r in results} <= stored


def assert_at_most(limit: int, arrivals: list[float], latency: float) -> None:
    """Every answer takes at least ``latency``; with at most ``limit`` requests in flight the request
    ``k + limit`` can only arrive after request ``k`` was answered (a causal bound, not a timing goal)."""
    arrivals = sorted(arrivals)
    assert len(arrivals) > limit
    for k in range(len(arrivals) - limit):
        assert arrivals[k + limit] - arrivals[k] >= latency


async def test_upload_documents_reports_bad_files_and_bounds_concurrency(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 6)
    missing = tmp_path / "gone.txt"
    emulator.emulator.faults.add("POST", "/api/v1/document/upload", latency=0.05, times=None)
    async with make_client(emulator.url, emulator.api_key, max_connections_per_host=50) as wide:
        results = await wide.upload_documents(emu_workspace.slug, [*files, missing], concurrency=2)
    assert results[-1].status == "failed"
    assert "does not exist" in (results[-1].error or "")
    assert all(r.status == "embedded" for r in results[:-1])
    uploads = [r for r in emulator.emulator.faults.requests if r.path == "/api/v1/document/upload"]
    assert len(uploads) == 6
    assert_at_most(2, [r.at for r in uploads], 0.05)


async def test_upload_documents_to_unknown_workspace_uploads_nothing(
    emu_client: AnythingLLMClient, emulator: Any, tmp_path: Path
) -> None:
    with pytest.raises(AnythingLLMNotFoundError):
        await emu_client.upload_documents("no-such-workspace-xyz", make_files(tmp_path, 2))
    assert not [r for r in emulator.emulator.faults.requests if r.path == "/api/v1/document/upload"]


async def test_upload_documents_with_metadata_per_file(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    files = make_files(tmp_path, 2)
    results = await client.upload_documents(
        workspace.slug, files, metadata=lambda path: {"title": f"Title of {path.stem}", "docAuthor": "Batch"}
    )
    server.created_documents += [r.location for r in results if r.location]
    assert [r.document.title for r in results if r.document] == ["Title of doc-00", "Title of doc-01"]


def processed(count: int) -> ProcessedDocument:
    return ProcessedDocument(
        id="handbook-1",
        title="Observatory Handbook",
        technology="astronomy",
        source_url="https://example.com/handbook",
        metadata={"docAuthor": "Dr. Marsh"},
        chunks=[
            DocumentChunk(
                id=f"c{index}",
                chunk_index=index,
                content=f"Chapter {index}: the telescope number {index} points at star {index * 11}.",
                metadata={"description": f"chapter {index}"},
            )
            for index in range(count)
        ],
    )


async def test_upload_document_sends_every_chunk_with_its_metadata(
    client: AnythingLLMClient, server: Server, workspace: Workspace
) -> None:
    document = processed(7)
    report = await client.upload_document(workspace.slug, document)
    server.created_documents += list(report.locations.values())
    assert report.document_id == "handbook-1"
    assert report.workspace_slug == workspace.slug
    assert report.total_chunks == 7
    assert report.successful_uploads == 7
    assert report.failed_uploads == 0
    assert report.uploaded_chunk_ids == [f"c{i}" for i in range(7)]
    assert report.failed_chunk_ids == []
    assert report.errors == []
    embedded = {doc.docpath: doc for doc in await client.list_workspace_documents(workspace.slug)}
    assert set(embedded) == set(report.locations.values())
    chunk = embedded[report.locations["c3"]]
    assert chunk.metadata["docAuthor"] == "Dr. Marsh"
    assert chunk.metadata["description"] == "chapter 3"
    assert chunk.chunk_metadata == ChunkMetadata(
        chunk_id="c3",
        chunk_index=3,
        total_chunks=7,
        document_id="handbook-1",
        document_title="Observatory Handbook",
        technology="astronomy",
        source_url="https://example.com/handbook",
    )
    hits = await client.search_workspace(workspace.slug, "telescope number 3", limit=7, score_threshold=0)
    assert {hit.chunk_metadata.chunk_id for hit in hits if hit.chunk_metadata} == {f"c{i}" for i in range(7)}

    removed = await client.delete_document(workspace.slug, "handbook-1")  # every chunk, by the caller's id
    assert removed
    assert sorted(removed.removed) == sorted(report.locations.values())
    assert await client.list_workspace_documents(workspace.slug) == []
    assert await client.delete_document(workspace.slug, "handbook-1")  # already out: still true


async def test_upload_document_reports_failed_and_repaired_chunks(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    faults = emulator.emulator.faults
    faults.add(
        "POST", "/api/v1/document/raw-text", status=422, body={"success": False, "error": "nope"}, times=2
    )
    faults.lose_embeddings(next_n=1)
    report = await emu_client.upload_document(emu_workspace.slug, processed(12))
    assert report.total_chunks == 12
    assert report.failed_uploads == 2
    assert report.successful_uploads == 10  # the lost embedding was repaired
    assert len(report.errors) == 2
    assert all("nope" in error for error in report.errors)
    assert sorted(report.uploaded_chunk_ids + report.failed_chunk_ids) == sorted(f"c{i}" for i in range(12))
    raw = [r for r in faults.requests if r.path == "/api/v1/document/raw-text"]
    assert len(raw) == 12


async def test_upload_document_sends_at_most_five_chunks_at_once(
    emulator: Any, emu_workspace: Workspace
) -> None:
    faults = emulator.emulator.faults
    faults.add("POST", "/api/v1/document/raw-text", latency=0.05, times=None)
    # a client allowed far more than 5 connections: the bound must come from upload_document
    async with make_client(
        emulator.url, emulator.api_key, max_concurrency=50, max_connections_per_host=50
    ) as wide:
        report = await wide.upload_document(emu_workspace.slug, processed(12))
    assert report.successful_uploads == 12
    raw = [r.at for r in faults.requests if r.path == "/api/v1/document/raw-text"]
    assert_at_most(5, raw, 0.05)


async def test_upload_document_rejects_duplicate_chunk_ids(
    emu_client: AnythingLLMClient, emu_workspace: Workspace
) -> None:
    document = processed(2)
    document.chunks[1].id = document.chunks[0].id
    with pytest.raises(ValueError, match="duplicate chunk ids"):
        await emu_client.upload_document(emu_workspace.slug, document)


async def test_upload_document_makes_a_missing_workspace_and_reuses_it(emulator: Any) -> None:
    async with make_client(emulator.url, emulator.api_key) as client:
        first = await client.upload_document("observatory-docs", processed(2))
        again = await client.upload_document("observatory-docs", processed(2))
        workspaces = [w.slug for w in await client.list_workspaces()]
        documents = await client.list_workspace_documents("observatory-docs")
    assert (first.workspace_slug, first.successful_uploads) == ("observatory-docs", 2)
    assert (again.workspace_slug, again.successful_uploads) == ("observatory-docs", 2)
    assert workspaces == ["observatory-docs"]  # made once, then found
    assert len(documents) == 4


def raw_text_posts(emulator: Any) -> int:
    return sum(1 for r in emulator.emulator.faults.requests if r.path == "/api/v1/document/raw-text")


@pytest.mark.parametrize(
    ("drop", "sends"),
    [("after_headers", 3), ("before_headers", 4)],
    ids=["stored, answer lost: found by its marker", "not stored: sent again"],
)
async def test_a_chunk_whose_answer_was_lost_is_looked_for_before_it_is_sent_again(
    emulator: Any, emu_client: AnythingLLMClient, emu_workspace: Workspace, drop: str, sends: int
) -> None:
    await emu_client.upload_document(emu_workspace.slug, processed(3))  # an earlier upload, same ids
    before = raw_text_posts(emulator)
    emulator.emulator.faults.add("POST", "/api/v1/document/raw-text", drop=drop, times=1)
    report = await emu_client.upload_document(emu_workspace.slug, processed(3))
    assert (report.successful_uploads, report.failed_chunk_ids) == (3, [])
    assert raw_text_posts(emulator) - before == sends
    stored = (await emu_client.list_folder("custom-documents")).documents
    assert len(stored) == 6  # each chunk once per upload_document call: no duplicate
    assert set(report.locations.values()) <= {d.location for d in stored}
    assert len(set(report.locations.values())) == 3


async def test_a_chunk_never_stored_is_sent_three_times_then_reported(
    emulator: Any, emu_client: AnythingLLMClient, emu_workspace: Workspace
) -> None:
    emulator.emulator.faults.add("POST", "/api/v1/document/raw-text", drop="before_headers", times=None)
    report = await emu_client.upload_document(emu_workspace.slug, processed(1))
    assert (report.successful_uploads, report.failed_chunk_ids) == (0, ["c0"])
    assert raw_text_posts(emulator) == 3
    assert "sent 3 times, never stored" in report.errors[0]
