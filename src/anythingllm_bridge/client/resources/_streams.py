"""Streams of typed events that refuse to end silently.

The transport yields each server-sent ``data:`` object; these classes type the events, collect
the answer (text, sources, chat id) and, when the connection ends, check that the closing event
arrived. A stream cut before it raises ``AnythingLLMStreamError`` — never a quiet, short answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Generic, Self, TypeVar

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client.models import (
    ChatStreamEvent,
    OpenAIChatChunk,
    Source,
)
from anythingllm_bridge.client.resources._base import parse
from anythingllm_bridge.errors import (
    AnythingLLMChatError,
    AnythingLLMConnectionError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
)

__all__ = ["ChatStream", "EventStream", "OpenAIChatStream"]

EventT = TypeVar("EventT")
OpenEvents = Callable[[], AsyncIterator[dict[str, Any]]]


class EventStream(Generic[EventT]):
    """Base: an async iterator of ``EventT`` over one streamed request (started on first use)."""

    closing_event = "the closing event"

    def __init__(self, open_events: OpenEvents, *, method: str, path: str):
        self._open_events = open_events
        self._method = method
        self._path = path
        self._iterator: AsyncGenerator[EventT, None] | None = None
        self.events_received = 0
        self.completed = False

    @classmethod
    def later(cls, start: Callable[[], Awaitable[EventStream[EventT]]], *, method: str, path: str) -> Self:
        """A stream whose request ``start`` makes on the first iteration: ``start`` returns a
        stream of the same kind (``lambda: client.chat(..., stream=True)``), whose events this one
        yields — so a stream made before its call can be awaited is still that call's stream."""

        async def events() -> AsyncIterator[dict[str, Any]]:
            raw = (await start())._open_events()
            try:
                async for data in raw:
                    yield data
            finally:
                aclose = getattr(raw, "aclose", None)
                if aclose is not None:
                    await aclose()

        return cls(events, method=method, path=path)

    def __aiter__(self) -> EventStream[EventT]:
        return self

    async def __anext__(self) -> EventT:
        if self._iterator is None:
            self._iterator = self._run()
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the connection (also fine after the end)."""
        if self._iterator is not None:
            await self._iterator.aclose()

    async def collect(self) -> Self:
        """Read the whole stream; returns ``self`` (its ``text`` and the rest then complete)."""
        async for _ in self:
            pass
        return self

    async def __aenter__(self) -> EventStream[EventT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _parse(self, data: dict[str, Any]) -> EventT:
        raise NotImplementedError

    def _absorb(self, event: EventT) -> None:
        raise NotImplementedError

    async def _run(self) -> AsyncGenerator[EventT, None]:
        raw = self._open_events()
        try:
            async for data in raw:
                event = self._parse(data)
                self.events_received += 1
                self._absorb(event)
                yield event
        except (AnythingLLMChatError, AnythingLLMTimeoutError):
            raise
        except (AnythingLLMConnectionError, AnythingLLMStreamError) as exc:
            if self.events_received == 0:
                raise
            raise AnythingLLMStreamError(
                f"the stream was cut after {self.events_received} event(s), "
                f"before {self.closing_event}: {exc.message}",
                method=self._method,
                path=self._path,
                trace_id=exc.trace_id,
                attempts=exc.attempts,
            ) from exc
        finally:
            aclose = getattr(raw, "aclose", None)
            if aclose is not None:
                await aclose()
        if not self.completed:
            raise AnythingLLMStreamError(
                f"the stream ended after {self.events_received} event(s) without {self.closing_event}; "
                "the answer is incomplete",
                method=self._method,
                path=self._path,
            )


class ChatStream(EventStream[ChatStreamEvent]):
    """``async for event in await client.chat(..., stream=True)``: typed events as they arrive.

    After (or during) iteration it holds what a ``ChatResponse`` holds: ``text_response`` (the
    answer so far), ``sources`` and ``chat_id`` (from the final event), ``metrics``; and
    ``final`` (the closing event). ``await stream.collect()`` reads it to the end and returns
    the stream.
    """

    closing_event = "its closing event (finalizeResponseStream)"

    def __init__(self, open_events: OpenEvents, *, method: str, path: str):
        super().__init__(open_events, method=method, path=path)
        self.text_response = ""
        self.sources: list[Source] = []
        self.chat_id: int | None = None
        self.metrics: dict[str, Any] = {}
        self.final: ChatStreamEvent | None = None

    def _parse(self, data: dict[str, Any]) -> ChatStreamEvent:
        return parse(ChatStreamEvent, data)

    @property
    def text(self) -> str:
        """Deprecated: ``text_response``."""
        _deprecated.warn("ChatStream.text", ".text_response")
        return self.text_response

    def _absorb(self, event: ChatStreamEvent) -> None:
        if event.type in ("textResponseChunk", "textResponse") and event.text_response:
            self.text_response += event.text_response
        elif event.type == "finalizeResponseStream" and event.text_response and not self.text_response:
            self.text_response = event.text_response
        if event.sources:
            self.sources = list(event.sources)
        if event.chat_id is not None:
            self.chat_id = event.chat_id
        if event.metrics:
            self.metrics = dict(event.metrics)
        if event.is_final:
            self.final = event
            self.completed = True


class OpenAIChatStream(EventStream[OpenAIChatChunk]):
    """Streamed ``/v1/openai/chat/completions``: chunks until one carries a ``finish_reason``
    (AnythingLLM sends no ``[DONE]``). ``text`` accumulates the deltas."""

    closing_event = "a final chunk with a finish_reason"

    def __init__(self, open_events: OpenEvents, *, method: str, path: str):
        super().__init__(open_events, method=method, path=path)
        self.text = ""
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def _parse(self, data: dict[str, Any]) -> OpenAIChatChunk:
        return parse(OpenAIChatChunk, data)

    def _absorb(self, event: OpenAIChatChunk) -> None:
        self.text += event.delta
        if event.usage:
            self.usage = event.usage
        if event.finish_reason is not None:
            self.finish_reason = event.finish_reason
            self.completed = True
            if event.finish_reason == "abort":
                raise AnythingLLMChatError(
                    "the chat was aborted by the server",
                    status=200,
                    body=event.model_dump(by_alias=True),
                    server_message="abort",
                    method=self._method,
                    path=self._path,
                )
