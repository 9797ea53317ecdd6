"""A sync whose server fails *after* the files were sent still returns its report (found by the soak:
the workspace read that precedes the removal of old versions used to raise out of ``sync``, so the
caller lost the report of every file that had been uploaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, NullProgress, sync
from anythingllm_bridge.testing import RunningEmulator
from anythingllm_bridge.testing.faults import FaultInjector


class FailWorkspaceReadsWhenSendingEnds(NullProgress):
    """When the pipeline says sending is over, every read of the workspace starts answering 500."""

    def __init__(self, faults: FaultInjector, slug: str) -> None:
        self.faults, self.slug = faults, slug

    def finish(self) -> None:
        self.faults.add("GET", f"/api/v1/workspace/{self.slug}", status=500, times=None)


async def _no_wait(_: float) -> None:
    return None


async def test_a_failure_after_sending_is_reported_not_raised(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(3):
        (root / f"note-{i}.txt").write_text(f"note number {i}\n")
    manifest = FileManifestStore(tmp_path / "manifest.json")
    async with AnythingLLMClient(emulator.url, emulator.api_key, sleep=_no_wait) as client:
        slug = (await client.create_workspace("After send")).slug
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
