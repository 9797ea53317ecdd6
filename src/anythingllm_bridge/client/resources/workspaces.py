"""Workspaces: list, get, create, update, delete, their documents, chat history and search."""

from __future__ import annotations

import logging
from typing import Any

from anythingllm_bridge.client.models import (
    WORKSPACE_SETTINGS,
    ChatMessage,
    ChatMode,
    SearchResult,
    ThreadSummary,
    Workspace,
    WorkspaceDocument,
)
from anythingllm_bridge.client.resources._base import Resource, parse, parse_list, segment, workspace_subject
from anythingllm_bridge.errors import AnythingLLMNotFoundError, AnythingLLMValidationError

__all__ = ["WorkspacesMixin"]

log = logging.getLogger("anythingllm_bridge.client")


def _settings_body(settings: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Python keyword settings -> the server's field names, dropping ``None``."""
    body = {WORKSPACE_SETTINGS[key]: value for key, value in settings.items() if value is not None}
    body.update(extra)
    return body


class WorkspacesMixin(Resource):
    async def list_workspaces(self) -> list[Workspace]:
        """Every workspace, each with its threads (slug and name). No documents here."""
        items = await self._object("GET", "/v1/workspaces", "workspaces")
        return parse_list(Workspace, items)

    async def get_workspace(self, slug: str) -> Workspace:
        """One workspace with its ``documents`` and ``threads``.

        Raises ``AnythingLLMNotFoundError`` for an unknown slug (the server says 200 ``[]``).
        """
        return await self._fetch_workspace(slug)

    async def create_workspace(
        self,
        name: str,
        *,
        chat_provider: str | None = None,
        chat_model: str | None = None,
        temperature: float | None = None,
        chat_mode: ChatMode | None = None,
        similarity_threshold: float | None = None,
        top_n: int | None = None,
        prompt: str | None = None,
        history: int | None = None,
        query_refusal_response: str | None = None,
        vector_search_mode: str | None = None,
        agent_provider: str | None = None,
        agent_model: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Workspace:
        """Create a workspace. The server makes the slug from the name: read ``.slug``.

        ``extra`` passes further server fields verbatim (wire names, e.g. ``{"router_id": 2}``).
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a workspace needs a non-empty name, got {name!r}")
        settings = {
            "name": name,
            "chat_provider": chat_provider,
            "chat_model": chat_model,
            "temperature": temperature,
            "chat_mode": chat_mode,
            "similarity_threshold": similarity_threshold,
            "top_n": top_n,
            "prompt": prompt,
            "history": history,
            "query_refusal_response": query_refusal_response,
            "vector_search_mode": vector_search_mode,
            "agent_provider": agent_provider,
            "agent_model": agent_model,
        }
        data = await self._object("POST", "/v1/workspace/new", json=_settings_body(settings, extra or {}))
        return self._workspace_from(data, "POST", "/v1/workspace/new")

    async def update_workspace(
        self,
        slug: str,
        *,
        name: str | None = None,
        chat_provider: str | None = None,
        chat_model: str | None = None,
        temperature: float | None = None,
        chat_mode: ChatMode | None = None,
        similarity_threshold: float | None = None,
        top_n: int | None = None,
        prompt: str | None = None,
        history: int | None = None,
        query_refusal_response: str | None = None,
        vector_search_mode: str | None = None,
        agent_provider: str | None = None,
        agent_model: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Workspace:
        """Change workspace settings (renaming keeps the slug). Returns the updated workspace."""
        settings = {
            "name": name,
            "chat_provider": chat_provider,
            "chat_model": chat_model,
            "temperature": temperature,
            "chat_mode": chat_mode,
            "similarity_threshold": similarity_threshold,
            "top_n": top_n,
            "prompt": prompt,
            "history": history,
            "query_refusal_response": query_refusal_response,
            "vector_search_mode": vector_search_mode,
            "agent_provider": agent_provider,
            "agent_model": agent_model,
        }
        body = _settings_body(settings, extra or {})
        if not body:
            raise ValueError("update_workspace needs at least one setting to change")
        path = f"/v1/workspace/{segment(slug)}/update"  # sets fields: safe to repeat
        data = await self._object("POST", path, json=body, idempotent=True, subject=workspace_subject(slug))
        workspace = data.get("workspace")
        if isinstance(workspace, dict) and "slug" not in workspace:
            # {"workspace": {"id": 1}, "message": "No valid fields to update!"}: read it back.
            return await self._fetch_workspace(slug)
        return self._workspace_from(data, "POST", path)

    async def delete_workspace(self, slug: str) -> None:
        """Delete a workspace, its chats and its vectors (the documents stay in storage)."""
        path = f"/v1/workspace/{segment(slug)}"
        await self._request("DELETE", path, expect="any", subject=workspace_subject(slug))

    async def get_or_create_workspace(self, slug: str, name: str | None = None) -> Workspace:
        """The workspace with this slug, created (named ``name`` or the slug) if it is missing.

        The server derives the new slug from the name; if that differs from ``slug`` a warning
        is logged and the created workspace (with its real slug) is returned.
        """
        try:
            return await self._fetch_workspace(slug)
        except AnythingLLMNotFoundError:
            pass
        workspace = await self.create_workspace(name or slug)
        if workspace.slug != slug:
            log.warning(
                "asked for workspace slug %r; the server named the new workspace %r", slug, workspace.slug
            )
        return workspace

    async def list_workspace_documents(self, slug: str) -> list[WorkspaceDocument]:
        """The documents embedded in a workspace (``docpath`` = upload ``location``)."""
        return (await self._fetch_workspace(slug)).documents

    async def list_threads(self, slug: str) -> list[ThreadSummary]:
        """The threads of a workspace, with names (there is no list-threads route; this reads
        ``GET /v1/workspaces``, the only answer that carries thread names)."""
        for workspace in await self.list_workspaces():
            if workspace.slug == slug:
                return workspace.threads
        raise AnythingLLMNotFoundError(
            f"workspace {slug!r} does not exist", status=200, method="GET", path="/v1/workspaces"
        )

    async def get_workspace_chats(
        self,
        slug: str,
        session_id: str | None = None,
        *,
        limit: int | None = None,
        order_by: str | None = None,
    ) -> list[ChatMessage]:
        """Chat history of a workspace: without ``session_id`` the shared API history, with it
        that session's (reset chats included). Server defaults: the oldest 100 turns."""
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

    async def search_workspace(
        self, slug: str, query: str, limit: int = 20, score_threshold: float | None = None
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
        path = f"/v1/workspace/{segment(slug)}/vector-search"  # only reads: safe to repeat
        results = await self._object(
            "POST", path, "results", json=body, idempotent=True, subject=workspace_subject(slug)
        )
        return parse_list(SearchResult, results)

    @staticmethod
    def _workspace_from(data: dict[str, Any], method: str, path: str) -> Workspace:
        raw = data.get("workspace")
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        if not isinstance(raw, dict):
            message = data.get("message") or "the server returned no workspace"
            raise AnythingLLMValidationError(
                str(message), status=200, body=data, server_message=str(message), method=method, path=path
            )
        return parse(Workspace, raw)
