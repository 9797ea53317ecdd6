"""A sync whose server fails *after* the files were sent still returns its report (found by the soak:
the workspace read that precedes the removal of old versions used to raise out of ``sync``, so the
caller lost the report of every file that had been uploaded)."""

from __future__ import annotations

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


class FailWorkspaceReadsWhenSendingEnds(NullProgress):
    """When the pipeline says sending is over, every read of the workspace starts answering 500."""

    def __init__(self, faults: FaultInjector, slug: str) -> None:
        self.faults, self.slug = faults, slug

    def finish(self) -> None:
        self.faults.add("GET", f"/api/v1/workspace/{self.slug}", status=500, times=None)


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[AnythingLLMClient]:
    """Retries without waiting."""
    async with AnythingLLMClient(emulator.url, emulator.api_key, sleep=no_sleep) as c:
        yield c


async def test_a_failure_after_sending_is_reported_not_raised(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(3):
        (root / f"note-{i}.txt").write_text(f"note number {i}\n")
    manifest = FileManifestStore(tmp_path / "manifest.json")
    slug = (await client.create_workspace("After send")).workspace.slug
    first = await sync(client, FolderSource(root), manifest, workspace=slug)
    (root / "note-0.txt").write_text("note number 0, changed\n")  # a replace: old version to remove

    progress = FailWorkspaceReadsWhenSendingEnds(emulator.emulator.faults, slug)
    second = await sync(client, FolderSource(root), manifest, workspace=slug, progress=progress)

    assert second.replaced == ["note-0.txt"]
    assert second.unchanged == ["note-1.txt", "note-2.txt"]
    old = first.outcomes["note-0.txt"].location
    new = second.outcomes["note-0.txt"].location
    emulator.emulator.faults.clear()
    docpaths: Any = (await client.get_workspace(slug)).docpaths
    assert new in docpaths
    assert old in docpaths  # not removed yet: the next sync does it

    third = await sync(client, FolderSource(root), manifest, workspace=slug)
    assert third.failed == {}
    docpaths = (await client.get_workspace(slug)).docpaths
    assert new in docpaths
    assert old not in docpaths


async def test_a_document_re_embedded_after_a_failed_replace_is_not_sent_again(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Found by the soak: an upload cut while the file's document was out of the workspace left the
    manifest entry *pending*; the next run re-embedded the document and reported the file unchanged, yet
    the entry stayed pending, so the run after that uploaded the unchanged file again."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "note.txt").write_text("a note\n")
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    embed = "/api/v1/workspace/*/update-embeddings"
    slug = (await client.create_workspace("Pending")).workspace.slug

    async def run() -> Any:  # one pass per run: each run leaves the state the next one resumes
        return await sync(client, FolderSource(root), manifest, workspace=slug, max_passes=1)

    faults.add("POST", embed, status=500, times=1)  # uploaded, not embedded
    assert "not embedded" in (await run()).failed["note.txt"]
    faults.add("POST", embed, status=500, times=1)  # the re-embed fails, so it is sent again ...
    faults.add("POST", "/api/v1/document/upload", status=500, times=1)  # ... and that upload fails
    assert "note.txt" in (await run()).failed
    third = await run()  # the interrupted replace is finished
    assert third.ok
    assert third.replaced == ["note.txt"]

    faults.clear_requests()
    fourth = await run()
    assert fourth.unchanged == ["note.txt"]
    assert [r.path for r in faults.requests if r.method != "GET"] == []
    docpaths = (await client.get_workspace(slug)).docpaths
    assert docpaths == {third.outcomes["note.txt"].location}
    assert [d.location for d in await client.list_documents()] == [third.outcomes["note.txt"].location]


async def test_a_manifest_that_fails_to_load_does_not_stay_locked(
    client: AnythingLLMClient, tmp_path: Path
) -> None:
    """A sync refused for a corrupt manifest gives the manifest's lock back at once: a later sync (a new
    store, the old one still referenced, e.g. by the kept error's traceback) is not told 'another sync is
    using the manifest'."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "note.txt").write_text("a note\n")
    path = tmp_path / "manifest.json"
    path.write_text("{not json")
    store = FileManifestStore(path)
    slug = (await client.create_workspace("Lock")).workspace.slug
    with pytest.raises(IngestError, match="not valid JSON"):
        await sync(client, FolderSource(root), store, workspace=slug)
    path.unlink()
    report = await sync(client, FolderSource(root), FileManifestStore(path), workspace=slug)
    del store
    assert report.uploaded == ["note.txt"]


async def test_adopting_a_copy_that_was_superseded_keeps_it(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Found by the soak: a cut replace resumed by adoption could adopt an older copy of the same content
    that the manifest already listed as superseded (stale); the copy became current *and* stayed stale,
    so the same run erased the document it had just confirmed, and the next sync uploaded it again."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "note.txt").write_text("a note\n")
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    embed = "/api/v1/workspace/*/update-embeddings"
    slug = (await client.create_workspace("Adopt")).workspace.slug

    async def run() -> Any:  # one pass per run: each run leaves the state the next one resumes
        return await sync(client, FolderSource(root), manifest, workspace=slug, max_passes=1)

    faults.add("POST", embed, status=500, times=1)
    assert "not embedded" in (await run()).failed["note.txt"]  # copy A, not in the workspace
    faults.add("POST", embed, status=500, times=2)
    assert "not embedded" in (await run()).failed["note.txt"]  # copy B replaces A (A now stale)
    faults.add("POST", embed, status=500, times=1)
    faults.add("POST", "/api/v1/document/upload", drop="before_headers", times=1)
    assert "outcome is unknown" in (await run()).failed["note.txt"]  # a third upload, cut: pending
    fourth = await run()  # resumed: adopts a copy of this content
    assert fourth.ok
    kept = fourth.outcomes["note.txt"].location

    faults.clear_requests()
    fifth = await run()
    assert fifth.unchanged == ["note.txt"]
    assert [r.path for r in faults.requests if r.method != "GET"] == []
    assert (await client.get_workspace(slug)).docpaths == {kept}
    assert [d.location for d in await client.list_documents()] == [kept]


class FailEmbeddingUpdatesWhenSendingEnds(NullProgress):
    def __init__(self, faults: FaultInjector) -> None:
        self.faults = faults

    def finish(self) -> None:
        self.faults.add("POST", "/api/v1/workspace/*/update-embeddings", status=500, times=None)


async def test_an_old_version_left_in_the_workspace_is_not_reported_ok(
    client: AnythingLLMClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Found by the soak: when taking the previous version out of the workspace failed, the run still
    reported every file ok although the workspace held both versions until the next sync."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "note.txt").write_text("version one\n")
    manifest = FileManifestStore(tmp_path / "manifest.json")
    faults = emulator.emulator.faults
    slug = (await client.create_workspace("Old version")).workspace.slug
    old = (await sync(client, FolderSource(root), manifest, workspace=slug)).outcomes["note.txt"].location
    (root / "note.txt").write_text("version two\n")
    progress = FailEmbeddingUpdatesWhenSendingEnds(faults)
    second = await sync(client, FolderSource(root), manifest, workspace=slug, progress=progress)
    assert not second.ok
    assert "old version" in second.failed["note.txt"]
    new = second.outcomes["note.txt"].location
    faults.clear()
    assert (await client.get_workspace(slug)).docpaths == {old, new}  # both, for now

    third = await sync(client, FolderSource(root), manifest, workspace=slug)
    assert third.ok
    assert (await client.get_workspace(slug)).docpaths == {new}
    assert [d.location for d in await client.list_documents()] == [new]
