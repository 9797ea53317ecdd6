"""The OpenAI-compatible routes and the system routes."""

from __future__ import annotations

from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, OpenAIChatStream, Workspace
from anythingllm_bridge.errors import AnythingLLMChatError, AnythingLLMNotFoundError, AnythingLLMStreamError
from support import Server

USER = [{"role": "user", "content": "Say hello"}]


async def test_openai_models_are_workspaces(client: AnythingLLMClient, workspace: Workspace) -> None:
    models = await client.openai_models()
    assert workspace.slug in {m.id for m in models}
    stores = await client.openai_vector_stores()
    assert workspace.slug in {s["id"] for s in stores}


async def test_openai_chat(client: AnythingLLMClient, workspace: Workspace) -> None:
    completion = await client.openai_chat(workspace.slug, USER, temperature=0.1)
    assert completion.text
    assert completion.model == workspace.slug
    assert completion.choices[0]["finish_reason"] == "stop"


async def test_openai_chat_streamed(client: AnythingLLMClient, workspace: Workspace) -> None:
    stream = await client.openai_chat(workspace.slug, USER, stream=True)
    assert isinstance(stream, OpenAIChatStream)
    chunks = [chunk async for chunk in stream]
    assert stream.completed
    assert stream.finish_reason == "stop"
    assert stream.text == "".join(chunk.delta for chunk in chunks)
    assert stream.text


async def test_openai_chat_with_unknown_model_is_not_found(client: AnythingLLMClient) -> None:
    # the server answers 401 with an empty body: not an auth problem
    with pytest.raises(AnythingLLMNotFoundError, match="workspace slug"):
        await client.openai_chat("no-such-workspace-xyz", USER)


async def test_openai_chat_needs_a_user_message_last(client: AnythingLLMClient, workspace: Workspace) -> None:
    with pytest.raises(AnythingLLMChatError):
        await client.openai_chat(workspace.slug, [{"role": "system", "content": "Be brief"}])


async def test_openai_stream_cut_raises(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    emulator.emulator.faults.add("POST", "/api/v1/openai/chat/completions", cut_stream_after=2)
    stream = await emu_client.openai_chat(emu_workspace.slug, USER, stream=True)
    with pytest.raises(AnythingLLMStreamError):
        await stream.collect()
    assert stream.events_received == 2


async def test_openai_embeddings(client: AnythingLLMClient) -> None:
    result = await client.openai_embeddings(["first text", "second text"])
    assert len(result.vectors) == 2
    assert len(result.vectors[0]) > 0
    with pytest.raises(ValueError, match="non-empty"):
        await client.openai_embeddings([])


async def test_vector_count_grows_with_embedded_documents(
    client: AnythingLLMClient, server: Server, workspace: Workspace
) -> None:
    before = await client.vector_count()
    upload = await client.upload_text(
        "Counting", "Some words to embed for counting.", workspaces=workspace.slug
    )
    server.created_documents.append(upload.location)
    assert await client.vector_count() > before


async def test_ping_auth_and_settings(client: AnythingLLMClient) -> None:
    assert await client.ping() is True
    assert await client.check_auth() is True
    assert isinstance(await client.system_settings(), dict)
