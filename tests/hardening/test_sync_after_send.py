"""A sync whose server fails *after* the files were sent still returns its report, and what one run
leaves half done (a document stored but not embedded, an old version not removed) the next run
finishes without sending anything twice (cases the fault-storm soak found)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, NullProgress, sync
from anythingllm_bridge.testing import RunningEmulator
from anythingllm_bridge.testing.faults import FaultInjector
from support import no_sleep


class FailWorkspaceReadsWhenSendingStarts(NullProgress):
    """Once the sync starts sending, every read of the workspace answers 500."""

    def __init__(self, faults: FaultInjector, slug: str) -> None:
        self.faults, self.slug = faults, slug

    def start(self, files: int, total_bytes: int) -> None:
        self.faults.add("GET", f"/api/v1/workspace/{self.slug}", status=500, times=None)


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[AnythingLLMClient]:
    """Retries without waiting."""
    async with AnythingLLMClient(emulator.url, emulator.api_key, sleep=no_sleep) as c:
        yield c


def notes(tmp_path: Path, count: int) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(count):
        (root / f"note-{i}.txt").write_text(f"note number {i}\n")
    return root


async def test_a_failure_after_sending_is_reported_not_raised(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = notes(tmp_path, 3)
    manifest = FileManifestStore(tmp_path / "manifest.json")
    slug = (await client.create_workspace("After send")).workspace.slug
    first = await sync(client, FolderSource(root), manifest, workspace=slug)
    (root / "note-0.txt").write_text("note number 0, changed\n")  # a replace: an old version to remove

    progress = FailWorkspaceReadsWhenSendingStarts(emulator.emulator.faults, slug)
    second = await sync(client, FolderSource(root), manifest, workspace=slug, progress=progress, max_passes=1)

    assert "could not check the workspace" in second.failed["note-0.txt"]
    assert second.unchanged == ["note-1.txt", "note-2.txt"]
    old = first.outcomes["note-0.txt"].location
    emulator.emulator.faults.clear()
    docpaths = (await client.get_workspace(slug)).docpaths
    assert old in docpaths  # not removed: the run never saw its new version confirmed
    assert len(docpaths) == 4

    third = await sync(client, FolderSource(root), manifest, workspace=slug)
    assert third.failed == {}
    assert third.unchanged == ["note-0.txt", "note-1.txt", "note-2.txt"]  # found by its marker
    assert "1 older copy removed" in third.outcomes["note-0.txt"].detail
    docpaths = (await client.get_workspace(slug)).docpaths
    assert old not in docpaths
    assert len(docpaths) == 3


async def test_a_document_left_out_of_the_workspace_is_embedded_by_the_next_run_not_sent_again(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = notes(tmp_path, 1)
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    slug = (await client.create_workspace("Left out")).workspace.slug

    async def run() -> Any:  # one pass per run: each run leaves the state the next one resumes
        return await sync(client, FolderSource(root), manifest, workspace=slug, max_passes=1)

    faults.lose_embeddings(next_n=1)  # stored, answered 200, not in the workspace ...
    repair = faults.add("POST", "/api/v1/workspace/*/update-embeddings", status=500, times=None)
    assert "not in the workspace" in (await run()).failed["note-0.txt"]  # ... nor after the repair
    faults.remove(repair)
    faults.clear_requests()
    second = await run()
    assert second.ok
    assert second.unchanged == ["note-0.txt"]
    assert second.outcomes["note-0.txt"].detail.startswith("re-embedded")
    assert [r.path for r in faults.requests if r.path == "/api/v1/document/upload"] == []

    faults.clear_requests()
    third = await run()
    assert third.unchanged == ["note-0.txt"]
    assert [r.path for r in faults.requests if r.method != "GET"] == []
    kept = second.outcomes["note-0.txt"].location
    assert (await client.get_workspace(slug)).docpaths == {kept}
    assert [d.location for d in await client.list_documents()] == [kept]


async def test_a_corrupt_cache_only_costs_reading_the_files(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = notes(tmp_path, 2)
    path = tmp_path / "manifest.json"
    slug = (await client.create_workspace("Corrupt cache")).workspace.slug

    def in_state_folder() -> FileManifestStore:  # where the sync keeps its caches by default
        return FileManifestStore(path, own_folder=True)

    first = await sync(client, FolderSource(root), in_state_folder(), workspace=slug)
    path.write_text("{not json")
    with pytest.raises(IngestError, match="is not one"):  # a path the user named: maybe not a cache
        await sync(client, FolderSource(root), FileManifestStore(path), workspace=slug)
    assert path.read_text() == "{not json"
    emulator.emulator.faults.clear_requests()
    second = await sync(client, FolderSource(root), in_state_folder(), workspace=slug)
    assert second.unchanged == first.uploaded
    assert second.warnings == [f"{path} is not valid JSON, not a sync cache; starting a new one"]
    assert [r.path for r in emulator.emulator.faults.requests if r.method != "GET"] == []
    assert json.loads(path.read_text())["format"] == "anythingllm-bridge-manifest"  # written anew
    third = await sync(client, FolderSource(root), in_state_folder(), workspace=slug)  # not locked
    assert third.unchanged == first.uploaded


async def test_stored_copies_of_an_interrupted_upload_are_adopted_once_and_the_rest_deleted(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = notes(tmp_path, 1)
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    slug = (await client.create_workspace("Adopt")).workspace.slug

    async def run() -> Any:  # one pass per run: each run leaves the state the next one resumes
        return await sync(client, FolderSource(root), manifest, workspace=slug, max_passes=1)

    repair = faults.add("POST", "/api/v1/workspace/*/update-embeddings", status=500, times=None)
    faults.lose_embeddings(next_n=1)
    assert "not in the workspace" in (await run()).failed["note-0.txt"]  # copy A: stored only
    listing = faults.add("GET", "/api/v1/documents", status=500, times=None)
    faults.lose_embeddings(next_n=1)
    assert "not in the workspace" in (await run()).failed["note-0.txt"]  # not found, sent: copy B
    faults.remove(repair)
    faults.remove(listing)
    assert len(await client.list_documents()) == 2  # both stored, neither in the workspace

    fourth = await run()  # one stored copy is embedded, the other deleted; nothing is uploaded
    assert fourth.ok
    kept = fourth.outcomes["note-0.txt"].location
    faults.clear_requests()
    fifth = await run()
    assert fifth.unchanged == ["note-0.txt"]
    assert [r.path for r in faults.requests if r.method != "GET"] == []
    assert (await client.get_workspace(slug)).docpaths == {kept}
    assert [d.location for d in await client.list_documents()] == [kept]


async def test_an_old_version_left_in_the_workspace_is_not_reported_ok(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = notes(tmp_path, 1)
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    slug = (await client.create_workspace("Old version")).workspace.slug
    old = (await sync(client, FolderSource(root), manifest, workspace=slug)).outcomes["note-0.txt"].location
    (root / "note-0.txt").write_text("version two\n")
    faults.add("DELETE", "/api/v1/system/remove-documents", status=500, times=None)
    second = await sync(client, FolderSource(root), manifest, workspace=slug, max_passes=2)
    assert not second.ok
    assert "old copies are still in the workspace" in second.failed["note-0.txt"]
    new = second.outcomes["note-0.txt"].location
    faults.clear()
    assert (await client.get_workspace(slug)).docpaths == {old, new}  # both, for now

    third = await sync(client, FolderSource(root), manifest, workspace=slug)
    assert third.ok
    assert (await client.get_workspace(slug)).docpaths == {new}
    assert [d.location for d in await client.list_documents()] == [new]
