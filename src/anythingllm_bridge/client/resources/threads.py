"""Threads: separate conversations inside a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import ChatMessage, ChatMode, ChatResponse, ThreadResponse
from anythingllm_bridge.client.resources._base import (
    Resource,
    ThreadRef,
    WorkspaceRef,
    parse,
    parse_list,
    segment,
    thread_subject,
    workspace_subject,
)
from anythingllm_bridge.client.resources._streams import ChatStream
from anythingllm_bridge.client.resources.chat import AttachmentLike, chat_body, chat_stream
from anythingllm_bridge.errors import AnythingLLMValidationError

if TYPE_CHECKING:
    from anythingllm_bridge.client._errors import Subject

__all__ = ["ThreadsMixin"]


def _thread_path(slug: str, thread_slug: str) -> str:
    return f"/v1/workspace/{segment(slug)}/thread/{segment(thread_slug, 'thread slug')}"


class ThreadsMixin(Resource):
    """Threads. A thread is named by its slug, or by the numeric ``id`` of a thread this client
    created or renamed (the server lists threads without ids)."""

    async def _thread_route(
        self, slug: WorkspaceRef, thread_slug: ThreadRef, *, crashes: bool = False
    ) -> tuple[str, Subject]:
        """The thread's route and what it names (``crashes``: see ``thread_subject``)."""
        workspace, thread = await self._slug(slug), await self._thread_slug(thread_slug)
        return _thread_path(workspace, thread), thread_subject(workspace, thread, crashes=crashes)

    async def create_thread(
        self,
        slug: WorkspaceRef,
        name: str | None = None,
        *,
        thread_slug: str | None = None,
        user_id: int | None = None,
    ) -> ThreadResponse:
        """Start a thread in a workspace; the answer is the server's: ``.thread`` and ``.message``.

        Without ``name`` the server calls it "Thread" (and renames it after the first message).
        Thread slugs keep their case and are unique across all workspaces; without
        ``thread_slug`` the server picks a UUID. Read ``.thread.slug``.
        """
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if thread_slug is not None:
            body["slug"] = thread_slug
        if user_id is not None:
            body["userId"] = user_id
        resolved = await self._slug(slug)
        path = f"/v1/workspace/{segment(resolved)}/thread/new"
        data = await self._object("POST", path, json=body, subject=workspace_subject(resolved))
        return self._thread_response(data, "POST", path)

    async def update_thread(self, slug: WorkspaceRef, thread_slug: ThreadRef, name: str) -> ThreadResponse:
        """Rename a thread (its slug stays); the answer is the server's: ``.thread``, ``.message``."""
        route, subject = await self._thread_route(slug, thread_slug)
        path = f"{route}/update"  # sets a field: safe to repeat
        data = await self._object("POST", path, json={"name": name}, idempotent=True, subject=subject)
        return self._thread_response(data, "POST", path)

    async def delete_thread(self, slug: WorkspaceRef, thread_slug: ThreadRef) -> None:
        """Delete a thread and its chats (the server says OK for unknown threads too)."""
        route, subject = await self._thread_route(slug, thread_slug)
        await self._request("DELETE", route, expect="any", subject=subject)

    @overload
    async def send_message(
        self,
        slug: WorkspaceRef,
        thread_slug: ThreadRef,
        message: str | None,
        *,
        mode: ChatMode | None = ...,
        user_id: int | None = ...,
        attachments: Sequence[AttachmentLike] | None = ...,
        reset: bool = ...,
        stream: Literal[False] = ...,
    ) -> ChatResponse: ...

    @overload
    async def send_message(
        self,
        slug: WorkspaceRef,
        thread_slug: ThreadRef,
        message: str | None,
        *,
        mode: ChatMode | None = ...,
        user_id: int | None = ...,
        attachments: Sequence[AttachmentLike] | None = ...,
        reset: bool = ...,
        stream: Literal[True],
    ) -> ChatStream: ...

    async def send_message(
        self,
        slug: WorkspaceRef,
        thread_slug: ThreadRef,
        message: str | None,
        *,
        mode: ChatMode | None = None,
        user_id: int | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
        stream: bool = False,
    ) -> ChatResponse | ChatStream:
        """Chat inside a thread (the thread keeps the history): the whole answer, or with
        ``stream=True`` a ``ChatStream`` (see ``chat``).

        The options are ``chat``'s, except that a thread route takes ``user_id`` (the user the
        chat is attributed to) where the workspace route takes ``session_id``: each route
        ignores the other. An unknown workspace or thread raises ``AnythingLLMNotFoundError``.
        """
        body = chat_body(message, mode=mode, user_id=user_id, attachments=attachments, reset=reset)
        if stream:
            route, subject = await self._thread_route(slug, thread_slug, crashes=True)
            return chat_stream(self, f"{route}/stream-chat", subject, body)
        route, subject = await self._thread_route(slug, thread_slug)
        data = await self._object("POST", f"{route}/chat", json=body, subject=subject)
        return parse(ChatResponse, data)

    def stream_thread_message(
        self,
        slug: WorkspaceRef,
        thread_slug: ThreadRef,
        message: str,
        *,
        mode: ChatMode | None = None,
        user_id: int | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatStream:
        """Deprecated: ``await send_message(..., stream=True)``."""
        _deprecated.warn("stream_thread_message(...)", "await send_message(..., stream=True)")
        return ChatStream.later(
            lambda: self.send_message(
                slug,
                thread_slug,
                message,
                mode=mode,
                user_id=user_id,
                attachments=attachments,
                reset=reset,
                stream=True,
            ),
            method="POST",
            path=f"/v1/workspace/{slug}/thread/{thread_slug}/stream-chat",
        )

    async def get_thread_history(self, slug: WorkspaceRef, thread_slug: ThreadRef) -> list[ChatMessage]:
        """Every (non-reset) turn of a thread, oldest first."""
        route, subject = await self._thread_route(slug, thread_slug)
        return parse_list(
            ChatMessage, await self._object("GET", f"{route}/chats", "history", subject=subject)
        )

    def _thread_response(self, data: dict[str, Any], method: str, path: str) -> ThreadResponse:
        raw = data.get("thread")
        if not isinstance(raw, dict) or "slug" not in raw:
            # {"thread": null, "message": "<database error>"} arrives with HTTP 200.
            message = str(data.get("message") or "the server returned no thread")
            raise AnythingLLMValidationError(
                message, status=200, body=data, server_message=message, method=method, path=path
            )
        response = parse(ThreadResponse, data)
        self._known_ids.learn(response.thread)
        return response
