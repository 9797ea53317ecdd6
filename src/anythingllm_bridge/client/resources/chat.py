"""Workspace chat: a whole answer, or (``stream=True``) the answer as it is generated."""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["AttachmentLike", "ChatMixin", "chat_body", "chat_stream"]

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


def chat_stream(resource: Resource, path: str, subject: Subject, body: dict[str, Any]) -> ChatStream:
    """A ``ChatStream`` of ``POST path``; the request is made on its first iteration."""
    return ChatStream(
        lambda: resource._stream("POST", path, json=body, subject=subject), method="POST", path=path
    )


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
            return chat_stream(self, f"{path}/stream-chat", subject, body)
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
        return ChatStream.later(
            lambda: self.chat(
                slug,
                message,
                mode=mode,
                session_id=session_id,
                attachments=attachments,
                reset=reset,
                stream=True,
            ),
            method="POST",
            path=f"/v1/workspace/{slug}/stream-chat",
        )
