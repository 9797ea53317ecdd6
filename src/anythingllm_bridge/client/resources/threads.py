"""Threads: separate conversations inside a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import ChatMessage, ChatMode, ChatResponse, ThreadResponse
from anythingllm_bridge.client.resources._base import (
    Resource,
    ThreadRef,
    WorkspaceRef,
    parse,
    parse_list,
    segment,
)
from anythingllm_bridge.client.resources._streams import ChatStream
from anythingllm_bridge.client.resources.chat import AttachmentLike, chat_body, chat_stream
from anythingllm_bridge.errors import AnythingLLMValidationError

__all__ = ["ThreadsMixin"]


def _thread_path(slug: str, thread_slug: str) -> str:
    return f"/v1/workspace/{segment(slug)}/thread/{segment(thread_slug, 'thread slug')}"


class ThreadsMixin(Resource):
    """Threads. A thread is named by its slug, or by the numeric ``id`` of a thread this client
    created or renamed (the server lists threads without ids)."""

    async def _thread_route(self, slug: WorkspaceRef, thread_slug: ThreadRef) -> str:
        return _thread_path(await self._slug(slug), await self._thread_slug(thread_slug))

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
        path = f"/v1/workspace/{segment(await self._slug(slug))}/thread/new"
        data = await self._object("POST", path, json=body)
        return self._thread_response(data, "POST", path)

    async def update_thread(self, slug: WorkspaceRef, thread_slug: ThreadRef, name: str) -> ThreadResponse:
        """Rename a thread (its slug stays); the answer is the server's: ``.thread``, ``.message``."""
        path = f"{await self._thread_route(slug, thread_slug)}/update"
        data = await self._object("POST", path, json={"name": name})
        return self._thread_response(data, "POST", path)

    async def delete_thread(self, slug: WorkspaceRef, thread_slug: ThreadRef) -> None:
        """Delete a thread and its chats (the server says OK for unknown threads too)."""
        await self._transport.request("DELETE", await self._thread_route(slug, thread_slug), expect="any")

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
        path = await self._thread_route(slug, thread_slug)
        if stream:
            return chat_stream(self._transport, f"{path}/stream-chat", body, f"{path}/stream-chat")
        data = await self._object("POST", f"{path}/chat", json=body)
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
        body = chat_body(message, mode=mode, user_id=user_id, attachments=attachments, reset=reset)

        async def path() -> str:
            return f"{await self._thread_route(slug, thread_slug)}/stream-chat"

        return chat_stream(
            self._transport, path, body, f"/v1/workspace/{slug}/thread/{thread_slug}/stream-chat"
        )

    async def get_thread_history(self, slug: WorkspaceRef, thread_slug: ThreadRef) -> list[ChatMessage]:
        """Every (non-reset) turn of a thread, oldest first."""
        path = f"{await self._thread_route(slug, thread_slug)}/chats"
        return parse_list(ChatMessage, await self._object("GET", path, "history"))

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
