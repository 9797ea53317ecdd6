"""Bulk uploads into a workspace, each checked and repaired with ``ensure_embedded``:
``upload_documents`` (many files) and ``upload_document`` (a pre-chunked document, one raw-text
document per chunk).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    ChunkMetadata,
    DocumentChunk,
    DocumentUploadReport,
    FileUploadResult,
    ProcessedDocument,
    UploadResult,
    Workspace,
)
from anythingllm_bridge.client.resources._base import WorkspaceRef, parse
from anythingllm_bridge.client.resources.documents import check_upload_file, metadata_field
from anythingllm_bridge.client.resources.embeddings import EmbeddingsMixin, first_alone
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMOutcomeUnknownError, FileValidationError
from anythingllm_bridge.tracing import get_logger

__all__ = ["CHUNK_ATTEMPTS", "CHUNK_CONCURRENCY", "FileMetadata", "UploadsMixin"]

log = get_logger(__name__)

CHUNK_CONCURRENCY = 5
# Sends of one chunk at most: a send whose answer is lost is followed by a look for the chunk
# before the next one.
CHUNK_ATTEMPTS = 3
# The metadata keys the raw-text route keeps (everything else is dropped by the server).
RAW_TEXT_KEYS = ("url", "title", "docAuthor", "description", "docSource", "chunkSource", "published")

FileMetadata = Mapping[str, Any] | Callable[[Path], Mapping[str, Any] | None] | None


class UploadsMixin(EmbeddingsMixin):
    """Many documents into one workspace at once, every one of them checked in the workspace."""

    if TYPE_CHECKING:  # WorkspacesMixin's, next to it in AnythingLLMClient

        async def get_workspace(self, slug: WorkspaceRef) -> Workspace: ...

        async def get_or_create_workspace(self, slug: WorkspaceRef, name: str | None = None) -> Workspace: ...

    @_deprecated.renamed_keywords(workspace_slug="slug")
    async def upload_documents(
        self,
        slug: WorkspaceRef,
        files: Iterable[str | os.PathLike[str]],
        *,
        concurrency: int = 4,
        metadata: FileMetadata = None,
        folder: str | None = None,
        embed_batch: int | None = None,
    ) -> list[FileUploadResult]:
        """Upload many files into a workspace, at most ``concurrency`` at a time, and make sure
        each ends up embedded. One result per file, in input order (see ``FileUploadResult``).

        ``metadata`` is one mapping for every file or a function ``path -> mapping``. Files that
        do not exist or cannot be read, and files for which that function raises, are reported
        as ``failed`` without a request. An unknown
        workspace raises ``AnythingLLMNotFoundError`` before anything is uploaded.

        How: each file is uploaded with ``addToWorkspaces``, so the server embeds it in the same
        request; then one ``ensure_embedded`` checks them all against one read of the workspace
        and embeds again only those the server left out (it answers 200 either way, and does
        leave a few out under concurrent uploads), reported ``repaired``, or ``not_embedded``
        with the reason. Measured on a real AnythingLLM this is the fastest way that loses
        nothing: embedding inside the upload costs less than a separate ``update-embeddings``
        call per document, and that call gains nothing from batching (it embeds one document
        after another).

        At most ``min(concurrency, max_concurrency, max_connections_per_host)`` uploads are in
        flight: the client's own limits (10 of each by default) bound every call, so for more create
        the client with larger ones (a warning says so).
        ``embed_batch`` is deprecated and ignored (there are no batches any more).

        An upload whose answer was lost (``AnythingLLMOutcomeUnknownError``) is ``failed``: the
        server may have stored and embedded it, and it is not sent again.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if embed_batch is not None:
            _deprecated.warn(
                "upload_documents(embed_batch=...)",
                "upload_documents(...) without it: each document is embedded with its upload",
            )
        self._warn_if_throttled("upload_documents", concurrency)
        paths = [Path(item) for item in files]
        workspace = await self.get_workspace(slug)  # one read, whether slug or id
        fresh = not workspace.documents
        slug = workspace.slug.strip().lower()
        limit = asyncio.Semaphore(concurrency)

        async def upload_one(path: Path) -> FileUploadResult:
            try:
                check_upload_file(path)
            except (FileValidationError, ValueError) as exc:
                return FileUploadResult(path=str(path), status="failed", error=str(exc))
            try:
                meta = metadata(path) if callable(metadata) else metadata
            except Exception as exc:  # the caller's function: its failure is this file's alone
                error = f"the metadata function raised {type(exc).__name__}: {exc}"
                return FileUploadResult(path=str(path), status="failed", error=error)
            try:
                meta_field = metadata_field(meta)
            except ValueError as exc:
                return FileUploadResult(path=str(path), status="failed", error=str(exc))
            async with limit:
                try:
                    data = await self._send_file(path, slug, meta_field, folder, None)
                    result = parse(UploadResult, data)
                    location = result.location
                except (AnythingLLMError, ValueError, OSError) as exc:  # OSError: gone since checked
                    return FileUploadResult(path=str(path), status="failed", error=str(exc))
            return FileUploadResult(
                path=str(path), status="embedded", location=location, document=result.document
            )

        sizes = await asyncio.to_thread(_sizes, paths)
        results = await first_alone(
            paths,
            upload_one,
            fresh,
            lambda result: result.location is not None,
            size=lambda path: sizes.get(path, 0),
        )
        uploaded = {r.location: r for r in results if r.location}
        if not uploaded:
            return results
        try:
            check = await self.ensure_embedded(slug, list(uploaded))
        except AnythingLLMError as exc:
            for result in uploaded.values():
                result.status = "not_embedded"
                result.error = f"uploaded; could not check the workspace: {exc}"
            return results
        repaired = set(check.repaired)
        for location, result in uploaded.items():
            if location in check.missing:
                result.status = "not_embedded"
                result.error = check.missing[location]
            elif location in repaired:
                result.status = "repaired"
        return results

    @_deprecated.renamed_keywords(workspace_slug="slug")
    async def upload_document(self, slug: WorkspaceRef, document: ProcessedDocument) -> DocumentUploadReport:
        """Send a pre-chunked document: each ``DocumentChunk`` becomes one raw-text document in
        the workspace (embedded with its upload), at most 5 at a time; then every chunk is checked
        (and repaired) in the workspace with ``ensure_embedded``. The report counts chunks by the
        caller's ``chunk.id``, under ``document.id``. The workspace is made when it does not exist
        yet (``get_or_create_workspace``); ``report.workspace_slug`` is its real slug.

        Each chunk carries ``document.title`` (its title is "<title> part <n> of <total>", which
        the server turns into a file name), ``document.source_url`` (as ``url``), the metadata
        of the document and of the chunk (``docAuthor``, ``description``, ...), and the
        ``ChunkMetadata`` fields (ids, index, total, title, technology, source URL) in
        ``docSource``: read them back with ``.chunk_metadata`` on the workspace's documents,
        search results and chat sources. ``delete_document(slug, document.id)`` takes every
        chunk out again.
        """
        ids = [chunk.id for chunk in document.chunks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"document {document.id!r} has duplicate chunk ids")
        for where, metadata in [("document", document.metadata)] + [
            (f"chunk {chunk.id!r}", chunk.metadata) for chunk in document.chunks
        ]:
            if "docSource" in metadata:
                raise ValueError(
                    f"{where} metadata sets docSource, which upload_document fills with the chunk's "
                    "ids; put that value in technology or description instead"
                )
        workspace = await self.get_or_create_workspace(slug)
        slug = workspace.slug
        fresh = not workspace.documents
        target = slug.strip().lower()
        limit = asyncio.Semaphore(CHUNK_CONCURRENCY)
        total = len(document.chunks)

        upload_id = uuid.uuid4().hex

        async def send(chunk: DocumentChunk) -> tuple[str, str | None, str | None]:
            meta = _chunk_metadata(document, chunk, total, upload_id)
            async with limit:
                for attempt in range(1, CHUNK_ATTEMPTS + 1):
                    try:
                        data = await self._send_text(meta["title"], chunk.content, meta, target)
                        return chunk.id, parse(UploadResult, data).location, None
                    except AnythingLLMOutcomeUnknownError as exc:
                        lost = exc  # did it land? its marker says, before it is sent again
                    except (AnythingLLMError, ValueError) as exc:
                        return chunk.id, None, f"chunk {chunk.id}: {exc}"
                    try:
                        landed = await self._stored_chunk(upload_id, chunk.id)
                    except AnythingLLMError as exc:
                        return chunk.id, None, f"chunk {chunk.id}: {lost}; looking for it failed: {exc}"
                    if landed is not None:
                        return chunk.id, landed, None
                    log.warning(
                        "upload_document: chunk %s was sent (attempt %d/%d), its answer lost, and it "
                        "is not on the server: sending it again",
                        chunk.id,
                        attempt,
                        CHUNK_ATTEMPTS,
                    )
                message = f"{lost}; sent {CHUNK_ATTEMPTS} times, never stored"
                return chunk.id, None, f"chunk {chunk.id}: {message}"

        outcomes = await first_alone(document.chunks, send, fresh, lambda outcome: outcome[1] is not None)
        report = DocumentUploadReport(document_id=document.id, workspace_slug=slug, total_chunks=total)
        by_location: dict[str, str] = {}
        for chunk_id, location, error in outcomes:
            if location:
                by_location[location] = chunk_id
                report.locations[chunk_id] = location
            else:
                report.failed_chunk_ids.append(chunk_id)
                report.errors.append(error or f"chunk {chunk_id}: upload failed")
        if by_location:
            check = await self.ensure_embedded(target, list(by_location))
            for location, reason in check.missing.items():
                chunk_id = by_location[location]
                report.failed_chunk_ids.append(chunk_id)
                report.errors.append(f"chunk {chunk_id}: {reason}")
        failed = set(report.failed_chunk_ids)
        report.uploaded_chunk_ids = [cid for cid in ids if cid not in failed]
        report.failed_chunk_ids = [cid for cid in ids if cid in failed]
        report.successful_uploads = len(report.uploaded_chunk_ids)
        report.failed_uploads = len(report.failed_chunk_ids)
        return report

    async def _stored_chunk(self, upload_id: str, chunk_id: str) -> str | None:
        """The location of the chunk ``upload_document`` call ``upload_id`` sent as ``chunk_id``,
        if the server stored it (raw text lands in ``custom-documents``), else ``None``."""
        for stored in (await self.list_folder("custom-documents")).documents:
            marker = stored.chunk_metadata
            if (
                marker is not None
                and marker.chunk_id == chunk_id
                and ChunkMetadata.upload_of(stored.doc_source) == upload_id
            ):
                return stored.location
        return None

    def _warn_if_throttled(self, caller: str, concurrency: int) -> None:
        """Log when the client's limits allow fewer calls at once than ``concurrency`` asks for."""
        config = getattr(self, "config", None)
        if config is None:
            return
        allowed = config.calls_at_once
        if concurrency > allowed:
            log.warning(
                "%s(concurrency=%d) runs at most %d call(s) at once: the client allows "
                "min(max_concurrency=%d, max_connections_per_host=%d); create it with larger ones",
                caller,
                concurrency,
                allowed,
                config.max_concurrency,
                config.max_connections_per_host,
            )


