"""Which copies of a file's document stay when there are several (pure logic, no network).

Syncs of one source that run at the same time (on separate machines, each with its own cache) can
each upload the same file; a file that changes while they run can leave two versions. Every sync
cleans up after itself, and they must agree without talking to each other, and never remove the
last copy between them. One rule does both:

* every copy of a key is ordered by when it entered the workspace (the listing's ``createdAt``),
  ties broken by ``docpath`` — the same order for every sync that sees the same copies;
* a sync holding content ``sha256`` for a key keeps the newest copy with that content (its
  *keeper*) and removes only copies *older* than its keeper, seen in the same listing.

A removal always points from a copy to a newer one, so the newest copy of a key there ever was is
never removed by anyone: whatever the syncs see and whenever they act, one copy survives. And
the sync whose copy landed last sees every older copy in the listing it takes after its uploads,
so it removes them: the workspace ends with one copy per file.

A file is unchanged when the newest copy of its key has its content; otherwise it is sent again
(its new copy is then the newest), so an older version that a slower sync left behind is replaced.

A document an older anythingllm-bridge synced (a :class:`.marker.LegacyMarker`) whose key hash is
that of a file this sync sends is a *legacy copy* of that file. Legacy copies come before every
marked copy in the order, whenever they entered the workspace, and are never a keeper: a sync
removes one only once a copy with its own marker is there to keep, so the rule above, and its
proof, stand as they are (every sync migrating the same legacy copy keeps the same newest marked
copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from anythingllm_bridge.ingest.marker import LegacyMarker, Marker

if TYPE_CHECKING:
    from anythingllm_bridge.client.models import WorkspaceDocument

__all__ = ["Copy", "copies_in", "legacy_in", "newest", "surplus"]


@dataclass(frozen=True, slots=True)
class Copy:
    """One document of a key in the workspace: where it is, what content, since when (seconds
    since the epoch; ``None`` when the listing does not say), and whether an older
    anythingllm-bridge synced it (``legacy``)."""

    docpath: str
    sha256: str
    created: float | None = None
    legacy: bool = False

    @classmethod
    def from_listing(cls, docpath: str, sha256: str, created_at: object, *, legacy: bool = False) -> Copy:
        """A copy from a workspace listing row (``createdAt`` parsed or left as the server sent it)."""
        created = created_at.timestamp() if isinstance(created_at, datetime) else None
        return cls(docpath, sha256, created, legacy)

    @property
    def order(self) -> tuple[bool, float, str]:
        """Its place among the copies of a key: older first (legacy copies before all others)."""
        return (not self.legacy, self.created if self.created is not None else float("-inf"), self.docpath)


def newest(copies: Iterable[Copy]) -> Copy | None:
    """The copy that entered the workspace last (``None`` for none)."""
    return max(copies, key=lambda copy: copy.order, default=None)


def surplus(copies: Sequence[Copy], sha256: str) -> list[Copy]:
    """The copies a sync holding content ``sha256`` removes: every copy older than the newest marked
    one with that content. None when no marked copy has that content (a sync removes nothing it has
    not seen kept)."""
    keeper = newest(copy for copy in copies if copy.sha256 == sha256 and not copy.legacy)
    if keeper is None:
        return []
    return [copy for copy in copies if copy.order < keeper.order]


def copies_in(
    documents: Iterable[WorkspaceDocument],
    *,
    source: str,
    workspace: str,
    wanted: Callable[[str], bool] = lambda key: True,
    legacy: Mapping[str, str] | None = None,
) -> dict[str, list[Copy]]:
    """The documents of a workspace listing that a sync of ``source`` into ``workspace`` uploaded
    (by their marker), by key (oldest first), for the keys ``wanted`` accepts (its shard); and,
    given ``legacy`` (key hash → key, see :meth:`.LegacyMarker.hash_key`), the documents an older
    anythingllm-bridge synced for those keys, as legacy copies. Every other document (no marker,
    another source, uploaded for another workspace, a legacy key hash not in ``legacy``) is not
    ours and never touched. A document listed twice (embedded twice) counts once, at its newest
    row."""
    found: dict[str, dict[str, Copy]] = {}
    for document in documents:
        doc_source = document.metadata.get("docSource")
        marker = Marker.parse(doc_source)
        if marker is not None:
            if marker.source != source or marker.workspace != workspace:
                continue
            key, copy = marker.key, Copy.from_listing(document.docpath, marker.sha256, document.created_at)
        else:
            old = LegacyMarker.parse(doc_source) if legacy else None
            if old is None or legacy is None or old.key_hash not in legacy:
                continue
            key = legacy[old.key_hash]
            copy = Copy.from_listing(document.docpath, old.sha256, document.created_at, legacy=True)
        if wanted(key):
            by_path = found.setdefault(key, {})
            # one document embedded twice is still one copy (removing it would remove both rows)
            seen = by_path.get(copy.docpath)
            by_path[copy.docpath] = copy if seen is None or copy.order > seen.order else seen
    return {key: sorted(by_path.values(), key=lambda copy: copy.order) for key, by_path in found.items()}


def legacy_in(documents: Iterable[WorkspaceDocument], *, skip: Callable[[str], bool]) -> set[str]:
    """The docpaths of the documents in a workspace listing that an older anythingllm-bridge
    synced, except those whose key hash ``skip`` accepts."""
    found: set[str] = set()
    for document in documents:
        old = LegacyMarker.parse(document.metadata.get("docSource"))
        if old is not None and not skip(old.key_hash):
            found.add(document.docpath)
    return found
