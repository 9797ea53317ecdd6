"""The one entry point from settings: ``run_sync(settings, "s3://bucket/docs", workspace="handbook")``.

What ``allm sync``, ``allm demo`` and library users share: turn the source argument into a
:class:`.source.Source` (a folder path, or ``s3://bucket/prefix`` read with the S3 settings),
choose the cache file, build a client allowed as many calls at once as the sync sends files, run
:func:`.run.sync`, and close everything it opened.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest.manifest import FileManifestStore, default_manifest_path
from anythingllm_bridge.ingest.run import ARCHIVE_PREFIX, refuse_writes_into, sync
from anythingllm_bridge.ingest.shard import Shard
from anythingllm_bridge.ingest.source import FolderSource, Source, StorageSource, folder_location

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.ingest.progress import Progress
    from anythingllm_bridge.ingest.report import SyncReport
    from anythingllm_bridge.storage import StorageClient
    from anythingllm_bridge.validation import FileValidator

__all__ = ["open_source", "run_sync"]


def open_source(
    settings: Settings, source: str | os.PathLike[str] | Source
) -> tuple[Source, StorageClient | None]:
    """The :class:`Source` that ``source`` names, and the storage client it opened (to close), if
    any: ``s3://bucket/prefix`` is read with the S3 settings (the bucket from the URL), anything
    else is a folder."""
    if not isinstance(source, str | os.PathLike):
        return source, None
    text = os.fspath(source)
    if not text.startswith("s3://"):
        folder = Path(text).expanduser()
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise IngestError(f"source folder {text} {what}")
        return FolderSource(folder), None
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket:
        raise IngestError(f"{text!r} names no bucket: use s3://bucket/prefix")
    from anythingllm_bridge.storage import StorageFactory

    storage = StorageFactory.create_storage_client(
        settings.model_copy(update={"storage_type": "s3", "s3_bucket": bucket})
    )
    return StorageSource(storage, prefix), storage


async def run_sync(
    settings: Settings,
    source: str | os.PathLike[str] | Source,
    *,
    workspace: str,
    prune: bool = False,
    dry_run: bool = False,
    concurrency: int | None = None,
    manifest: str | os.PathLike[str] | None = None,
    source_id: str | None = None,
    shard: Shard | str | None = None,
    max_delete: int | None = None,
    max_passes: int | None = None,
    max_wait: float | None = None,
    validator: FileValidator | None = None,
    archive: bool | StorageClient = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Sync ``source`` (a folder, ``s3://bucket/prefix``, or a :class:`Source`) into
    ``workspace`` with the server, key and options of ``settings``; see :func:`.run.sync` for
    what a sync does and for the options shared with it.

    Defaults come from ``settings``: ``concurrency`` (``INGEST_CONCURRENCY``), ``max_passes``,
    ``max_wait``, the ``validator`` (``ALLOWED_FILE_TYPES``, ``MAX_FILE_SIZE``) and the cache
    file ``manifest`` (``MANIFEST_PATH``, else one per source and shard in
    ``$XDG_STATE_HOME/anythingllm-bridge/manifests/``; a path given that holds anything but a sync
    cache is refused, never overwritten). ``archive=True`` copies every sent file into the storage
    of ``settings`` under ``processed/<type>/<key>`` (or give a storage client). The sync never
    writes into its source: a cache or an archive inside it is refused.
    """
    from anythingllm_bridge.client import create_anythingllm_client
    from anythingllm_bridge.validation import FileValidator

    workers = settings.ingest_concurrency if concurrency is None else concurrency
    share = Shard.parse(shard) if isinstance(shard, str) else shard
    if validator is None:
        validator = FileValidator.create_from_settings(settings)
    src, opened = open_source(settings, source)
    archive_to: StorageClient | None = None
    try:
        identity = source_id if source_id is not None else src.identity
        chosen = Path(manifest) if manifest is not None else settings.manifest_path
        cache_path = chosen
        if cache_path is None:
            cache_path = default_manifest_path(identity, str(share) if share and share.count > 1 else None)
        store = FileManifestStore(cache_path.expanduser(), own_folder=chosen is None)
        if archive is True:
            # refused before the storage is made: a local one creates its folder at once
            refuse_writes_into(src, archive=_settings_archive(settings))
            if not dry_run:  # a dry run creates nothing, not even the archive's folder
                from anythingllm_bridge.storage import StorageFactory

                archive_to = StorageFactory.create_storage_client(settings)
        elif archive is not False:
            archive_to = archive
        client = create_anythingllm_client(
            settings,
            max_concurrency=max(settings.max_concurrency, workers + 2),
            max_connections_per_host=max(settings.max_connections_per_host, workers + 2),
        )
        async with client:
            return await sync(
                client,
                src,
                store,
                workspace=workspace,
                validator=validator,
                prune=prune,
                dry_run=dry_run,
                concurrency=workers,
                archive=archive_to,
                progress=progress,
                source_id=source_id,
                shard=share,
                max_delete=max_delete,
                max_passes=settings.ingest_max_passes if max_passes is None else max_passes,
                max_wait=settings.ingest_max_wait if max_wait is None else max_wait,
            )
    finally:
        if opened is not None:
            await opened.close()
        if archive is True and archive_to is not None:
            await archive_to.close()


def _settings_archive(settings: Settings) -> str | None:
    """Where ``--archive`` would write with ``settings``, as :func:`.source.storage_location` says."""
    if settings.storage_type == "s3":
        return f"s3://{settings.s3_bucket}/{ARCHIVE_PREFIX}" if settings.s3_bucket else None
    return folder_location(Path(settings.storage_path) / ARCHIVE_PREFIX)
