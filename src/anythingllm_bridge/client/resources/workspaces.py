"""Workspaces: list, get, create, update, delete, their documents, chat history and search."""

from __future__ import annotations

from typing import Any, Unpack

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    ChatMessage,
    SearchResult,
    ThreadSummary,
    Workspace,
    WorkspaceDocument,
    WorkspaceResponse,
    WorkspaceSettings,
    workspace_settings_body,
)
from anythingllm_bridge.client.resources._base import (
    Resource,
    WorkspaceRef,
    parse,
    parse_list,
    segment,
    workspace_object,
    workspace_subject,
)
from anythingllm_bridge.errors import AnythingLLMNotFoundError, AnythingLLMValidationError
from anythingllm_bridge.tracing import get_logger

__all__ = ["WorkspacesMixin"]

log = get_logger(__name__)


class WorkspacesMixin(Resource):
    """Workspaces. Wherever a workspace is named, its slug or its numeric ``id`` will do."""

    async def list_workspaces(self) -> list[Workspace]:
        """Every workspace, each with its threads (slug and name). No documents here."""
        items = await self._object("GET", "/v1/workspaces", "workspaces")
        workspaces = parse_list(Workspace, items)
        for workspace in workspaces:
            self._known_ids.learn(workspace)
        return workspaces

    async def get_workspace(self, slug: WorkspaceRef) -> Workspace:
        """One workspace with its ``documents`` and ``threads``.

        Raises ``AnythingLLMNotFoundError`` for an unknown slug (the server says 200 ``[]``).
        """
        if isinstance(slug, int) and not isinstance(slug, bool):
            return await self._by_id(slug)  # already checked and learnt
        workspace = await self._fetch_workspace(await self._slug(slug))
        self._known_ids.learn(workspace)
        return workspace

    async def create_workspace(
        self, name: str, *, extra: dict[str, Any] | None = None, **settings: Unpack[WorkspaceSettings]
    ) -> WorkspaceResponse:
        """Create a workspace; the answer is the server's: ``.workspace`` and ``.message``.

        The server makes the slug from the name: read ``.workspace.slug``. ``settings`` are the
        ``WorkspaceSettings`` (``chat_mode="query"``, ``similarity_threshold=0.3``, ...);
        ``extra`` passes further server fields verbatim (wire names, e.g. ``{"pfpFilename": ...}``).
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a workspace needs a non-empty name, got {name!r}")
        body = {"name": name, **workspace_settings_body("create_workspace", settings), **(extra or {})}
        data = await self._object("POST", "/v1/workspace/new", json=body)
        return self._workspace_response(data, "POST", "/v1/workspace/new")

    async def update_workspace(
        self,
        slug: WorkspaceRef,
        *,
        name: str | None = None,
        extra: dict[str, Any] | None = None,
        **settings: Unpack[WorkspaceSettings],
    ) -> WorkspaceResponse:
        """Change a workspace's name or ``WorkspaceSettings`` (renaming keeps the slug).

        The answer is the server's: ``.workspace`` (as updated) and ``.message``.
        """
        slug = await self._slug(slug)
        body = workspace_settings_body("update_workspace", settings)
        if name is not None:
            body["name"] = name
        body.update(extra or {})
        if not body:
            raise ValueError("update_workspace needs at least one setting to change")
        path = f"/v1/workspace/{segment(slug)}/update"  # sets fields: safe to repeat
        data = await self._object("POST", path, json=body, idempotent=True, subject=workspace_subject(slug))
        workspace = workspace_object(data)
        if workspace is not None and "slug" not in workspace:
            # {"workspace": {"id": 1}, "message": "No valid fields to update!"}: read it back.
            message = data.get("message")
            return WorkspaceResponse(
                workspace=await self._fetch_workspace(slug),
                message=message if isinstance(message, str) else None,
            )
        return self._workspace_response(data, "POST", path)

    async def delete_workspace(self, slug: WorkspaceRef) -> None:
        """Delete a workspace, its chats and its vectors (the documents stay in storage)."""
        slug = await self._slug(slug)
        path = f"/v1/workspace/{segment(slug)}"
        await self._request("DELETE", path, expect="any", subject=workspace_subject(slug))
        self._known_ids.forget_workspace(slug)

    async def get_or_create_workspace(self, slug: WorkspaceRef, name: str | None = None) -> Workspace:
        """The workspace with this slug, else the one named exactly ``name`` (default: the slug in
        title case, ``"python-docs"`` -> ``"Python Docs"``), else a new one with that name.

        Calling it again with the same arguments finds what the first call found or made, so it
        never creates a second workspace: the server derives a new workspace's slug from its name,
        and when that differs from ``slug`` (a warning says so) the name still finds it. A numeric
        id must name an existing workspace.
        """
        if isinstance(slug, int):
            return await self.get_workspace(slug)
        try:
            return await self.get_workspace(slug)
        except AnythingLLMNotFoundError:
            pass
        name = name or slug.replace("-", " ").title()
        named = [workspace for workspace in await self.list_workspaces() if workspace.name == name]
        if named:
            return await self.get_workspace(min(named, key=lambda workspace: workspace.id or 0).slug)
        created = await self.create_workspace(name)
        if created.workspace.slug != slug:
            log.warning(
                "asked for workspace slug %r; the server named the new workspace %r",
                slug,
                created.workspace.slug,
            )
        return created.workspace

    async def list_workspace_documents(self, slug: WorkspaceRef) -> list[WorkspaceDocument]:
        """The documents embedded in a workspace (``docpath`` = upload ``location``)."""
        return (await self.get_workspace(slug)).documents

    async def list_threads(self, slug: WorkspaceRef) -> list[ThreadSummary]:
        """The threads of a workspace, with names (there is no list-threads route; this reads
        ``GET /v1/workspaces``, the only answer that carries thread names)."""
        slug = await self._slug(slug)
        for workspace in await self.list_workspaces():
            if workspace.slug == slug:
                return workspace.threads
        raise AnythingLLMNotFoundError(
            f"workspace {slug!r} does not exist", status=200, method="GET", path="/v1/workspaces"
        )

    @_deprecated.keyword_only(2, "session_id")
    async def get_workspace_chats(
        self,
        slug: WorkspaceRef,
        *,
        session_id: str | None = None,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> list[ChatMessage]:
        """Chat history of a workspace: without ``session_id`` the shared API history, with it
        that session's (reset chats included). Server defaults: the oldest 100 turns."""
        slug = await self._slug(slug)
        params: dict[str, str | int] = {}
        if session_id is not None:
            params["apiSessionId"] = session_id
        if limit is not None:
            params["limit"] = int(limit)
        if order_by is not None:
            if order_by not in ("asc", "desc"):
                raise ValueError(f"order_by must be 'asc' or 'desc', got {order_by!r}")
            params["orderBy"] = order_by
        history = await self._object(
            "GET",
            f"/v1/workspace/{segment(slug)}/chats",
            "history",
            params=params or None,
            subject=workspace_subject(slug),
        )
        return parse_list(ChatMessage, history)

    @_deprecated.keyword_only(3, "limit", "score_threshold")
    async def search_workspace(
        self, slug: WorkspaceRef, query: str, *, limit: int = 20, score_threshold: float | None = None
    ) -> list[SearchResult]:
        """Vector search without the LLM: the ``limit`` best chunks above ``score_threshold``
        (default: the workspace's similarity threshold). An empty workspace gives ``[]``."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("search_workspace needs a non-empty query")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        body: dict[str, Any] = {"query": query, "topN": limit}
        if score_threshold is not None:
            if not 0 <= score_threshold <= 1:
                raise ValueError(f"score_threshold must be within 0..1, got {score_threshold}")
            body["scoreThreshold"] = score_threshold
        resolved = await self._slug(slug)
        path = f"/v1/workspace/{segment(resolved)}/vector-search"  # only reads: safe to repeat
        results = await self._object(
            "POST", path, "results", json=body, idempotent=True, subject=workspace_subject(resolved)
        )
        return parse_list(SearchResult, results)

    def _workspace_response(self, data: dict[str, Any], method: str, path: str) -> WorkspaceResponse:
        """``{"workspace": {...}, "message": ...}``; an answer without a workspace (the server says
        200 or 400 with ``{"workspace": null, "message": why}``) raises ``AnythingLLMValidationError``."""
        raw = workspace_object(data)
        if raw is None:
            message = data.get("message") or "the server returned no workspace"
            raise AnythingLLMValidationError(
                str(message), status=200, body=data, server_message=str(message), method=method, path=path
            )
        response = parse(WorkspaceResponse, {**data, "workspace": raw})
        self._known_ids.learn(response.workspace)
        return response
