"""Workspace chat: a whole answer, or (``stream=True``) the answer as it is generated."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import Attachment, ChatMode, ChatResponse
from anythingllm_bridge.client.resources._base import (
    Resource,
    WorkspaceRef,
    parse,
    segment,
    workspace_subject,
)
from anythingllm_bridge.client.resources._streams import ChatStream

if TYPE_CHECKING:
    from anythingllm_bridge.client._errors import Subject

__all__ = ["AttachmentLike", "ChatMixin", "chat_body", "chat_stream", "fixed_target"]

AttachmentLike = Attachment | dict[str, Any]


def chat_body(
    message: str | None,
    *,
    mode: ChatMode | None = None,
    session_id: str | None = None,
    user_id: int | None = None,
    attachments: Sequence[AttachmentLike] | None = None,
    reset: bool = False,
) -> dict[str, Any]:
    """The JSON body of the chat routes (the server checks message and mode itself)."""
    body: dict[str, Any] = {}
    if message is not None:
        body["message"] = message
    if mode is not None:
        body["mode"] = mode
    if session_id is not None:
        body["sessionId"] = session_id
    if user_id is not None:
        body["userId"] = user_id
    if attachments:
        body["attachments"] = [
            item.to_wire() if isinstance(item, Attachment) else dict(item) for item in attachments
        ]
    if reset:
        body["reset"] = True
    return body


def chat_stream(
    resource: Resource,
    target: Callable[[], Awaitable[tuple[str, Subject]]],
    body: dict[str, Any],
    shown_path: str,
) -> ChatStream:
    """A ``ChatStream`` of ``POST path``, where ``target`` works out the path and what it names
    (resolving ids) when the stream starts, on its first iteration; ``shown_path`` names the route
    in the stream's own errors."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        path, subject = await target()
        async with contextlib.aclosing(resource._stream("POST", path, json=body, subject=subject)) as raw:
            async for data in raw:
                yield data

    return ChatStream(events, method="POST", path=shown_path)


def fixed_target(path: str, subject: Subject) -> Callable[[], Awaitable[tuple[str, Subject]]]:
    """A ``chat_stream`` target already worked out."""

    async def target() -> tuple[str, Subject]:
        return path, subject

    return target


class ChatMixin(Resource):
    """Chat with a workspace (its documents and the LLM)."""

    @overload
    async def chat(
        self,
        slug: WorkspaceRef,
        message: str | None,
        *,
        mode: ChatMode | None = ...,
        session_id: str | None = ...,
        attachments: Sequence[AttachmentLike] | None = ...,
        reset: bool = ...,
        stream: Literal[False] = ...,
    ) -> ChatResponse: ...

    @overload
    async def chat(
        self,
        slug: WorkspaceRef,
        message: str | None,
        *,
        mode: ChatMode | None = ...,
        session_id: str | None = ...,
        attachments: Sequence[AttachmentLike] | None = ...,
        reset: bool = ...,
        stream: Literal[True],
    ) -> ChatStream: ...

    async def chat(
        self,
        slug: WorkspaceRef,
        message: str | None,
        *,
        mode: ChatMode | None = None,
        session_id: str | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
        stream: bool = False,
    ) -> ChatResponse | ChatStream:
        """Ask a workspace: the whole answer, or with ``stream=True`` the answer as it is
        generated.

        ``mode``: ``chat``, ``query`` (answer only from documents) or ``automatic`` (default:
        the workspace's setting). ``session_id`` keeps a separate history per end user.
        ``attachments``: images, or documents (``mime="application/anythingllm-document"``).
        ``reset=True`` clears the history (``message`` may then be ``None``).
        An ``abort`` answer raises ``AnythingLLMChatError`` (even when the status is 200).

        With ``stream=True`` the result is a ``ChatStream``::

            stream = await client.chat("docs", "What is Zorblax?", stream=True)
            async for event in stream:
                print(event.text_response or "", end="")
            print(stream.sources, stream.chat_id)

        The request starts on the first iteration; sources arrive with the last event. A stream
        that ends before its closing event raises ``AnythingLLMStreamError``. To stop early, use
        ``async with stream:`` (or ``await stream.aclose()``) so the connection is given back
        at once.
        """
        body = chat_body(message, mode=mode, session_id=session_id, attachments=attachments, reset=reset)
        resolved = await self._slug(slug)
        path = f"/v1/workspace/{segment(resolved)}"
        subject = workspace_subject(resolved)
        if stream:
            return chat_stream(
                self, fixed_target(f"{path}/stream-chat", subject), body, f"{path}/stream-chat"
            )
        data = await self._object("POST", f"{path}/chat", json=body, subject=subject)
        return parse(ChatResponse, data)

    def stream_chat(
        self,
        slug: WorkspaceRef,
        message: str,
        *,
        mode: ChatMode | None = None,
        session_id: str | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatStream:
        """Deprecated: ``await chat(..., stream=True)``."""
        _deprecated.warn("stream_chat(...)", "await chat(..., stream=True)")
        body = chat_body(message, mode=mode, session_id=session_id, attachments=attachments, reset=reset)

        async def target() -> tuple[str, Subject]:
            resolved = await self._slug(slug)
            return f"/v1/workspace/{segment(resolved)}/stream-chat", workspace_subject(resolved)

        return chat_stream(self, target, body, f"/v1/workspace/{slug}/stream-chat")
