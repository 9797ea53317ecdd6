"""Embedding documents into workspaces, verified: the server answers 200 whether or not it
embedded anything, so every call here reads the workspace back and reports what is missing.

``ensure_embedded`` is the one check-and-repair: documents the server dropped are embedded again
with ``update-embeddings`` (only those not present: adding a document twice duplicates its
vectors), then checked once more. The bulk uploads (:mod:`.uploads`) and the sync
(``anythingllm_bridge.ingest``) upload with ``addToWorkspaces`` and end with it; both send their
uploads through :func:`first_alone`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    EmbeddingCheck,
    EmbeddingUpdate,
    Workspace,
)
from anythingllm_bridge.client.resources._base import (
    WorkspaceRef,
    segment,
    workspace_object,
    workspace_subject,
)
from anythingllm_bridge.client.resources.documents import DocumentsMixin
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMOutcomeUnknownError
from anythingllm_bridge.tracing import get_logger

__all__ = ["EmbeddingsMixin", "first_alone"]

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


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
    size: Callable[[T], int] | None = None,
) -> list[R]:
    """``send`` every item, all at once (the caller bounds the concurrency); one result per item,
    in input order — but into a ``fresh`` workspace (no documents yet) one at a time until one
    ``landed``.

    AnythingLLM (1.16, LanceDB) creates a workspace's vector table with its first embedding;
    concurrent first embeddings race to create it, and the losers fail while the upload still
    answers 200 (the server logs "Table ... already exists"): with the first upload alone, that
    race is gone (``bench/README.md`` has the measurement).

    With ``size`` (an item's bytes), the one sent alone is the smallest, so the time nothing else
    is in flight is as short as it can be, and the rest start largest first, so a large file is
    not the last one still embedding while the others are done.
    """
    order = list(range(len(items)))
    alone = sorted(order, key=lambda i: size(items[i])) if size is not None and fresh else order
    results: dict[int, R] = {}
    while fresh and len(results) < len(items):
        index = next(i for i in alone if i not in results)
        results[index] = await send(items[index])
        fresh = not landed(results[index])
    rest = [i for i in order if i not in results]
    if size is not None:
        rest.sort(key=lambda i: size(items[i]), reverse=True)
    tasks = [asyncio.ensure_future(send(items[i])) for i in rest]
    try:
        results.update(zip(rest, await asyncio.gather(*tasks), strict=True))
    except BaseException:  # one failed (or the caller cancelled): none of the others outlives the call
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [results[i] for i in order]


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
