"""The blocking facade ``AnythingLLM``: same methods, no await, against an emulator thread."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge import AnythingLLM as Exported
from anythingllm_bridge.client import (
    AnythingLLM,
    AnythingLLMClient,
    AnythingLLMConfig,
    ChatStreamEvent,
    SyncStream,
)
from anythingllm_bridge.errors import (
    AnythingLLMNotFoundError,
    AnythingLLMSessionError,
    AnythingLLMStreamError,
)
from anythingllm_bridge.testing import EmulatorThread


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    with EmulatorThread(api_key="SYNC-KEY") as served:
        yield served


@pytest.fixture
def llm(running: Any) -> Iterator[AnythingLLM]:
    with AnythingLLM(running.url, running.api_key, max_retries=0) as client:
        yield client


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member) and not isinstance(member, type)
    }


def test_the_facade_has_every_method_of_the_async_client() -> None:
    assert Exported is AnythingLLM
    async_methods = public_methods(AnythingLLMClient) - {"connect", "disconnect"}
    missing = async_methods - public_methods(AnythingLLM)
    assert missing == set()


def test_methods_keep_their_names_and_docs() -> None:
    assert AnythingLLM.upload_file.__doc__ == AnythingLLMClient.upload_file.__doc__
    assert AnythingLLM.list_workspaces.__name__ == "list_workspaces"


def test_workspace_upload_and_chat_without_await(llm: AnythingLLM, tmp_path: Path) -> None:
    workspace = llm.create_workspace("Sync Workspace", similarity_threshold=0.0).workspace
    assert workspace.slug in {w.slug for w in llm.list_workspaces()}
    path = tmp_path / "sync-notes.txt"
    path.write_text("Sync clients can read about the Zorblax protocol too.\n", encoding="utf-8")
    uploaded = llm.upload_file(path, workspaces=workspace.slug)
    assert uploaded.embedded
    assert uploaded.location in llm.get_workspace(workspace.slug).docpaths
    answer = llm.chat(workspace.slug, "What can sync clients read about?", mode="chat")
    assert answer.text_response
    assert answer.sources
    health = llm.health_check()
    assert health.ok


def test_streams_become_iterators(llm: AnythingLLM) -> None:
    workspace = llm.create_workspace("Sync Stream").workspace
    llm.upload_text("Stream facts", "Streams in sync code are plain iterators.", workspaces=workspace.slug)
    stream = llm.chat(workspace.slug, "What are streams in sync code?", mode="chat", stream=True)
    assert isinstance(stream, SyncStream)
    events = list(stream)
    assert all(isinstance(event, ChatStreamEvent) for event in events)
    assert events[-1].type == "finalizeResponseStream"
    assert stream.completed
    assert stream.text_response
    assert stream.sources
    assert stream.chat_id is not None
    completion = llm.openai_chat(workspace.slug, [{"role": "user", "content": "hi"}], stream=True)
    assert completion.collect().text


def test_errors_are_the_same_exceptions(llm: AnythingLLM) -> None:
    with pytest.raises(AnythingLLMNotFoundError):
        llm.get_workspace("no-such-workspace-xyz")


def test_a_cut_stream_raises_in_sync_code_too(llm: AnythingLLM, running: Any) -> None:
    workspace = llm.create_workspace("Sync Cut").workspace
    running.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", cut_stream_after=2)
    with pytest.raises(AnythingLLMStreamError):
        llm.chat(workspace.slug, "hello", stream=True).collect()


def test_outside_with_block_is_a_session_error(running: Any) -> None:
    llm = AnythingLLM(running.url, running.api_key)
    try:
        with pytest.raises(AnythingLLMSessionError):
            llm.list_workspaces()
        llm.connect()
        assert isinstance(llm.list_workspaces(), list)
    finally:
        llm.close()
    with pytest.raises(RuntimeError, match="closed"):
        llm.list_workspaces()


def test_from_settings_and_repr_hide_the_key(running: Any) -> None:
    from anythingllm_bridge import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, anythingllm_url=running.url, anythingllm_api_key=running.api_key
    )
    with AnythingLLM.from_settings(settings) as llm:
        assert llm.check_auth() is True
        assert running.api_key not in repr(llm)


def test_a_blocking_client_from_a_config_object_streams_a_thread_answer(running: Any) -> None:
    config = AnythingLLMConfig(endpoint=running.url, api_key=running.api_key)
    with AnythingLLM(config) as llm:
        workspace = llm.create_workspace("Sync Thread").workspace
        llm.upload_text("Thread facts", "Threads keep their own history.", workspaces=workspace.slug)
        thread = llm.create_thread(workspace.id, "Sync").thread
        stream = llm.send_message(workspace.id, thread.id, "What do threads keep?", mode="chat", stream=True)
        assert isinstance(stream, SyncStream)
        assert stream.collect().completed
        assert stream.text_response
        assert llm.send_message(workspace.slug, thread.slug, "And then?", mode="chat").text_response
