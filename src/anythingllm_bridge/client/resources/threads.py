"""Threads: separate conversations inside a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anythingllm_bridge.client.models import ChatMessage, ChatMode, ChatResponse, Thread
from anythingllm_bridge.client.resources._base import (
    Resource,
    parse,
    parse_list,
    segment,
    thread_subject,
    workspace_subject,
)
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
        data = await self._object("POST", path, json=body, subject=workspace_subject(slug))
        return self._thread_from(data, "POST", path)

    async def update_thread(self, slug: str, thread_slug: str, name: str) -> Thread:
        """Rename a thread (its slug stays)."""
        path = f"{_thread_path(slug, thread_slug)}/update"  # sets a field: safe to repeat
        data = await self._object(
            "POST", path, json={"name": name}, idempotent=True, subject=thread_subject(slug, thread_slug)
        )
        return self._thread_from(data, "POST", path)

    async def delete_thread(self, slug: str, thread_slug: str) -> None:
        """Delete a thread and its chats (the server says OK for unknown threads too)."""
        subject = thread_subject(slug, thread_slug)
        await self._request("DELETE", _thread_path(slug, thread_slug), expect="any", subject=subject)

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
        path = f"{_thread_path(slug, thread_slug)}/chat"
        data = await self._object("POST", path, json=body, subject=thread_subject(slug, thread_slug))
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
        raises ``AnythingLLMNotFoundError`` (for an unknown workspace the server crashes, answering
        one abort line)."""
        body = chat_body(message, mode=mode, user_id=user_id, attachments=attachments, reset=reset)
        path = f"{_thread_path(slug, thread_slug)}/stream-chat"
        subject = thread_subject(slug, thread_slug, crashes=True)
        return ChatStream(
            lambda: self._stream("POST", path, json=body, subject=subject), method="POST", path=path
        )

    async def get_thread_history(self, slug: str, thread_slug: str) -> list[ChatMessage]:
        """Every (non-reset) turn of a thread, oldest first."""
        path = f"{_thread_path(slug, thread_slug)}/chats"
        history = await self._object("GET", path, "history", subject=thread_subject(slug, thread_slug))
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
