"""Ingestion: sync a local folder or a storage prefix into an AnythingLLM workspace.

``sync(client, source, store, workspace=...)`` validates, archives, uploads, embeds and verifies
each file, keeps a manifest so a second run sends nothing unchanged, and returns a ``SyncReport``.
"""

from __future__ import annotations

from anythingllm_bridge.ingest.manifest import (
    FileManifestStore,
    Manifest,
    ManifestEntry,
    StorageManifestStore,
)
from anythingllm_bridge.ingest.pipeline import FileOutcome, SyncReport, marker_for, sync
from anythingllm_bridge.ingest.plan import Action, PlanItem, SyncPlan, make_plan
from anythingllm_bridge.ingest.progress import (
    LineProgress,
    NullProgress,
    Progress,
    RichProgress,
    make_progress,
)
from anythingllm_bridge.ingest.source import FolderSource, Source, SourceFile, StorageSource

__all__ = [
    "Action",
    "FileManifestStore",
    "FileOutcome",
    "FolderSource",
    "LineProgress",
    "Manifest",
    "ManifestEntry",
    "NullProgress",
    "PlanItem",
    "Progress",
    "RichProgress",
    "Source",
    "SourceFile",
    "StorageManifestStore",
    "StorageSource",
    "SyncPlan",
    "SyncReport",
    "make_plan",
    "make_progress",
    "marker_for",
    "sync",
]