def _chunk_metadata(
    document: ProcessedDocument, chunk: DocumentChunk, total: int, upload_id: str
) -> dict[str, Any]:
    """Raw-text metadata for one chunk: its title and description, the document's source URL,
    the document's then the chunk's own metadata, and its ``ChunkMetadata`` in ``docSource``."""
    chunks = chunk.total_chunks if chunk.total_chunks is not None else total
    number = chunk.chunk_index + 1
    meta: dict[str, Any] = {
        "title": f"{document.title} part {number} of {chunks}",
        "description": f"part {number} of {chunks} of {document.title}",
    }
    if document.source_url:
        meta["url"] = document.source_url
    for source in (document.metadata, chunk.metadata):
        meta.update({key: value for key, value in source.items() if key in RAW_TEXT_KEYS and key != "title"})
    meta["docSource"] = ChunkMetadata(
        chunk_id=chunk.id,
        chunk_index=chunk.chunk_index,
        total_chunks=chunks,
        document_id=document.id,
        document_title=document.title,
        technology=document.technology,
        source_url=document.source_url,
    ).to_doc_source(upload_id)
    return meta


def _sizes(paths: list[Path]) -> dict[Path, int]:
    """Each readable path's size in bytes (the order uploads start in; a path that cannot be
    read is left out and reported by its upload)."""
    sizes: dict[Path, int] = {}
    for path in paths:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            continue
    return sizes
