"""Embedding documents into workspaces, verified: the server answers 200 whether or not it
embedded anything, so every call here reads the workspace back and reports what is missing.

``upload_documents`` and ``upload_document`` also repair: documents the server dropped are
embedded again with ``update-embeddings`` (only those not present: adding a document twice
duplicates its vectors), then checked once more.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from anythingllm_bridge.client.models import (
    DocumentChunk,
    DocumentUploadReport,
    EmbeddingUpdate,
    FileUploadResult,
    ProcessedDocument,
    UploadResult,
)
from anythingllm_bridge.client.resources._base import parse, segment
from anythingllm_bridge.client.resources.documents import DocumentsMixin, check_upload_file, metadata_field
from anythingllm_bridge.errors import AnythingLLMError, FileValidationError

__all__ = ["CHUNK_CONCURRENCY", "EmbeddingsMixin"]

log = logging.getLogger("anythingllm_bridge.client")

CHUNK_CONCURRENCY = 5
# The metadata keys the raw-text route keeps (everything else is dropped by the server).
RAW_TEXT_KEYS = ("url", "title", "docAuthor", "description", "docSource", "chunkSource", "published")

FileMetadata = Mapping[str, Any] | Callable[[Path], Mapping[str, Any] | None] | None


class EmbeddingsMixin(DocumentsMixin):
    async def update_embeddings(
        self,
        slug: str,
        adds: Iterable[str] | None = None,
        deletes: Iterable[str] | None = None,
        *,
        skip_existing: bool = True,
    ) -> EmbeddingUpdate:
        """Embed (``adds``) and un-embed (``deletes``) documents, by ``location``, then check.

        Adds already in the workspace are skipped (``skip_existing``) because the server would
        duplicate them. The result lists what is now in (``added``), what was skipped, and what
        the server silently failed to do (``missing``, ``not_removed``).
        """
        add_list = list(dict.fromkeys([adds] if isinstance(adds, str) else adds or []))
        delete_list = list(dict.fromkeys([deletes] if isinstance(deletes, str) else deletes or []))
        if not add_list and not delete_list:
            raise ValueError("update_embeddings needs at least one location to add or delete")
        before = (await self._fetch_workspace(slug)).docpaths
        skipped = [loc for loc in add_list if skip_existing and loc in before and loc not in delete_list]
        to_add = [loc for loc in add_list if loc not in skipped]
        if to_add or delete_list:
            await self._post_embeddings(slug, to_add, delete_list)
        after = (await self._fetch_workspace(slug)).docpaths
        update = EmbeddingUpdate(
            workspace_slug=slug,
            added=[loc for loc in to_add if loc in after],
            skipped=skipped,
            missing=[loc for loc in to_add if loc not in after],
            removed=[loc for loc in delete_list if loc not in after],
            not_removed=[loc for loc in delete_list if loc in after and loc not in add_list],
        )
        if not update.ok:
            log.warning(
                "update_embeddings on %r: %d add(s) missing, %d delete(s) not done",
                slug,
                len(update.missing),
                len(update.not_removed),
            )
        return update

    async def delete_document(self, slug: str, location: str) -> EmbeddingUpdate:
        """Take a document out of one workspace (file and vector cache stay; see
        ``remove_documents`` for full erasure)."""
        return await self.update_embeddings(slug, deletes=[location])

    async def upload_documents(
        self,
        workspace_slug: str,
        files: Iterable[str | os.PathLike[str]],
        *,
        concurrency: int = 4,
        metadata: FileMetadata = None,
        folder: str | None = None,
    ) -> list[FileUploadResult]:
        """Upload many files into a workspace, at most ``concurrency`` at a time, and make sure
        each ends up embedded. One result per file, in input order (see ``FileUploadResult``).

        ``metadata`` is one mapping for every file or a function ``path -> mapping``. Files that
        do not exist or cannot be read are reported as ``failed`` without a request. An unknown
        workspace raises ``AnythingLLMNotFoundError`` before anything is uploaded.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        paths = [Path(item) for item in files]
        await self._fetch_workspace(workspace_slug)
        slug = workspace_slug.strip().lower()
        limit = asyncio.Semaphore(concurrency)

        async def upload_one(path: Path) -> FileUploadResult:
            try:
                check_upload_file(path)
                meta = metadata(path) if callable(metadata) else metadata
                meta_field = metadata_field(meta)
            except (FileValidationError, ValueError) as exc:
                return FileUploadResult(path=str(path), status="failed", error=str(exc))
            async with limit:
                try:
                    data = await self._send_file(path, slug, meta_field, folder, None)
                    result = parse(UploadResult, data)
                    location = result.location
                except (AnythingLLMError, ValueError) as exc:
                    return FileUploadResult(path=str(path), status="failed", error=str(exc))
            return FileUploadResult(
                path=str(path), status="embedded", location=location, document=result.document
            )

        results = list(await asyncio.gather(*(upload_one(path) for path in paths)))
        uploaded = {r.location: r for r in results if r.location}
        repaired, still_missing, reason = await self._ensure_embedded(workspace_slug, list(uploaded))
        for location in repaired:
            uploaded[location].status = "repaired"
        for location in still_missing:
            uploaded[location].status = "not_embedded"
            uploaded[location].error = reason
        return results

    async def upload_document(self, workspace_slug: str, document: ProcessedDocument) -> DocumentUploadReport:
        """Send a pre-chunked document: each ``DocumentChunk`` becomes one raw-text document in
        the workspace, with the chunk's metadata, at most 5 at a time; then every chunk is
        checked (and repaired) in the workspace. The report counts chunks by ``chunk_id``."""
        ids = [chunk.chunk_id for chunk in document.chunks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"document {document.document_id!r} has duplicate chunk ids")
        await self._fetch_workspace(workspace_slug)
        slug = workspace_slug.strip().lower()
        limit = asyncio.Semaphore(CHUNK_CONCURRENCY)
        total = len(document.chunks)

        async def send(chunk: DocumentChunk) -> tuple[str, str | None, str | None]:
            meta = _chunk_metadata(document, chunk, total)
            async with limit:
                try:
                    data = await self._send_text(meta["title"], chunk.content, meta, slug)
                    return chunk.chunk_id, parse(UploadResult, data).location, None
                except (AnythingLLMError, ValueError) as exc:
                    return chunk.chunk_id, None, f"chunk {chunk.chunk_id}: {exc}"

        outcomes = await asyncio.gather(*(send(chunk) for chunk in document.chunks))
        report = DocumentUploadReport(
            document_id=document.document_id, workspace_slug=workspace_slug, total_chunks=total
        )
        by_location: dict[str, str] = {}
        for chunk_id, location, error in outcomes:
            if location:
                by_location[location] = chunk_id
                report.locations[chunk_id] = location
            else:
                report.failed_chunk_ids.append(chunk_id)
                report.errors.append(error or f"chunk {chunk_id}: upload failed")
        _, still_missing, reason = await self._ensure_embedded(workspace_slug, list(by_location))
        for location in still_missing:
            chunk_id = by_location[location]
            report.failed_chunk_ids.append(chunk_id)
            report.errors.append(f"chunk {chunk_id}: {reason}")
        failed = set(report.failed_chunk_ids)
        report.uploaded_chunk_ids = [cid for cid in ids if cid not in failed]
        report.failed_chunk_ids = [cid for cid in ids if cid in failed]
        report.successful_uploads = len(report.uploaded_chunk_ids)
        report.failed_uploads = len(report.failed_chunk_ids)
        return report

    async def _post_embeddings(self, slug: str, adds: list[str], deletes: list[str]) -> None:
        path = f"/v1/workspace/{segment(slug)}/update-embeddings"
        await self._transport.request("POST", path, json={"adds": adds, "deletes": deletes})

    async def _ensure_embedded(self, slug: str, locations: list[str]) -> tuple[list[str], list[str], str]:
        """Check ``locations`` are in the workspace; embed the missing ones once, check again.

        Returns (repaired, still missing, reason for the still missing).
        """
        if not locations:
            return [], [], ""
        present = (await self._fetch_workspace(slug)).docpaths
        missing = [loc for loc in locations if loc not in present]
        if not missing:
            return [], [], ""
        log.warning(
            "%d of %d document(s) missing from workspace %r; embedding them again",
            len(missing),
            len(locations),
            slug,
        )
        reason = "not in the workspace after upload and one repair with update-embeddings"
        try:
            await self._post_embeddings(slug, missing, [])
        except AnythingLLMError as exc:
            reason = f"not in the workspace after upload; the repair failed: {exc}"
        present = (await self._fetch_workspace(slug)).docpaths
        repaired = [loc for loc in missing if loc in present]
        still = [loc for loc in missing if loc not in present]
        if still:
            log.warning("%d document(s) still missing from workspace %r", len(still), slug)
        return repaired, still, reason


def _chunk_metadata(document: ProcessedDocument, chunk: DocumentChunk, total: int) -> dict[str, Any]:
    """Raw-text metadata for one chunk: document metadata, overridden by the chunk's own."""
    number = chunk.chunk_index + 1
    meta: dict[str, Any] = {
        "title": f"{document.title} part {number} of {total}",
        "description": f"part {number} of {total} of {document.title}",
        "docSource": document.source or "anythingllm-bridge",
        "chunkSource": f"{document.document_id}#{chunk.chunk_id}",
    }
    for source in (document.metadata, chunk.metadata):
        meta.update({key: value for key, value in source.items() if key in RAW_TEXT_KEYS and key != "title"})
    return meta
