"""Decide what a sync has to do (pure logic, no network, no file reading).

The input is what the workspace holds (our documents, by key: :func:`.copies.copies_in`), the
files of the source that this run's rules allow, and their content hashes where a decision needs
them. Per key:

* no copy in the workspace → :attr:`Action.UPLOAD`;
* the newest copy has the file's content → :attr:`Action.UNCHANGED` (older copies, duplicates
  a race left, are removed after the run's uploads: see :mod:`.copies`);
* otherwise → :attr:`Action.REPLACE` (upload, then remove the older copies). A key whose only
  copies an older anythingllm-bridge synced (legacy copies, see :mod:`.copies`) is replaced even
  when their content is the file's: the upload gives the workspace a copy with the marker every
  later sync reads, and the legacy copies are removed only once that copy is confirmed
  (:data:`REMARKED` says so in the report);
* copies whose key left the source, or is no longer allowed by this run's rules →
  :attr:`Action.REMOVE` with ``prune``, otherwise only reported (``gone``). A key the source
  could not say anything about (an unreadable folder or file) is neither, and legacy copies never
  are (they are only ever replaced by a file this run sends).

:func:`prune_refusal` is the guard that keeps a prune from mistaking absence for deletion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from anythingllm_bridge.ingest.copies import Copy, newest
from anythingllm_bridge.ingest.source import SourceFile

__all__ = ["REMARKED", "Action", "PlanItem", "SyncPlan", "make_plan", "prune_refusal"]

#: Why a file whose only copies an older anythingllm-bridge synced is sent although unchanged.
REMARKED = "re-marked (synced by an older anythingllm-bridge)"


class Action(StrEnum):
    """What a sync does with one key."""

    UPLOAD = "upload"
    REPLACE = "replace"
    UNCHANGED = "unchanged"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One thing to do: ``action`` for ``key`` (why: ``reason``), with the file (none for a
    removal), its content hash when planning knew it, and our copies of it in the workspace."""

    action: Action
    key: str
    reason: str
    file: SourceFile | None = None
    sha256: str | None = None
    copies: tuple[Copy, ...] = ()

    @property
    def size(self) -> int:
        """The file's size in bytes (0 for a removal or an unknown size)."""
        return max(self.file.size, 0) if self.file else 0


@dataclass(slots=True)
class SyncPlan:
    """Every decision of a run, sorted by key, and the keys it only reports."""

    items: list[PlanItem] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Keys whose copies stay although their file left the source (or this run's rules): no prune."""

    def of(self, action: Action) -> list[PlanItem]:
        """The items with this action."""
        return [item for item in self.items if item.action is action]

    @property
    def to_send(self) -> list[PlanItem]:
        """The items whose file is sent (uploads and replacements)."""
        return [i for i in self.items if i.action in (Action.UPLOAD, Action.REPLACE)]


def make_plan(
    files: Sequence[SourceFile],
    hashes: Mapping[str, str],
    ours: Mapping[str, Sequence[Copy]],
    *,
    prune: bool = False,
    rejected: Mapping[str, str] | None = None,
    unknown: Callable[[str], bool] = lambda key: False,
) -> SyncPlan:
    """Decide, per key (see the module documentation).

    ``files`` are the files this run's rules allow; ``hashes`` the content hash of each of them
    that has copies in the workspace (``ValueError`` when one is missing: the decision needs it);
    ``ours`` our copies by key; ``rejected`` the listed files this run's rules refuse (key →
    reason); ``unknown(key)`` says the source could not tell whether ``key`` is gone.
    """
    rejected = rejected or {}
    plan = SyncPlan()
    listed = set()
    for file in files:
        listed.add(file.key)
        copies = tuple(ours.get(file.key, ()))
        sha = hashes.get(file.key)
        if not copies:
            plan.items.append(PlanItem(Action.UPLOAD, file.key, "new", file, sha))
            continue
        if sha is None:
            raise ValueError(f"{file.key!r} has copies in the workspace but no content hash to compare")
        latest = newest(copies)
        if latest is not None and latest.legacy:
            reason = REMARKED if latest.sha256 == sha else "content changed"
            plan.items.append(PlanItem(Action.REPLACE, file.key, reason, file, sha, copies))
        elif latest is not None and latest.sha256 == sha:
            plan.items.append(PlanItem(Action.UNCHANGED, file.key, "unchanged", file, sha, copies))
        else:
            newer = any(c.sha256 == sha and not c.legacy for c in copies)
            reason = "another version is newer in the workspace" if newer else "content changed"
            plan.items.append(PlanItem(Action.REPLACE, file.key, reason, file, sha, copies))
    for key, found in ours.items():
        held = [copy for copy in found if not copy.legacy]  # a legacy copy is only ever replaced
        if key in listed or unknown(key) or not held:
            continue
        reason = f"no longer allowed: {rejected[key]}" if key in rejected else "file removed from the source"
        if prune:
            plan.items.append(PlanItem(Action.REMOVE, key, reason, copies=tuple(held)))
        else:
            plan.gone.append(key)
    plan.items.sort(key=lambda item: item.key)
    plan.gone.sort()
    return plan


def prune_refusal(
    plan: SyncPlan, held: int, *, source_empty: bool, max_delete: int | None, where: str
) -> str | None:
    """Why the plan's removals must not go ahead, or ``None`` when they may.

    ``held``: how many keys the sync has documents for (in its shard); ``source_empty``: the
    source listed no file at all; ``max_delete``: how many removals the user allows (``None``:
    any number up to half of ``held``, and none when the source is empty). ``where`` names the
    workspace. The reason says what the prune would do and why that looks wrong; what the user
    can do about it is the caller's to say (a keyword, an option).
    """
    removing = len(plan.of(Action.REMOVE))
    if removing == 0:
        return None
    if max_delete is not None:
        if removing <= max_delete:
            return None
        limit = f"more than the {max_delete} allowed"
    elif source_empty:
        limit = "the source lists no file at all"
    elif removing * 2 > held:
        limit = "more than half of them"
    else:
        return None
    return (
        f"prune would remove the documents of {removing} of the {held} file(s) this sync has in "
        f"{where} ({limit})"
    )
