"""What each client method declares about its call, seen from outside: which calls are repeated after
their request was sent (those that are harmless to send twice), and what a "no such thing" answer
names. Against the emulator, with faults injected."""

from __future__ import annotations

from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.errors import (
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMServerError,
)
from support import SleepRecorder, make_client, mark, requests_since


def _route(workspace: Workspace, tail: str) -> str:
    return f"/api/v1/workspace/{workspace.slug}/{tail}"


async def test_reads_and_field_updates_are_repeated_after_a_502(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    faults = emulator.emulator.faults
    for tail in ("vector-search", "update"):
        faults.add("POST", _route(emu_workspace, tail), status=502, times=1)
    assert await emu_client.search_workspace(emu_workspace.slug, "anything") == []
    renamed = await emu_client.update_workspace(emu_workspace.slug, name="Renamed")
    assert renamed.workspace.name == "Renamed"
    faults.add("POST", "/api/v1/openai/embeddings", status=502, times=1)
    assert len((await emu_client.openai_embeddings("hello")).vectors) == 1


async def test_creating_calls_are_not_repeated_after_a_502(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, emulator: Any
) -> None:
    faults = emulator.emulator.faults
    faults.add("POST", _route(emu_workspace, "chat"), status=502, times=1)
    faults.add("POST", _route(emu_workspace, "thread/new"), status=502, times=1)
    start = mark(emulator)
    with pytest.raises(AnythingLLMServerError):
        await emu_client.chat(emu_workspace.slug, "hi")
    with pytest.raises(AnythingLLMServerError):
        await emu_client.create_thread(emu_workspace.slug, name="t")
    assert len(requests_since(emulator, start)) == 2


async def test_removing_embeddings_is_repeated_after_a_lost_answer_adding_is_not(
    emulator: Any, emu_workspace: Workspace, tmp_path: Any
) -> None:
    sleep = SleepRecorder()
    update = _route(emu_workspace, "update-embeddings")
    async with make_client(emulator.url, emulator.api_key, sleep=sleep) as client:
        path = tmp_path / "note.txt"
        path.write_text("a note\n")
        location = (await client.upload_file(path)).location
        emulator.emulator.faults.add("POST", update, drop="after_headers", times=1)
        with pytest.raises(AnythingLLMOutcomeUnknownError):  # adding twice would duplicate vectors
            await client.update_embeddings(emu_workspace.slug, adds=[location])
        assert sleep.waits == []
        emulator.emulator.faults.add("POST", update, drop="after_headers", times=1)
        result = await client.update_embeddings(emu_workspace.slug, deletes=[location])
    assert result.removed == [location]
    assert len(sleep.waits) == 1


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (
            lambda c: c.update_embeddings("no-such-ws", adds=["custom-documents/x.json"]),
            "workspace 'no-such-ws'",
        ),
        (lambda c: c.create_thread("no-such-ws"), "workspace 'no-such-ws'"),
        (lambda c: c.delete_workspace("no-such-ws"), "workspace 'no-such-ws'"),
        (lambda c: c.get_workspace_chats("no-such-ws"), "workspace 'no-such-ws'"),
        (lambda c: c.get_document("nope-doc.json"), "document 'nope-doc.json'"),
        (lambda c: c.openai_chat("no-such-ws", [{"role": "user", "content": "hi"}]), "slug 'no-such-ws'"),
    ],
)
async def test_a_missing_subject_is_named(emu_client: AnythingLLMClient, call: Any, named: str) -> None:
    with pytest.raises(AnythingLLMNotFoundError, match=named):
        await call(emu_client)


async def test_a_thread_stream_to_a_missing_workspace_names_it(emu_client: AnythingLLMClient) -> None:
    with pytest.raises(AnythingLLMNotFoundError, match="workspace 'no-such-ws' or its thread 't'"):
        await (await emu_client.send_message("no-such-ws", "t", "hi", stream=True)).collect()
