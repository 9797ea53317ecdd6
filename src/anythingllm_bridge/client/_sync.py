"""``AnythingLLM``: the blocking facade of ``AnythingLLMClient``.

No second copy of any logic: the async client runs on an event loop in a background thread
and every method is the async method wrapped by one generic helper (``_blocking``) that
submits the coroutine to that loop and waits. Streams become ordinary iterators: the three
methods that stream with ``stream=True`` (``chat``, ``send_message``, ``openai_chat``) are
written out here only for their types. The list of wrapped names is checked against the async
client by a test, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.client._client import AnythingLLMClient, create_anythingllm_client
from anythingllm_bridge.client.models import (
    ChatMode,
    ChatResponse,
    ChatStreamEvent,
    OpenAIChatChunk,
    OpenAIChatCompletion,
)
from anythingllm_bridge.client.resources._base import ThreadRef, WorkspaceRef
from anythingllm_bridge.client.resources._streams import EventStream
from anythingllm_bridge.client.resources.chat import AttachmentLike
from anythingllm_bridge.client.resources.openai import Message

if TYPE_CHECKING:
    from anythingllm_bridge.client._options import AnythingLLMConfig
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.resilience.breaker_wait import BreakerWait

__all__ = ["AnythingLLM", "SyncStream"]

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E")


class _LoopThread:
    """An event loop running forever in a daemon thread; ``run`` blocks on one coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="anythingllm-sync", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        if not self._thread.is_alive():
            coro.close()
            raise RuntimeError("this AnythingLLM client is closed; create a new one")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("AnythingLLM (sync) methods cannot be called from its own event loop")
        with _deprecated.from_sync_facade():  # its warnings name the caller's line, not the loop's
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        if not self.loop.is_closed():
            self.loop.close()


class SyncStream(Generic[E]):
    """A stream of the async client, iterated synchronously::

        stream = llm.chat("docs", "What is Zorblax?", stream=True)
        for event in stream:
            print(event.text_response or "", end="")
        print(stream.sources, stream.chat_id)

    Attributes of the underlying stream (``text``, ``sources``, ``chat_id``, ...) read through.
    """

    def __init__(self, stream: EventStream[E], runner: _LoopThread) -> None:
        self.stream = stream
        self._runner = runner

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        try:
            return self._runner.run(_next(self.stream))
        except StopAsyncIteration:
            raise StopIteration from None

    def collect(self) -> SyncStream[E]:
        """Read to the end; returns ``self``."""
        for _ in self:
            pass
        return self

    def close(self) -> None:
        """Stop reading and close the connection (also fine after the end)."""
        self._runner.run(self.stream.aclose())

    def __enter__(self) -> SyncStream[E]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


async def _next(stream: EventStream[E]) -> E:
    return await stream.__anext__()


