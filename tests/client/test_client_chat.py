"""Chat, streamed chat, threads and history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, ChatStream, ChatStreamEvent, Workspace
from anythingllm_bridge.errors import (
    AnythingLLMChatError,
    AnythingLLMNotFoundError,
    AnythingLLMStreamError,
    AnythingLLMValidationError,
)
from support import Server, make_client


async def drain(stream: ChatStream, into: list[ChatStreamEvent]) -> None:
    async for event in stream:
        into.append(event)


FACT = "The Zorblax protocol uses three handshake phases called ping, pong and plonk."


@pytest.fixture
async def loaded(client: AnythingLLMClient, server: Server, workspace: Workspace) -> Workspace:
    """The test workspace with one embedded document."""
    upload = await client.upload_text("Zorblax", FACT, workspaces=workspace.slug)
    server.created_documents.append(upload.location)
    return workspace


async def test_chat_answers_with_sources(client: AnythingLLMClient, loaded: Workspace) -> None:
    answer = await client.chat(loaded.slug, "What handshake phases does Zorblax use?", mode="chat")
    assert answer.type == "textResponse"
    assert answer.text_response
    assert answer.chat_id is not None
    assert answer.sources
    assert "plonk" in (answer.sources[0].text or "")
    assert answer.sources[0].score is not None


async def test_chat_sessions_keep_separate_histories(client: AnythingLLMClient, loaded: Workspace) -> None:
    await client.chat(loaded.slug, "Question from Alice", session_id="alice")
    await client.chat(loaded.slug, "Question from Bob", session_id="bob")
    alice = await client.get_workspace_chats(loaded.slug, session_id="alice")
    assert [m.role for m in alice] == ["user", "assistant"]
    assert alice[0].content == "Question from Alice"
    assert alice[1].sources
    assert alice[0].sent_at is not None
    newest = await client.get_workspace_chats(loaded.slug, session_id="bob", limit=1, order_by="desc")
    assert len(newest) >= 1


async def test_a_streamed_answer_joins_its_session_history(
    client: AnythingLLMClient, loaded: Workspace
) -> None:
    first = await (
        await client.chat(loaded.slug, "Streamed from Carol", session_id="carol", stream=True)
    ).collect()
    assert first.completed
    history = await client.get_workspace_chats(loaded.slug, session_id="carol")
    assert [(m.role, m.content) for m in history] == [
        ("user", "Streamed from Carol"),
        ("assistant", first.text_response),
    ]
    await (await client.chat(loaded.slug, "Dave here", session_id="dave", stream=True)).collect()
    await (await client.chat(loaded.slug, "Carol again", session_id="carol", stream=True)).collect()
    carol = await client.get_workspace_chats(loaded.slug, session_id="carol")
    assert [m.content for m in carol if m.role == "user"] == ["Streamed from Carol", "Carol again"]
    dave = await client.get_workspace_chats(loaded.slug, session_id="dave")
    assert [m.content for m in dave if m.role == "user"] == ["Dave here"]


async def test_query_mode_without_matches_refuses(client: AnythingLLMClient, workspace: Workspace) -> None:
    answer = await client.chat(workspace.slug, "anything here?", mode="query")
    assert answer.sources == []
    assert answer.chat_id is None
    assert answer.text_response


async def test_chat_errors(client: AnythingLLMClient, loaded: Workspace) -> None:
    with pytest.raises(AnythingLLMNotFoundError):  # 400 abort "... is not a valid workspace."
        await client.chat("no-such-workspace-xyz", "hi")
    with pytest.raises(AnythingLLMChatError) as caught:  # 400 abort "Message is empty"
        await client.chat(loaded.slug, None)
    assert caught.value.server_message == "Message is empty"
    with pytest.raises(AnythingLLMChatError) as caught:  # 400 abort "banana is not a valid mode."
        await client.chat(loaded.slug, "hi", mode="banana")  # type: ignore[arg-type]
    assert "banana" in (caught.value.server_message or "")


async def test_stream_chat_collects_text_sources_and_chat_id(
    client: AnythingLLMClient, loaded: Workspace
) -> None:
    stream = await client.chat(
        loaded.slug, "What handshake phases does Zorblax use?", mode="chat", stream=True
    )
    assert isinstance(stream, ChatStream)
    events = [event async for event in stream]
    assert len(events) >= 2
    assert events[-1].type == "finalizeResponseStream"
    assert stream.completed
    assert stream.text_response == "".join(
        e.text_response or "" for e in events if e.type == "textResponseChunk"
    )
    assert stream.text_response
    assert stream.sources  # sources only arrive with the final event
    assert all(not e.sources for e in events if e.type == "textResponseChunk")
    assert stream.chat_id is not None
    assert stream.final is events[-1]


async def test_stopping_a_stream_early_gives_the_connection_back(
    emulator: Any, emu_workspace: Workspace
) -> None:
    await_upload = make_client(emulator.url, emulator.api_key, max_concurrency=1)
    async with await_upload as single:  # one request at a time: a leaked slot would block the next call
        await single.upload_text("Zorblax", FACT, workspaces=emu_workspace.slug)
        async with await single.chat(
            emu_workspace.slug, "What handshake phases does Zorblax use?", stream=True
        ) as stream:
            async for event in stream:
                assert event.type == "textResponseChunk"
                break
        assert stream.completed is False
        workspaces = await asyncio.wait_for(single.list_workspaces(), timeout=30)  # guard against a hang
        assert [w.slug for w in workspaces] == [emu_workspace.slug]


async def test_stream_chat_query_refusal_is_one_closing_event(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    stream = await (await client.chat(workspace.slug, "anything?", mode="query", stream=True)).collect()
    assert stream.completed
    assert stream.final is not None
    assert stream.final.type == "textResponse"
    assert stream.text_response
    assert stream.sources == []


async def test_stream_chat_errors_before_streaming(client: AnythingLLMClient, loaded: Workspace) -> None:
    with pytest.raises(AnythingLLMNotFoundError):
        await (await client.chat("no-such-workspace-xyz", "hi", stream=True)).collect()
    with pytest.raises(AnythingLLMChatError, match="Message is empty"):
        await (await client.chat(loaded.slug, "", stream=True)).collect()


async def test_stream_cut_before_the_closing_event_raises(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    await emu_client.upload_text("Zorblax", FACT, workspaces=emu_workspace.slug)
    emulator.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", cut_stream_after=3)
    stream = await emu_client.chat(emu_workspace.slug, "What handshake phases does Zorblax use?", stream=True)
    received: list[ChatStreamEvent] = []
    with pytest.raises(AnythingLLMStreamError) as caught:
        await drain(stream, received)
    assert len(received) == 3
    assert stream.completed is False
    assert "3 event" in str(caught.value)


async def test_stream_abort_event_raises_chat_error(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    abort = (
        'data: {"uuid": "u1", "type": "abort", "textResponse": null, "sources": [], '
        '"close": true, "error": "The vector database failed."}\n\n'
    )
    emulator.emulator.faults.add(
        "POST", "/api/v1/workspace/*/stream-chat", status=200, body=abort, content_type="text/event-stream"
    )
    with pytest.raises(AnythingLLMChatError) as caught:
        await (await emu_client.chat(emu_workspace.slug, "hi", stream=True)).collect()
    assert "vector database failed" in str(caught.value)


# --------------------------------------------------------------------------- threads


async def test_thread_lifecycle(client: AnythingLLMClient, loaded: Workspace, server: Server) -> None:
    thread_slug = server.name("Thread")
    thread = (await client.create_thread(loaded.slug, "My Thread", thread_slug=thread_slug)).thread
    assert thread.slug == thread_slug  # thread slugs keep their case
    assert thread.name == "My Thread"

    answer = await client.send_message(loaded.slug, thread.slug, "What handshake phases does Zorblax use?")
    assert answer.text_response
    assert answer.sources

    stream = await client.send_message(loaded.slug, thread.slug, "And who invented it?", stream=True)
    await stream.collect()
    assert stream.completed
    assert stream.sources
    assert stream.chat_id is not None

    history = await client.get_thread_history(loaded.slug, thread.slug)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[2].content == "And who invented it?"
    assert await client.get_workspace_chats(loaded.slug, session_id="unused") == []

    renamed = (await client.update_thread(loaded.slug, thread.slug, "Renamed Thread")).thread
    assert renamed.name == "Renamed Thread"
    assert renamed.slug == thread.slug

    await client.delete_thread(loaded.slug, thread.slug)
    with pytest.raises(AnythingLLMNotFoundError):
        await client.get_thread_history(loaded.slug, thread.slug)


async def test_thread_without_slug_gets_one(client: AnythingLLMClient, workspace: Workspace) -> None:
    created = await client.create_thread(workspace.slug)
    assert created.thread.slug
    assert created.thread.name == "Thread"
    assert created.message is None


async def test_thread_errors(client: AnythingLLMClient, workspace: Workspace) -> None:
    with pytest.raises(AnythingLLMNotFoundError):  # 400 "Bad Request" text
        await client.create_thread("no-such-workspace-xyz")
    with pytest.raises(AnythingLLMNotFoundError):  # 404 abort "Thread ... not found."
        await client.send_message(workspace.slug, "no-such-thread", "hi")
    with pytest.raises(AnythingLLMNotFoundError):  # 404 {"message": "Thread not found"}
        await client.get_thread_history(workspace.slug, "no-such-thread")
    with pytest.raises(AnythingLLMNotFoundError):
        await client.update_thread(workspace.slug, "no-such-thread", "x")
    thread = (await client.create_thread(workspace.slug)).thread
    with pytest.raises(AnythingLLMChatError, match="Message is empty"):
        await client.send_message(workspace.slug, thread.slug, None, mode="chat")


async def test_thread_stream_in_unknown_workspace_or_thread_is_not_found(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    # unknown workspace: the server crashes with a 200 abort line ("Cannot read properties of null")
    with pytest.raises(AnythingLLMNotFoundError, match="no-such-workspace-xyz"):
        await (await client.send_message("no-such-workspace-xyz", "no-thread", "hi", stream=True)).collect()
    # unknown thread: 400 abort "Workspace <slug> or thread <slug> is not valid."
    with pytest.raises(AnythingLLMNotFoundError, match="no-such-thread"):
        await (await client.send_message(workspace.slug, "no-such-thread", "hi", stream=True)).collect()


async def test_duplicate_thread_slug_is_a_validation_error(
    client: AnythingLLMClient, workspace: Workspace, server: Server
) -> None:
    slug = server.name("dup")
    await client.create_thread(workspace.slug, thread_slug=slug)
    with pytest.raises(AnythingLLMValidationError):  # 200 {"thread": null, "message": "<db error>"}
        await client.create_thread(workspace.slug, thread_slug=slug)
