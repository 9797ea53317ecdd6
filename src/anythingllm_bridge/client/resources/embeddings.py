"""Embedding documents into workspaces, verified: the server answers 200 whether or not it
embedded anything, so every call here reads the workspace back and reports what is missing.

``ensure_embedded`` is the one check-and-repair: documents the server dropped are embedded again
with ``update-embeddings`` (only those not present: adding a document twice duplicates its
vectors), then checked once more. ``upload_documents``, ``upload_document`` and the sync
(``anythingllm_bridge.ingest``) upload with ``addToWorkspaces`` and end with it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    ChunkMetadata,
    DocumentChunk,
    DocumentUploadReport,
    EmbeddingCheck,
    EmbeddingUpdate,
    FileUploadResult,
    ProcessedDocument,
    UploadResult,
    Workspace,
)
from anythingllm_bridge.client.resources._base import (
    WorkspaceRef,
    parse,
    segment,
    workspace_object,
    workspace_subject,
)
from anythingllm_bridge.client.resources.documents import DocumentsMixin, check_upload_file, metadata_field
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMOutcomeUnknownError, FileValidationError
from anythingllm_bridge.tracing import get_logger

__all__ = ["CHUNK_ATTEMPTS", "CHUNK_CONCURRENCY", "EmbeddingsMixin", "first_alone"]

log = get_logger(__name__)

CHUNK_CONCURRENCY = 5
# Sends of one chunk at most: a send whose answer is lost is followed by a look for the chunk
# before the next one.
CHUNK_ATTEMPTS = 3
# The metadata keys the raw-text route keeps (everything else is dropped by the server).
RAW_TEXT_KEYS = ("url", "title", "docAuthor", "description", "docSource", "chunkSource", "published")

FileMetadata = Mapping[str, Any] | Callable[[Path], Mapping[str, Any] | None] | None
T = TypeVar("T")
R = TypeVar("R")


class EmbeddingsMixin(DocumentsMixin):
    """Putting documents into workspaces and taking them out, checked against the workspace."""

    if TYPE_CHECKING:  # WorkspacesMixin's, next to it in AnythingLLMClient

        async def get_or_create_workspace(self, slug: WorkspaceRef, name: str | None = None) -> Workspace: ...

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
        answered = await self._post_embeddings(slug, to_add, delete_list) if to_add or delete_list else None
        after = (answered or await self._fetch_workspace(slug)).docpaths
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

    async def ensure_embedded(
        self, slug: WorkspaceRef, locations: Iterable[str], *, listing: Workspace | None = None
    ) -> EmbeddingCheck:
        """Make sure uploaded documents are in the workspace: read it once (or use ``listing``, a
        ``Workspace`` read just now), embed only the missing ones with one ``update-embeddings``
        call, and check again. Never embeds a document that is already in (that would duplicate
        its vectors), and never repeats an embedding request that got no answer (the server may
        still be doing it).

        The one check-and-repair behind ``upload_documents``, ``upload_document`` and ``allm
        sync``. A read of the workspace that fails raises; a repair that fails is reported, per
        location, in ``missing``.
        """
        wanted = list(dict.fromkeys([locations] if isinstance(locations, str) else locations))
        slug = await self._slug(slug)
        workspace = listing if listing is not None else await self._fetch_workspace(slug)
        check = EmbeddingCheck(workspace_slug=slug, workspace=workspace)
        absent = [location for location in wanted if location not in workspace.docpaths]
        if absent:
            log.warning(
                "%d of %d document(s) missing from workspace %r; embedding them again",
                len(absent),
                len(wanted),
                slug,
            )
            why = "not in the workspace after upload, nor after one repair with update-embeddings"
            try:
                answered = await self._post_embeddings(slug, absent, [])
            except AnythingLLMOutcomeUnknownError as exc:
                answered = None
                why = (
                    f"not in the workspace after upload; the repair got no answer ({exc.message}), so "
                    "it was not sent again (the server may still be embedding it; sending it twice "
                    "would embed it twice) — ensure_embedded later finishes it"
                )
            except AnythingLLMError as exc:
                answered = None
                why = f"not in the workspace after upload; the repair failed: {exc}"
            workspace = answered if answered is not None else await self._fetch_workspace(slug)
            check.workspace = workspace
            check.repaired = [location for location in absent if location in workspace.docpaths]
            check.missing = {location: why for location in absent if location not in workspace.docpaths}
            if check.missing:
                log.warning("%d document(s) still missing from workspace %r", len(check.missing), slug)
        check.present = [location for location in wanted if location in workspace.docpaths]
        return check

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
        flight: the client's own limits (5 connections by default) bound every call, so for more
        create the client with a larger ``max_connections_per_host`` (a warning says so).
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
        slug = await self._slug(slug)
        fresh = not (await self._fetch_workspace(slug)).documents
        slug = slug.strip().lower()
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

        results = await first_alone(paths, upload_one, fresh, lambda result: result.location is not None)
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
        allowed = min(config.max_concurrency, config.max_connections_per_host)
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

    async def _post_embeddings(self, slug: str, adds: list[str], deletes: list[str]) -> Workspace | None:
        """``update-embeddings``; the workspace as its answer shows it (``None``: not in it).

        Only deleting is safe to repeat: a document added twice has its vectors twice."""
        path = f"/v1/workspace/{segment(slug)}/update-embeddings"
        response = await self._request(
            "POST",
            path,
            json={"adds": adds, "deletes": deletes},
            idempotent=not adds,
            subject=workspace_subject(slug),
        )
        return _answer_workspace(response.data)


async def first_alone(
    items: Sequence[T],
    send: Callable[[T], Awaitable[R]],
    fresh: bool,
    landed: Callable[[R], bool],
) -> list[R]:
    """``send`` every item, all at once (the caller bounds the concurrency), in input order —
    but into a ``fresh`` workspace (no documents yet) one at a time until one ``landed``.

    AnythingLLM (1.16, LanceDB) creates a workspace's vector table with its first embedding;
    concurrent first embeddings race to create it, and the losers fail while the upload still
    answers 200 (the server logs "Table ... already exists"): with the first upload alone, that
    race is gone (``bench/README.md`` has the measurement).
    """
    results: list[R] = []
    rest = list(items)
    while fresh and rest:
        result = await send(rest.pop(0))
        results.append(result)
        fresh = not landed(result)
    tasks = [asyncio.ensure_future(send(item)) for item in rest]
    try:
        return results + list(await asyncio.gather(*tasks))
    except BaseException:  # one failed (or the caller cancelled): none of the others outlives the call
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _answer_workspace(data: Any) -> Workspace | None:
    """The workspace an ``update-embeddings`` answer carries (with its documents), ``None`` if it
    carries none or one that does not parse (the caller reads the workspace instead)."""
    workspace = workspace_object(data)
    if workspace is None or not isinstance(workspace.get("documents"), list):
        return None
    try:
        return Workspace.model_validate(workspace)
    except ValueError:  # pydantic's ValidationError
        return None


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
