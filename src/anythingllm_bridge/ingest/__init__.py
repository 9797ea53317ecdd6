"""Ingestion: sync a folder or a bucket prefix into an AnythingLLM workspace, each valid file once.

``await run_sync(settings, "docs/", workspace="handbook")`` is the whole of ``allm sync`` as a
function (``"s3://bucket/prefix"`` works too); ``await sync(client, source, store, workspace=...)``
does the same with a client and a :class:`Source` you hold. Both return a :class:`SyncReport`.

The workspace is the source of truth: every uploaded document carries a :class:`Marker` (source,
key, content hash) in its ``docSource``, so a new machine, a lost cache or another spelling of the
server's address sends nothing for unchanged files, and syncs running at the same time clean up
each other's duplicates (:mod:`.copies`). The local cache (:class:`FileManifestStore`) only spares
reading unchanged files. ``shard="I/N"`` splits a source over N machines. Documents an older
anythingllm-bridge synced (:class:`LegacyMarker`) are replaced by marked ones, once each.
"""

from __future__ import annotations

from anythingllm_bridge.ingest.copies import Copy, copies_in, newest, surplus
from anythingllm_bridge.ingest.entry import open_source, run_sync
from anythingllm_bridge.ingest.manifest import (
    FileManifestStore,
    Manifest,
    ManifestEntry,
    ManifestStore,
    default_manifest_path,
)
from anythingllm_bridge.ingest.marker import LegacyMarker, Marker
from anythingllm_bridge.ingest.plan import Action, PlanItem, SyncPlan, make_plan, prune_refusal
from anythingllm_bridge.ingest.progress import (
    LineProgress,
    NullProgress,
    Progress,
    RichProgress,
    make_progress,
)
from anythingllm_bridge.ingest.report import FileOutcome, Status, SyncReport, display_key
from anythingllm_bridge.ingest.run import MAX_CONCURRENCY, PruneRefusedError, sync
from anythingllm_bridge.ingest.shard import Shard
from anythingllm_bridge.ingest.source import FolderSource, Listing, Source, SourceFile, StorageSource

__all__ = [
    "MAX_CONCURRENCY",
    "Action",
    "Copy",
    "FileManifestStore",
    "FileOutcome",
    "FolderSource",
    "LegacyMarker",
    "LineProgress",
    "Listing",
    "Manifest",
    "ManifestEntry",
    "ManifestStore",
    "Marker",
    "NullProgress",
    "PlanItem",
    "Progress",
    "PruneRefusedError",
    "RichProgress",
    "Shard",
    "Source",
    "SourceFile",
    "Status",
    "StorageSource",
    "SyncPlan",
    "SyncReport",
    "copies_in",
    "default_manifest_path",
    "display_key",
    "make_plan",
    "make_progress",
    "newest",
    "open_source",
    "prune_refusal",
    "run_sync",
    "surplus",
    "sync",
]
