"""The OpenAI-compatible routes: workspaces play the role of models (``model`` = slug)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client._errors import Subject
from anythingllm_bridge.client.models import OpenAIChatCompletion, OpenAIEmbeddings, OpenAIModel
from anythingllm_bridge.client.resources._base import Resource, WorkspaceRef, parse, parse_list
from anythingllm_bridge.client.resources._streams import OpenAIChatStream

__all__ = ["OpenAIMixin"]

Message = dict[str, Any]
CHAT_PATH = "/v1/openai/chat/completions"


def _model(model: str) -> Subject:
    """The chat's ``model`` is a workspace slug; an unknown one is answered with an empty 401."""
    return Subject(f"the workspace slug {model!r} given as the model", bare=401)


class OpenAIMixin(Resource):
    """The OpenAI-compatible routes: a workspace is a model, ``model`` its slug (or id)."""

    @overload
    async def openai_chat(
        self,
        model: WorkspaceRef,
        messages: Sequence[Message],
        *,
        temperature: float = ...,
        stream: Literal[False] = ...,
    ) -> OpenAIChatCompletion: ...

    @overload
    async def openai_chat(
        self,
        model: WorkspaceRef,
        messages: Sequence[Message],
        *,
        temperature: float = ...,
        stream: Literal[True],
    ) -> OpenAIChatStream: ...

    async def openai_chat(
        self,
        model: WorkspaceRef,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        stream: bool = False,
    ) -> OpenAIChatCompletion | OpenAIChatStream:
        """OpenAI-style chat with the workspace ``model`` (its slug). The last message must be
        the user's. An unknown slug raises ``AnythingLLMNotFoundError`` (the server says 401).
        ``temperature`` is always sent: the server would otherwise pass NaN to the provider.

        With ``stream=True`` the result is an ``OpenAIChatStream``: ``async for chunk in stream:
        chunk.delta``, then ``stream.text``; it ends with a chunk that has a ``finish_reason``.
        """
        slug = await self._slug(model)
        body = {
            "model": slug,
            "messages": list(messages),
            "temperature": temperature,
            "stream": stream,
        }
        subject = _model(slug)
        if stream:
            return OpenAIChatStream(
                lambda: self._stream("POST", CHAT_PATH, json=body, subject=subject),
                method="POST",
                path=CHAT_PATH,
            )
        data = await self._object("POST", CHAT_PATH, json=body, subject=subject)
        return parse(OpenAIChatCompletion, data)

    async def openai_complete(
        self, model: WorkspaceRef, messages: Sequence[Message], *, temperature: float = 0.7
    ) -> OpenAIChatCompletion:
        """Deprecated: ``await openai_chat(...)``."""
        _deprecated.warn("openai_complete(...)", "await openai_chat(...)")
        return await self.openai_chat(model, messages, temperature=temperature)

    def openai_chat_stream(
        self, model: WorkspaceRef, messages: Sequence[Message], *, temperature: float = 0.7
    ) -> OpenAIChatStream:
        """Deprecated: ``await openai_chat(..., stream=True)``."""
        _deprecated.warn("openai_chat_stream(...)", "await openai_chat(..., stream=True)")

        return OpenAIChatStream.later(
            lambda: self.openai_chat(model, messages, temperature=temperature, stream=True),
            method="POST",
            path=CHAT_PATH,
        )

    async def openai_models(self) -> list[OpenAIModel]:
        """Every workspace as an OpenAI model entry."""
        data = await self._object("GET", "/v1/openai/models", "data")
        return parse_list(OpenAIModel, data)

    async def openai_embeddings(self, inputs: str | Sequence[str]) -> OpenAIEmbeddings:
        """Embed text with the server's embedder (``.vectors`` in input order)."""
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        if not items or not all(isinstance(item, str) and item for item in items):
            raise ValueError("openai_embeddings needs one or more non-empty strings")
        # only computes vectors: safe to repeat
        data = await self._object("POST", "/v1/openai/embeddings", json={"input": items}, idempotent=True)
        return parse(OpenAIEmbeddings, data)

    async def openai_vector_stores(self) -> list[dict[str, Any]]:
        """Workspaces as OpenAI vector stores (``id`` = slug, ``file_counts``)."""
        data = await self._object("GET", "/v1/openai/vector_stores", "data")
        return list(data or [])