def _blocking(
    method: Callable[Concatenate[AnythingLLMClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[AnythingLLM, P], R]:
    """The blocking twin of an async client method (one that returns a stream: ``_blocking_stream``)."""

    def call(self: AnythingLLM, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._runner.run(method(self._client, *args, **kwargs))

    functools.update_wrapper(call, method)  # name and docstring of the async method
    return call


def _blocking_stream(
    method: Callable[Concatenate[AnythingLLMClient, P], EventStream[E]],
) -> Callable[Concatenate[AnythingLLM, P], SyncStream[E]]:
    """The iterator twin of a client method that returns a stream."""

    def call(self: AnythingLLM, /, *args: P.args, **kwargs: P.kwargs) -> SyncStream[E]:
        with _deprecated.from_sync_facade():
            return SyncStream(method(self._client, *args, **kwargs), self._runner)

    functools.update_wrapper(call, method)
    return call


class AnythingLLM:
    """Blocking client: the same methods as ``AnythingLLMClient``, without ``await``::

        with AnythingLLM("http://localhost:3001", "MY-KEY") as llm:
            for workspace in llm.list_workspaces():
                print(workspace.slug)

    ``base_url`` (or a ``Settings`` / ``AnythingLLMConfig`` in its place), ``api_key`` and
    ``options`` are those of ``AnythingLLMClient`` (timeouts, retries, ...). Use it in a ``with``
    block, or call ``connect()`` and ``close()``.
    """

    def __init__(
        self, base_url: str | Settings | AnythingLLMConfig, api_key: Any = None, **options: Any
    ) -> None:
        self._client = AnythingLLMClient(base_url, api_key, **options)
        self._runner = _LoopThread()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> AnythingLLM:
        """Like ``create_anythingllm_client``: configured from ``Settings``."""
        client = create_anythingllm_client(settings, **overrides)
        facade = cls.__new__(cls)
        facade._client = client
        facade._runner = _LoopThread()
        return facade

    def __repr__(self) -> str:
        return f"AnythingLLM({self._client!r})"

    @property
    def client(self) -> AnythingLLMClient:
        """The async client underneath (its methods must run on this facade's loop)."""
        return self._client

    @property
    def breaker(self) -> Any:
        """The client's circuit breaker (``.state``, ``.failure_count``, ``.snapshot()``)."""
        return self._client.breaker

    @property
    def is_connected(self) -> bool:
        """True between ``connect()`` (or entering ``with``) and ``close()``."""
        return self._client.is_connected

    def connect(self) -> AnythingLLM:
        """Open the HTTP session (``with AnythingLLM(...)`` does this for you)."""
        self._runner.run(self._client.connect())
        return self

    def close(self) -> None:
        """Close the session and stop the background loop; the object cannot be used after."""
        try:
            if self._client.is_connected:
                self._runner.run(self._client.disconnect())
        finally:
            self._runner.stop()

    def with_options(self, *, breaker_wait: BreakerWait | None) -> AnythingLLM:
        """Like ``AnythingLLMClient.with_options``: a view sharing this one's session and loop."""
        view = copy.copy(self)
        view._client = self._client.with_options(breaker_wait=breaker_wait)
        return view

    def __enter__(self) -> AnythingLLM:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _maybe_stream(self, result: Any) -> Any:
        return SyncStream(result, self._runner) if isinstance(result, EventStream) else result

    health_check = _blocking(AnythingLLMClient.health_check)
    ping = _blocking(AnythingLLMClient.ping)
    check_auth = _blocking(AnythingLLMClient.check_auth)
    vector_count = _blocking(AnythingLLMClient.vector_count)
    system_settings = _blocking(AnythingLLMClient.system_settings)

    list_workspaces = _blocking(AnythingLLMClient.list_workspaces)
    get_workspace = _blocking(AnythingLLMClient.get_workspace)
    create_workspace = _blocking(AnythingLLMClient.create_workspace)
    update_workspace = _blocking(AnythingLLMClient.update_workspace)
    delete_workspace = _blocking(AnythingLLMClient.delete_workspace)
    get_or_create_workspace = _blocking(AnythingLLMClient.get_or_create_workspace)
    list_workspace_documents = _blocking(AnythingLLMClient.list_workspace_documents)
    list_threads = _blocking(AnythingLLMClient.list_threads)
    get_workspace_chats = _blocking(AnythingLLMClient.get_workspace_chats)
    search_workspace = _blocking(AnythingLLMClient.search_workspace)

    upload_file = _blocking(AnythingLLMClient.upload_file)
    upload_text = _blocking(AnythingLLMClient.upload_text)
    upload_link = _blocking(AnythingLLMClient.upload_link)
    upload_documents = _blocking(AnythingLLMClient.upload_documents)
    upload_document = _blocking(AnythingLLMClient.upload_document)
    list_documents = _blocking(AnythingLLMClient.list_documents)
    list_folder = _blocking(AnythingLLMClient.list_folder)
    get_document = _blocking(AnythingLLMClient.get_document)
    delete_documents_from_server = _blocking(AnythingLLMClient.delete_documents_from_server)
    remove_documents = _blocking(AnythingLLMClient.remove_documents)
    create_folder = _blocking(AnythingLLMClient.create_folder)
    remove_folder = _blocking(AnythingLLMClient.remove_folder)
    move_files = _blocking(AnythingLLMClient.move_files)
    accepted_file_types = _blocking(AnythingLLMClient.accepted_file_types)
    metadata_schema = _blocking(AnythingLLMClient.metadata_schema)
    update_embeddings = _blocking(AnythingLLMClient.update_embeddings)
    ensure_embedded = _blocking(AnythingLLMClient.ensure_embedded)
    delete_document = _blocking(AnythingLLMClient.delete_document)

    @overload
    def chat(
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
    def chat(
        self,
        slug: WorkspaceRef,
        message: str | None,
        *,
        mode: ChatMode | None = ...,
        session_id: str | None = ...,
        attachments: Sequence[AttachmentLike] | None = ...,
        reset: bool = ...,
        stream: Literal[True],
    ) -> SyncStream[ChatStreamEvent]: ...

    def chat(self, slug: WorkspaceRef, message: str | None, **options: Any) -> Any:
        result = self._runner.run(self._client.chat(slug, message, **options))
        return self._maybe_stream(result)

    @overload
    def send_message(
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
    def send_message(
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
    ) -> SyncStream[ChatStreamEvent]: ...

    def send_message(
        self, slug: WorkspaceRef, thread_slug: ThreadRef, message: str | None, **options: Any
    ) -> Any:
        result = self._runner.run(self._client.send_message(slug, thread_slug, message, **options))
        return self._maybe_stream(result)

    @overload
    def openai_chat(
        self,
        model: WorkspaceRef,
        messages: Sequence[Message],
        *,
        temperature: float = ...,
        stream: Literal[False] = ...,
    ) -> OpenAIChatCompletion: ...

    @overload
    def openai_chat(
        self,
        model: WorkspaceRef,
        messages: Sequence[Message],
        *,
        temperature: float = ...,
        stream: Literal[True],
    ) -> SyncStream[OpenAIChatChunk]: ...

    def openai_chat(self, model: WorkspaceRef, messages: Sequence[Message], **options: Any) -> Any:
        result = self._runner.run(self._client.openai_chat(model, messages, **options))
        return self._maybe_stream(result)

    chat.__doc__ = AnythingLLMClient.chat.__doc__
    send_message.__doc__ = AnythingLLMClient.send_message.__doc__
    openai_chat.__doc__ = AnythingLLMClient.openai_chat.__doc__

    stream_chat = _blocking_stream(AnythingLLMClient.stream_chat)
    create_thread = _blocking(AnythingLLMClient.create_thread)
    update_thread = _blocking(AnythingLLMClient.update_thread)
    delete_thread = _blocking(AnythingLLMClient.delete_thread)
    stream_thread_message = _blocking_stream(AnythingLLMClient.stream_thread_message)
    get_thread_history = _blocking(AnythingLLMClient.get_thread_history)

    openai_complete = _blocking(AnythingLLMClient.openai_complete)
    openai_chat_stream = _blocking_stream(AnythingLLMClient.openai_chat_stream)
    openai_models = _blocking(AnythingLLMClient.openai_models)
    openai_embeddings = _blocking(AnythingLLMClient.openai_embeddings)
    openai_vector_stores = _blocking(AnythingLLMClient.openai_vector_stores)
