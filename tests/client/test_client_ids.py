"""Numeric ids wherever a slug is taken: a workspace's ``id`` is resolved by one cached lookup; a thread's
``id`` works once this client has seen it; an id nobody has is a clear ``AnythingLLMNotFoundError``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.errors import AnythingLLMNotFoundError
from support import Server, make_client

FACT = "The Zorblax protocol uses three handshake phases called ping, pong and plonk."


def listings(emulator: Any) -> int:
    """How many ``GET /v1/workspaces`` the emulator has answered."""
    return sum(1 for r in emulator.faults.requests if r.method == "GET" and r.path == "/api/v1/workspaces")


async def test_a_workspace_id_works_like_its_slug(
    client: AnythingLLMClient, server: Server, workspace: Workspace, tmp_path: Path
) -> None:
    assert isinstance(workspace.id, int)
    assert (await client.get_workspace(workspace.id)).slug == workspace.slug
    path = tmp_path / "ids.txt"
    path.write_text(FACT, encoding="utf-8")
    uploaded = await client.upload_file(path, workspaces=[workspace.id])
    server.created_documents.append(uploaded.location)
    assert uploaded.embedded
    assert [doc.docpath for doc in await client.list_workspace_documents(workspace.id)] == [uploaded.location]
    hits = await client.search_workspace(workspace.id, "handshake phases", limit=1, score_threshold=0)
    assert "plonk" in (hits[0].text or "")
    updated = await client.update_workspace(workspace.id, name="Renamed by id")
    assert updated.workspace.slug == workspace.slug


async def test_a_fresh_client_looks_an_id_up_once(emulator: Any) -> None:
    async with make_client(emulator.url, emulator.api_key) as creator:
        first = (await creator.create_workspace("First")).workspace
        second = (await creator.create_workspace("Second")).workspace
    assert first.id is not None
    assert second.id is not None
    async with make_client(emulator.url, emulator.api_key) as fresh:  # has seen no id yet
        before = listings(emulator.emulator)
        assert (await fresh.get_workspace(first.id)).slug == first.slug
        assert (await fresh.get_workspace(second.id)).slug == second.slug
        assert (await fresh.get_workspace(first.id)).slug == first.slug
        assert listings(emulator.emulator) - before == 1  # one listing answered all three


async def test_an_unknown_id_is_not_found_after_one_fresh_look(emulator: Any) -> None:
    async with make_client(emulator.url, emulator.api_key) as client:
        await client.create_workspace("Known")
        await client.list_workspaces()  # every id is known now
        before = listings(emulator.emulator)
        with pytest.raises(AnythingLLMNotFoundError, match="no workspace has the id 424242"):
            await client.chat(424242, "hi")
        assert listings(emulator.emulator) - before == 1  # a miss looks again, once


async def test_a_deleted_workspace_id_is_forgotten(client: AnythingLLMClient, server: Server) -> None:
    created = (await client.create_workspace(server.name("deleted"))).workspace
    server.created_workspaces.append(created.slug)
    assert created.id is not None
    await client.delete_workspace(created.id)
    with pytest.raises(AnythingLLMNotFoundError, match=f"no workspace has the id {created.id}"):
        await client.get_workspace(created.id)


async def test_a_digit_string_is_a_slug_not_an_id(client: AnythingLLMClient, workspace: Workspace) -> None:
    with pytest.raises(AnythingLLMNotFoundError, match=f"workspace '{workspace.id}' does not exist"):
        await client.get_workspace(str(workspace.id))


async def test_other_types_are_refused_before_sending(client: AnythingLLMClient) -> None:
    with pytest.raises(ValueError, match="slug \\(str\\) or its numeric id \\(int\\), got bool"):
        await client.get_workspace(True)
    with pytest.raises(ValueError, match="got float"):
        await client.search_workspace(1.0, "x")  # type: ignore[arg-type]


async def test_thread_ids_of_threads_this_client_made(
    client: AnythingLLMClient, server: Server, workspace: Workspace
) -> None:
    server.created_documents.append(
        (await client.upload_text("Zorblax", FACT, workspaces=workspace.slug)).location
    )
    assert workspace.id is not None
    thread = (await client.create_thread(workspace.id, "By id")).thread
    assert isinstance(thread.id, int)
    answer = await client.send_message(workspace.id, thread.id, "What are the handshake phases?", mode="chat")
    assert answer.text_response
    assert len(await client.get_thread_history(workspace.slug, thread.id)) == 2
    renamed = await client.update_thread(workspace.id, thread.id, "Renamed")
    assert renamed.thread.slug == thread.slug
    await client.delete_thread(workspace.id, thread.id)
    with pytest.raises(AnythingLLMNotFoundError):
        await client.get_thread_history(workspace.slug, thread.slug)


async def test_a_thread_id_this_client_never_saw_is_not_found(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    with pytest.raises(AnythingLLMNotFoundError, match="thread id 987654 is not one this client created"):
        await client.send_message(workspace.slug, 987654, "hi")


async def test_an_id_whose_slug_now_names_another_workspace_is_not_found(emulator: Any) -> None:
    async with (
        make_client(emulator.url, emulator.api_key) as mine,
        make_client(emulator.url, emulator.api_key) as other,
    ):
        old = (await mine.create_workspace("Team Docs")).workspace
        await other.delete_workspace(old.slug)
        new = (await other.create_workspace("Team Docs")).workspace
        assert (new.slug, new.id) == (old.slug, (old.id or 0) + 1)  # same slug, another workspace
        assert old.id is not None
        with pytest.raises(AnythingLLMNotFoundError, match=f"no workspace has the id {old.id}"):
            await mine.get_workspace(old.id)
        with pytest.raises(AnythingLLMNotFoundError, match=f"no workspace has the id {old.id}"):
            await mine.chat(old.id, "hello")
        assert await other.get_workspace_chats(new.slug) == []  # nothing went to the new one
        assert (await mine.get_workspace(new.id or 0)).id == new.id


async def test_with_options_views_share_the_ids_the_client_learnt(emulator: Any) -> None:
    async with make_client(emulator.url, emulator.api_key) as creator:
        created = (await creator.create_workspace("Shared")).workspace
    assert created.id is not None
    async with make_client(emulator.url, emulator.api_key) as client:
        view = client.with_options(breaker_wait=None)  # made before any id was learnt
        before = listings(emulator.emulator)
        assert (await view.get_workspace(created.id)).slug == created.slug
        assert (await client.get_workspace(created.id)).slug == created.slug
        assert listings(emulator.emulator) - before == 1  # the view's lookup served the client too
