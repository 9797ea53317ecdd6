"""Decide what a sync has to do: compare the source with the manifest (pure logic, no network).

A file whose size and mtime (or storage checksum) match the manifest is unchanged and is not read
at all. Otherwise its content hash decides: same hash → unchanged (only the manifest's stamp is
refreshed), different → replace. Files the manifest does not know are uploaded; manifest entries
whose file is gone are removed with ``prune`` and otherwise only reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from anythingllm_bridge.ingest.manifest import Manifest, ManifestEntry
from anythingllm_bridge.ingest.source import SourceFile

__all__ = ["Action", "PlanItem", "SyncPlan", "make_plan"]


class Action(StrEnum):
    UPLOAD = "upload"
    REPLACE = "replace"
    UNCHANGED = "unchanged"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One thing to do. ``sha256`` is the content hash when planning had to compute it."""

    action: Action
    key: str
    reason: str
    file: SourceFile | None = None
    entry: ManifestEntry | None = None
    sha256: str | None = None

    @property
    def size(self) -> int:
        return self.file.size if self.file else 0


@dataclass(slots=True)
class SyncPlan:
    items: list[PlanItem] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Keys whose file left the source; kept in the workspace because ``prune`` was off."""
    cleanup: list[ManifestEntry] = field(default_factory=list)
    """Entries with older locations still to be removed (left over from an interrupted run)."""

    def of(self, action: Action) -> list[PlanItem]:
        return [item for item in self.items if item.action is action]

    @property
    def to_send(self) -> list[PlanItem]:
        return [i for i in self.items if i.action in (Action.UPLOAD, Action.REPLACE)]

    def counts(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for item in self.items:
            counts[item.action.value] += 1
        counts["gone"] = len(self.gone)
        return counts


def stamp_matches(file: SourceFile, entry: ManifestEntry) -> bool:
    """True when the file is certainly the recorded version without reading it."""
    if file.size != entry.size or not entry.sha256:
        return False
    if file.mtime_ns is not None and file.mtime_ns == entry.mtime_ns:
        return True
    return file.etag is not None and file.etag == entry.etag


async def make_plan(
    files: Sequence[SourceFile],
    manifest: Manifest,
    hasher: Callable[[SourceFile], Awaitable[str]],
    *,
    prune: bool = False,
    workspace_docpaths: Collection[str] | None = None,
    hash_concurrency: int = 8,
) -> SyncPlan:
    """Compare ``files`` with ``manifest``.

    ``hasher`` is called only for files whose stamp differs from the manifest's. When
    ``workspace_docpaths`` (the workspace's current documents) is given, a recorded document that
    is no longer in the workspace is sent again.
    """
    plan = SyncPlan()
    to_hash: list[tuple[SourceFile, ManifestEntry]] = []
    present = set()
    for file in files:
        present.add(file.key)
        entry = manifest.entries.get(file.key)
        if entry is None or entry.location is None:
            reason = "interrupted upload, resumed" if entry is not None and entry.pending else "new"
            plan.items.append(PlanItem(Action.UPLOAD, file.key, reason, file=file, entry=entry))
        elif workspace_docpaths is not None and entry.location not in workspace_docpaths:
            plan.items.append(
                PlanItem(Action.REPLACE, file.key, "missing from the workspace", file=file, entry=entry)
            )
        elif entry.pending:
            plan.items.append(
                PlanItem(Action.REPLACE, file.key, "interrupted replace, resumed", file=file, entry=entry)
            )
        elif stamp_matches(file, entry):
            plan.items.append(PlanItem(Action.UNCHANGED, file.key, "unchanged", file=file, entry=entry))
        else:
            to_hash.append((file, entry))

    gate = asyncio.Semaphore(hash_concurrency)

    async def hashed(file: SourceFile) -> str:
        async with gate:
            return await hasher(file)

    digests = await asyncio.gather(*(hashed(file) for file, _ in to_hash))
    for (file, entry), digest in zip(to_hash, digests, strict=True):
        if digest == entry.sha256:
            plan.items.append(
                PlanItem(Action.UNCHANGED, file.key, "touched", file=file, entry=entry, sha256=digest)
            )
        else:
            plan.items.append(
                PlanItem(Action.REPLACE, file.key, "content changed", file=file, entry=entry, sha256=digest)
            )

    for key, entry in manifest.entries.items():
        if entry.stale:
            plan.cleanup.append(entry)
        if key in present:
            continue
        if prune:
            plan.items.append(PlanItem(Action.REMOVE, key, "file removed from the source", entry=entry))
        elif entry.location or entry.pending:
            plan.gone.append(key)
    plan.items.sort(key=lambda item: item.key)
    plan.gone.sort()
    return plan
