"""What a sync did: one outcome per file, and the report that gathers them.

Keys are shown as text (:mod:`.keys`): a file name that is not valid UTF-8 (held with surrogate
escapes) is shown with backslash escapes (``caf\\xe9.txt``), in the text report and in ``to_json``
alike, so both can always be printed and the JSON is always valid; control characters in a name are
escaped where people read it (:func:`display_key`) and kept exact in ``to_json`` (JSON escapes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from anythingllm_bridge.ingest.keys import display_key, json_key

__all__ = ["FileOutcome", "Status", "SyncReport", "display_key"]


class Status(StrEnum):
    """What became of one file."""

    UPLOADED = "uploaded"
    """New: its document was uploaded and is in the workspace."""
    REPLACED = "replaced"
    """Changed: its new version is in the workspace, the old one removed."""
    UNCHANGED = "unchanged"
    """The workspace already holds this version."""
    REMOVED = "removed"
    """Gone from the source (``prune``): its document was removed."""
    REJECTED = "rejected"
    """Not a valid file under this run's rules (type, size, content, not a regular file)."""
    FAILED = "failed"
    """Something went wrong (the detail says what); the next run tries again."""


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One file's final outcome: ``status``, why (``detail``), its document's ``location``; for a
    failure, whether it was ``transient`` (the server failing, an answer lost: running the sync
    again may well succeed) or not (a file that cannot be read, a request the server refuses)."""

    key: str
    status: Status
    detail: str = ""
    location: str | None = None
    size: int = 0
    transient: bool = False


@dataclass(slots=True)
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do): one outcome per file."""

    workspace: str
    source: str
    source_id: str
    manifest: str
    shard: str | None = None
    dry_run: bool = False
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    """Files that left the source (or this run's rules) whose documents were kept (no ``prune``)."""
    legacy_kept: int = 0
    """Documents an older anythingllm-bridge synced into the workspace that match no file this run
    sends (another source's, or a file gone or not allowed): left alone."""
    elapsed: float = 0.0
    passes: int = 1
    """How many passes the run took (1 when nothing had to be tried again)."""
    stopped: str | None = None
    """Why the run stopped trying before every file was sent (the server kept failing longer than
    the sync may wait for it), or ``None``."""
    warnings: list[str] = field(default_factory=list)
    """What the sync's user should know that is no file's outcome: the cache could not be written,
    another sync holds it, a pass could not start, the workspace holds the same files from another
    source id... (each also shown by the progress display as it happens)."""

    def keys(self, status: Status | str) -> list[str]:
        """The keys with this outcome, sorted."""
        return sorted(k for k, o in self.outcomes.items() if o.status == status)

    def details(self, status: Status | str) -> dict[str, str]:
        """Key → detail for the files with this outcome."""
        return {k: self.outcomes[k].detail for k in self.keys(status)}

    @property
    def uploaded(self) -> list[str]:
        """Keys of new files, uploaded."""
        return self.keys(Status.UPLOADED)

    @property
    def replaced(self) -> list[str]:
        """Keys of changed files, replaced."""
        return self.keys(Status.REPLACED)

    @property
    def unchanged(self) -> list[str]:
        """Keys of files the workspace already held."""
        return self.keys(Status.UNCHANGED)

    @property
    def removed(self) -> list[str]:
        """Keys whose documents were removed (``prune``)."""
        return self.keys(Status.REMOVED)

    @property
    def rejected(self) -> dict[str, str]:
        """Key → why the file is not valid."""
        return self.details(Status.REJECTED)

    @property
    def failed(self) -> dict[str, str]:
        """Key → what went wrong."""
        return self.details(Status.FAILED)

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was rejected (the CLI exits 1 otherwise)."""
        return not self.failed and not self.rejected

    def counts(self) -> dict[str, int]:
        """How many files had each outcome (every status, zeros included)."""
        counts = {status.value: 0 for status in Status}
        for outcome in self.outcomes.values():
            counts[outcome.status.value] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (keys as :func:`.keys.json_key` writes them)."""

        def shown(keys: list[str]) -> list[str]:
            return [json_key(k) for k in keys]

        def shown_details(details: dict[str, str]) -> dict[str, str]:
            return {json_key(k): json_key(v) for k, v in details.items()}

        return {
            "workspace": self.workspace,
            "source": json_key(self.source),
            "source_id": json_key(self.source_id),
            "shard": self.shard,
            "manifest": json_key(self.manifest),
            "dry_run": self.dry_run,
            "uploaded": shown(self.uploaded),
            "replaced": shown(self.replaced),
            "unchanged": shown(self.unchanged),
            "removed": shown(self.removed),
            "rejected": shown_details(self.rejected),
            "failed": shown_details(self.failed),
            "gone": shown(self.gone),
            "legacy_kept": self.legacy_kept,
            "counts": self.counts(),
            "locations": {json_key(k): o.location for k, o in sorted(self.outcomes.items()) if o.location},
            "elapsed": round(self.elapsed, 3),
            "passes": self.passes,
            "stopped": self.stopped,
            "warnings": [json_key(warning) for warning in self.warnings],
        }
