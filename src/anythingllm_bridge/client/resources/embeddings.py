"""Embedding documents into workspaces, verified: the server answers 200 whether or not it
embedded anything, so every call here reads the workspace back and reports what is missing.

``upload_documents`` and ``upload_document`` also repair: documents the server dropped are
embedded again with ``update-embeddings`` (only those not present: adding a document twice
duplicates its vectors), then checked once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    ChunkMetadata,
    DocumentChunk,
    DocumentUploadReport,
    EmbeddingUpdate,
    FileUploadResult,
    ProcessedDocument,
    UploadResult,
)
from anythingllm_bridge.client.resources._base import WorkspaceRef, parse, segment, workspace_subject
from anythingllm_bridge.client.resources.documents import DocumentsMixin, check_upload_file, metadata_field
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMOutcomeUnknownError, FileValidationError

__all__ = ["CHUNK_CONCURRENCY", "EMBED_BATCH_BYTES", "EMBED_BATCH_FILES", "EmbeddingsMixin"]

log = logging.getLogger("anythingllm_bridge.client")

CHUNK_CONCURRENCY = 5
#: ``upload_documents`` embeds at most this many files, and about this many bytes of them, per
#: ``update-embeddings`` call (the server embeds them one after another before it answers).
EMBED_BATCH_FILES = 50
EMBED_BATCH_BYTES = 4 << 20
# The metadata keys the raw-text route keeps (everything else is dropped by the server).
RAW_TEXT_KEYS = ("url", "title", "docAuthor", "description", "docSource", "chunkSource", "published")

FileMetadata = Mapping[str, Any] | Callable[[Path], Mapping[str, Any] | None] | None


class EmbeddingsMixin(DocumentsMixin):
    """Putting documents into workspaces and taking them out, checked against the workspace."""

    async def update_embeddings(
        self,
        slug: WorkspaceRef,
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
        slug = await self._slug(slug)
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

    @_deprecated.renamed_keywords(location="document_id")
    async def delete_document(self, slug: WorkspaceRef, document_id: str) -> EmbeddingUpdate:
        """Take a document out of one workspace; it stays on the server (its file and vector
        cache), so it can be embedded again. To delete documents from the server, from every
        workspace: ``delete_documents_from_server``.

        ``document_id`` is a document's ``location`` (a workspace document's ``docpath``) or the
        ``id`` of a ``ProcessedDocument`` sent with ``upload_document``: then every chunk of it
        is taken out. A document the workspace does not hold is already out: the result then
        removes nothing and is still ``ok`` (and truthy: ``if await client.delete_document(...)``
        reads "it is not in the workspace").
        """
        slug = await self._slug(slug)
        workspace = await self._fetch_workspace(slug)
        if document_id in workspace.docpaths:
            locations = [document_id]
        else:
            locations = sorted(
                doc.docpath
                for doc in workspace.documents
                if (chunk := doc.chunk_metadata) is not None and chunk.document_id == document_id
            )
        if not locations:
            return EmbeddingUpdate(workspace_slug=slug)
        return await self.update_embeddings(slug, deletes=locations)

    @_deprecated.renamed_keywords(workspace_slug="slug")
    async def upload_documents(
        self,
        slug: WorkspaceRef,
        files: Iterable[str | os.PathLike[str]],
        *,
        concurrency: int = 4,
        metadata: FileMetadata = None,
        folder: str | None = None,
        embed_batch: int = EMBED_BATCH_FILES,
    ) -> list[FileUploadResult]:
        """Upload many files into a workspace, at most ``concurrency`` at a time, and make sure
        each ends up embedded. One result per file, in input order (see ``FileUploadResult``).

        ``metadata`` is one mapping for every file or a function ``path -> mapping``. Files that
        do not exist or cannot be read are reported as ``failed`` without a request. An unknown
        workspace raises ``AnythingLLMNotFoundError`` before anything is uploaded.

        How: the files are uploaded without ``addToWorkspaces`` and embedded meanwhile by
        ``update-embeddings`` calls of at most ``embed_batch`` files (and about 4 MiB of files),
        one call at a time, while the next uploads go on. Each answer lists the workspace's
        documents, so the check costs no extra request. A document that is not there after its
        batch is embedded again once (only those missing: adding one twice duplicates it), then
        reported ``repaired`` or ``not_embedded``.

        Why, for a real AnythingLLM (1.16): embedding happens inside whichever request carries
        it, so its total cost is the same either way. But ``addToWorkspaces`` on concurrent
        uploads makes the server embed into one workspace concurrently — which is when it was
        seen to drop 1–3 of 60 documents while answering 200 (whether batches, embedded one
        after another, avoid that there is not measured; the check and repair hold either way)
        — and costs a workspace lookup and write per upload (the emulator: ~1,050 against
        ~800 µs of server CPU per upload). One
        call for everything would be one long request: ``update-embeddings`` embeds its files
        one after another and answers only at the end, so 200 files could outlast the read
        timeout, and it would start only after the last upload. Bounded batches keep each call
        about as long as an upload of a large file, start embedding while uploads go on, and
        leave at most one batch plus the uploads in flight uploaded but not yet embedded.

        Failures: a batch that gets an error answer is over on the server, so what is missing
        afterwards is embedded again once, as above. A batch that gets no answer (timeout,
        dropped connection: ``AnythingLLMOutcomeUnknownError``) may still be running there, so
        its documents are never sent again; those not in the workspace when checked are
        ``not_embedded`` with that reason, and ``update_embeddings`` later (it skips documents
        already there) finishes them. If this call is cancelled or the process stops between
        an upload and its batch, that document stays in storage (``list_documents``) but not
        in the workspace; a cancellation logs a warning naming those locations.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if embed_batch < 1:
            raise ValueError(f"embed_batch must be at least 1, got {embed_batch}")
        paths = [Path(item) for item in files]
        slug = await self._slug(slug)
        await self._fetch_workspace(slug)
        slug = slug.strip().lower()
        limit = asyncio.Semaphore(concurrency)
        embedder = _BatchEmbedder(self, slug, embed_batch, EMBED_BATCH_BYTES)

        async def upload_one(path: Path) -> FileUploadResult:
            try:
                check_upload_file(path)
                meta = metadata(path) if callable(metadata) else metadata
                meta_field = metadata_field(meta)
            except (FileValidationError, ValueError) as exc:
                return FileUploadResult(path=str(path), status="failed", error=str(exc))
            async with limit:
                try:
                    data = await self._send_file(path, None, meta_field, folder, None)
                    result = parse(UploadResult, data)
                    location = result.location
                except (AnythingLLMError, ValueError, OSError) as exc:  # OSError: gone since checked
                    return FileUploadResult(path=str(path), status="failed", error=str(exc))
            embedder.add(location, _size(path))
            return FileUploadResult(
                path=str(path), status="embedded", location=location, document=result.document
            )

        embedding = asyncio.create_task(embedder.run())
        try:
            try:
                results = list(await asyncio.gather(*(upload_one(path) for path in paths)))
            finally:
                embedder.close()
            await embedding
        except BaseException:
            embedding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await embedding
            left = embedder.unconfirmed()
            if left:
                log.warning(
                    "upload_documents into %r stopped: %d uploaded document(s) may not be embedded: %s",
                    slug,
                    len(left),
                    ", ".join(left),
                )
            raise
        uploaded = {r.location: r for r in results if r.location}
        present, reason = await embedder.settle(list(uploaded))
        for location, result in uploaded.items():
            if location in embedder.repaired:
                result.status = "repaired"
            elif location not in present:
                result.status = "not_embedded"
                result.error = reason.get(location, "not in the workspace after embedding")
        return results

    @_deprecated.renamed_keywords(workspace_slug="slug")
    async def upload_document(self, slug: WorkspaceRef, document: ProcessedDocument) -> DocumentUploadReport:
        """Send a pre-chunked document: each ``DocumentChunk`` becomes one raw-text document in
        the workspace, at most 5 at a time; then every chunk is checked (and repaired) in the
        workspace. The report counts chunks by the caller's ``chunk.id``, under ``document.id``.

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
        slug = await self._slug(slug)
        await self._fetch_workspace(slug)
        target = slug.strip().lower()
        limit = asyncio.Semaphore(CHUNK_CONCURRENCY)
        total = len(document.chunks)

        async def send(chunk: DocumentChunk) -> tuple[str, str | None, str | None]:
            meta = _chunk_metadata(document, chunk, total)
            async with limit:
                try:
                    data = await self._send_text(meta["title"], chunk.content, meta, target)
                    return chunk.id, parse(UploadResult, data).location, None
                except (AnythingLLMError, ValueError) as exc:
                    return chunk.id, None, f"chunk {chunk.id}: {exc}"

        outcomes = await asyncio.gather(*(send(chunk) for chunk in document.chunks))
        report = DocumentUploadReport(document_id=document.id, workspace_slug=slug, total_chunks=total)
        by_location: dict[str, str] = {}
        for chunk_id, location, error in outcomes:
            if location:
                by_location[location] = chunk_id
                report.locations[chunk_id] = location
            else:
                report.failed_chunk_ids.append(chunk_id)
                report.errors.append(error or f"chunk {chunk_id}: upload failed")
        _, still_missing, reason = await self._ensure_embedded(slug, list(by_location))
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

    async def _post_embeddings(self, slug: str, adds: list[str], deletes: list[str]) -> set[str] | None:
        """``update-embeddings``; the workspace's docpaths from its answer (``None``: not in it).

        Only deleting is safe to repeat: a document added twice has its vectors twice."""
        path = f"/v1/workspace/{segment(slug)}/update-embeddings"
        response = await self._request(
            "POST",
            path,
            json={"adds": adds, "deletes": deletes},
            idempotent=not adds,
            subject=workspace_subject(slug),
        )
        return _answer_docpaths(response.data)

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


class _BatchEmbedder:
    """The embedding half of ``upload_documents``: locations come in as their uploads finish and
    go out in ``update-embeddings`` batches, one call at a time; then ``settle`` checks and repairs."""

    def __init__(self, owner: EmbeddingsMixin, slug: str, max_files: int, max_bytes: int) -> None:
        self._owner, self._slug = owner, slug
        self._max_files, self._max_bytes = max_files, max_bytes
        self._queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._added: list[str] = []
        self._confirmed: set[str] = set()
        self._state: set[str] | None = None  # docpaths per the last call's answer; None: unknown
        self._unknown: dict[str, str] = {}  # sent in a batch that got no answer: why
        self._failed: dict[str, str] = {}  # sent in a batch answered with an error: the error
        self.repaired: set[str] = set()

    def add(self, location: str, size: int) -> None:
        self._added.append(location)
        self._queue.put_nowait((location, size))

    def close(self) -> None:
        """No more locations: ``run`` sends what it holds and returns."""
        self._queue.put_nowait(None)

    def unconfirmed(self) -> list[str]:
        """Uploaded locations no answer has shown in the workspace yet."""
        return [location for location in self._added if location not in self._confirmed]

    async def run(self) -> None:
        batch: list[str] = []
        size = 0
        while (item := await self._queue.get()) is not None:
            location, item_size = item
            if batch and size + item_size > self._max_bytes:
                await self._send(batch)
                batch, size = [], 0
            batch.append(location)
            size += item_size
            if len(batch) >= self._max_files or size >= self._max_bytes:
                await self._send(batch)
                batch, size = [], 0
        if batch:
            await self._send(batch)

    async def _send(self, batch: list[str]) -> None:
        try:
            self._state = await self._owner._post_embeddings(self._slug, batch, [])
        except AnythingLLMOutcomeUnknownError as exc:
            self._state = None
            why = (
                f"the embedding request got no answer ({exc.message}); the server may still be "
                "embedding it, so it was not sent again (that could embed it twice) — check later "
                "with update_embeddings, which skips documents already in the workspace"
            )
            self._unknown.update(dict.fromkeys(batch, why))
            log.warning("update-embeddings of %d document(s) into %r got no answer", len(batch), self._slug)
        except AnythingLLMError as exc:
            self._state = None
            self._failed.update(dict.fromkeys(batch, str(exc)))
            log.warning("update-embeddings of %d document(s) into %r failed: %s", len(batch), self._slug, exc)
        else:
            if self._state is not None:
                self._confirmed.update(self._state.intersection(self._added))

    async def _read(self) -> tuple[set[str] | None, str]:
        try:
            return (await self._owner._fetch_workspace(self._slug)).docpaths, ""
        except AnythingLLMError as exc:
            return None, str(exc)

    async def settle(self, locations: list[str]) -> tuple[set[str], dict[str, str]]:
        """Check ``locations`` are in the workspace; embed the missing ones once (not those whose
        batch got no answer), check again. Returns the docpaths seen and why each missing one is."""
        if not locations:
            return set(), {}
        present, error = (self._state, "") if self._state is not None else await self._read()
        if present is None:
            return set(), dict.fromkeys(locations, f"uploaded; could not check the workspace: {error}")
        missing = [location for location in locations if location not in present]
        reasons = {location: self._unknown[location] for location in missing if location in self._unknown}
        retry = [location for location in missing if location not in self._unknown]
        if not retry:
            return present, reasons
        log.warning(
            "%d of %d document(s) missing from workspace %r; embedding them again",
            len(retry),
            len(locations),
            self._slug,
        )
        after: set[str] | None = None
        repair_error = ""
        try:
            after = await self._owner._post_embeddings(self._slug, retry, [])
        except AnythingLLMError as exc:
            repair_error = str(exc)
        if after is None:
            after, _ = await self._read()
        present = present | (after or set())
        self.repaired = {location for location in retry if location in present}
        still = [location for location in retry if location not in present]
        for location in still:
            first = "not in the workspace after upload"
            if location in self._failed:
                first = f"not embedded: update-embeddings failed ({self._failed[location]})"
            if repair_error:
                reasons[location] = f"{first}; the repair failed: {repair_error}"
            else:
                reasons[location] = f"{first}, nor after one repair with update-embeddings"
        if still:
            log.warning("%d document(s) still missing from workspace %r", len(still), self._slug)
        return present, reasons


def _answer_docpaths(data: Any) -> set[str] | None:
    """The ``documents[].docpath`` of an ``update-embeddings`` answer, ``None`` if it has none."""
    workspace = data.get("workspace") if isinstance(data, dict) else None
    if isinstance(workspace, list):
        workspace = workspace[0] if len(workspace) == 1 else None
    documents = workspace.get("documents") if isinstance(workspace, dict) else None
    if not isinstance(documents, list):
        return None
    return {
        doc["docpath"] for doc in documents if isinstance(doc, dict) and isinstance(doc.get("docpath"), str)
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _chunk_metadata(document: ProcessedDocument, chunk: DocumentChunk, total: int) -> dict[str, Any]:
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
    ).to_doc_source()
    return meta
