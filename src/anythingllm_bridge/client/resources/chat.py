"""Workspace chat: whole answers and streamed answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anythingllm_bridge.client.models import Attachment, ChatMode, ChatResponse
from anythingllm_bridge.client.resources._base import Resource, parse, segment, workspace_subject
from anythingllm_bridge.client.resources._streams import ChatStream

__all__ = ["ChatMixin", "chat_body"]

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


class ChatMixin(Resource):
    async def chat(
        self,
        slug: str,
        message: str | None,
        *,
        mode: ChatMode | None = None,
        session_id: str | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatResponse:
        """Ask a workspace and wait for the whole answer.

        ``mode``: ``chat``, ``query`` (answer only from documents) or ``automatic`` (default:
        the workspace's setting). ``session_id`` keeps a separate history per end user.
        An ``abort`` answer raises ``AnythingLLMChatError`` (even when the status is 200).
        """
        body = chat_body(message, mode=mode, session_id=session_id, attachments=attachments, reset=reset)
        path = f"/v1/workspace/{segment(slug)}/chat"
        data = await self._object("POST", path, json=body, subject=workspace_subject(slug))
        return parse(ChatResponse, data)

    def stream_chat(
        self,
        slug: str,
        message: str,
        *,
        mode: ChatMode | None = None,
        session_id: str | None = None,
        attachments: Sequence[AttachmentLike] | None = None,
        reset: bool = False,
    ) -> ChatStream:
        """Ask a workspace and get the answer as it is generated::

            stream = client.stream_chat("docs", "What is Zorblax?")
            async for event in stream:
                print(event.text or "", end="")
            print(stream.sources, stream.chat_id)

        The request starts on the first iteration. Sources arrive with the last event. A stream
        that ends before its closing event raises ``AnythingLLMStreamError``. To stop early, use
        ``async with client.stream_chat(...) as stream:`` (or ``await stream.aclose()``) so the
        connection is given back at once.
        """
        body = chat_body(message, mode=mode, session_id=session_id, attachments=attachments, reset=reset)
        path = f"/v1/workspace/{segment(slug)}/stream-chat"
        subject = workspace_subject(slug)
        return ChatStream(
            lambda: self._stream("POST", path, json=body, subject=subject), method="POST", path=path
        )
