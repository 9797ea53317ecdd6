"""Threads: separate conversations inside a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anythingllm_bridge.client.models import ChatMessage, ChatMode, ChatResponse, Thread
from anythingllm_bridge.client.resources._base import Resource, parse, parse_list, segment
from anythingllm_bridge.client.resources._streams import ChatStream
from anythingllm_bridge.client.resources.chat import AttachmentLike, chat_body
from anythingllm_bridge.errors import AnythingLLMValidationError

__all__ = ["ThreadsMixin"]


def _thread_path(slug: str, thread_slug: str) -> str:
    return f"/v1/workspace/{segment(slug)}/thread/{segment(thread_slug, 'thread slug')}"


class ThreadsMixin(Resource):
    async def create_thread(
        self,
        slug: str,
        *,
        name: str | None = None,
        thread_slug: str | None = None,
        user_id: int | None = None,
    ) -> Thread:
        """Start a thread in a workspace. Thread slugs keep their case and are unique across all
        workspaces; without ``thread_slug`` the server picks a UUID. Read ``.slug``."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if thread_slug is not None:
            body["slug"] = thread_slug
        if user_id is not None:
            body["userId"] = user_id
        path = f"/v1/workspace/{segment(slug)}/thread/new"
        data = await self._object("POST", path, json=body)
        return self._thread_from(data, "POST", path)

    async def update_thread(self, slug: str, thread_slug: str, name: str) -> Thread:
        """Rename a thread (its slug stays)."""
        path = f"{_thread_path(slug, thread_slug)}/update"
        data = await self._object("POST", path, json={"name": name})
        return self._thread_from(data, "POST", path)

    async def delete_thread(self, slug: str, thread_slug: str) -> None:
        """Delete a thread and its chats (the server says OK for unknown threads too)."""
        await self._transport.request("DELETE", _thread_path(slug, thread_slug), expect="any")

    async def send_message(
        self,
        slug: str,
        thread_slug: str,
        message: str | None,
        *,
        mode: ChatMode | None = None,
        user_id: int | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatResponse:
        """Chat inside a thread (the thread keeps the history)."""
        body = chat_body(message, mode=mode, user_id=user_id, attachments=attachments, reset=reset)
        data = await self._object("POST", f"{_thread_path(slug, thread_slug)}/chat", json=body)
        return parse(ChatResponse, data)

    def stream_thread_message(
        self,
        slug: str,
        thread_slug: str,
        message: str,
        *,
        mode: ChatMode | None = None,
        user_id: int | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatStream:
        """Chat inside a thread, streamed (see ``stream_chat``). An unknown workspace or thread
        raises ``AnythingLLMNotFoundError`` (the server's confusing answers for both are mapped by
        the transport)."""
        body = chat_body(message, mode=mode, user_id=user_id, attachments=attachments, reset=reset)
        path = f"{_thread_path(slug, thread_slug)}/stream-chat"
        return ChatStream(lambda: self._transport.stream("POST", path, json=body), method="POST", path=path)

    async def get_thread_history(self, slug: str, thread_slug: str) -> list[ChatMessage]:
        """Every (non-reset) turn of a thread, oldest first."""
        history = await self._object("GET", f"{_thread_path(slug, thread_slug)}/chats", "history")
        return parse_list(ChatMessage, history)

    @staticmethod
    def _thread_from(data: dict[str, Any], method: str, path: str) -> Thread:
        raw = data.get("thread")
        if not isinstance(raw, dict) or "slug" not in raw:
            # {"thread": null, "message": "<database error>"} arrives with HTTP 200.
            message = str(data.get("message") or "the server returned no thread")
            raise AnythingLLMValidationError(
                message, status=200, body=data, server_message=message, method=method, path=path
            )
        return parse(Thread, raw)
