"""Workspaces: create, read, update, delete, get-or-create, threads listing, search."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.errors import AnythingLLMNotFoundError, AnythingLLMValidationError
from anythingllm_bridge.tracing import trace_id
from support import Server


async def test_create_workspace_returns_the_server_slug_and_settings(
    client: AnythingLLMClient, server: Server
) -> None:
    name = server.name("Create") + " Q&A!"
    answer = await client.create_workspace(
        name,
        open_ai_temp=0.2,
        chat_mode="query",
        similarity_threshold=0.5,
        top_n=6,
        open_ai_prompt="You are a test bot.",
        query_refusal_response="Nothing found.",
        open_ai_history=7,
    )
    created = answer.workspace
    server.created_workspaces.append(created.slug)
    assert answer.message is None  # the server's envelope, as sent
    assert created.name == name
    assert created.slug.endswith("qanda-bang")  # the server's slug, never a guess
    assert created.open_ai_temp == 0.2
    assert created.chat_mode == "query"
    assert created.similarity_threshold == 0.5
    assert created.top_n == 6
    assert created.open_ai_prompt == "You are a test bot."
    assert created.query_refusal_response == "Nothing found."
    assert created.open_ai_history == 7
    assert created.created_at is not None


async def test_same_name_twice_gets_a_different_slug(client: AnythingLLMClient, server: Server) -> None:
    name = server.name("twice")
    first = (await client.create_workspace(name)).workspace
    second = (await client.create_workspace(name)).workspace
    server.created_workspaces += [first.slug, second.slug]
    assert first.slug != second.slug
    assert second.slug.startswith(first.slug)


async def test_create_workspace_without_a_name_is_refused_before_sending(client: AnythingLLMClient) -> None:
    with pytest.raises(ValueError, match="name"):
        await client.create_workspace("  ")


async def test_list_and_get_workspace(client: AnythingLLMClient, workspace: Workspace) -> None:
    listed = await client.list_workspaces()
    assert workspace.slug in {w.slug for w in listed}
    fetched = await client.get_workspace(workspace.slug)
    assert fetched.slug == workspace.slug
    assert fetched.documents == []
    assert fetched.threads == []


async def test_get_unknown_workspace_raises_not_found(client: AnythingLLMClient) -> None:
    # the server answers 200 {"workspace": []}
    with pytest.raises(AnythingLLMNotFoundError) as caught:
        await client.get_workspace("no-such-workspace-xyz")
    assert "no-such-workspace-xyz" in str(caught.value)


async def test_update_workspace_renames_but_keeps_the_slug(
    client: AnythingLLMClient, workspace: Workspace
) -> None:
    updated = (
        await client.update_workspace(workspace.slug, name="Renamed", top_n=5, open_ai_temp=0.5)
    ).workspace
    assert updated.slug == workspace.slug
    assert updated.name == "Renamed"
    assert updated.top_n == 5
    assert updated.open_ai_temp == 0.5
    assert (await client.get_workspace(workspace.slug)).name == "Renamed"


async def test_update_workspace_needs_a_setting(client: AnythingLLMClient, workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await client.update_workspace(workspace.slug)


async def test_update_unknown_workspace_raises_not_found(client: AnythingLLMClient) -> None:
    # the server answers 400 "Bad Request" (text)
    with pytest.raises(AnythingLLMNotFoundError):
        await client.update_workspace("no-such-workspace-xyz", name="x")


async def test_delete_workspace(client: AnythingLLMClient, server: Server) -> None:
    created = (await client.create_workspace(server.name("delete"))).workspace
    await client.delete_workspace(created.slug)
    with pytest.raises(AnythingLLMNotFoundError):
        await client.get_workspace(created.slug)
    with pytest.raises(AnythingLLMNotFoundError):  # 400 "Bad Request" the second time
        await client.delete_workspace(created.slug)


async def test_get_or_create_workspace(client: AnythingLLMClient, server: Server) -> None:
    slug = server.name("goc")
    created = await client.get_or_create_workspace(slug)
    server.created_workspaces.append(created.slug)
    assert created.slug == slug
    again = await client.get_or_create_workspace(slug, name="Other Name")
    assert again.id == created.id
    assert len([w for w in await client.list_workspaces() if w.slug == slug]) == 1


async def test_get_or_create_workspace_finds_by_name_when_the_server_chose_another_slug(
    client: AnythingLLMClient, server: Server
) -> None:
    slug = server.name("goc-name")
    name = server.name("Python Documentation")  # the server's slug for it is not `slug`
    first = await client.get_or_create_workspace(slug, name)
    server.created_workspaces.append(first.slug)
    assert first.slug != slug
    again = [await client.get_or_create_workspace(slug, name) for _ in range(2)]
    assert [w.id for w in again] == [first.id, first.id]
    assert len([w for w in await client.list_workspaces() if w.name == name]) == 1


async def test_list_threads_carries_names(client: AnythingLLMClient, workspace: Workspace) -> None:
    thread = (await client.create_thread(workspace.slug, "Support")).thread
    threads = await client.list_threads(workspace.slug)
    assert [(t.slug, t.name) for t in threads] == [(thread.slug, "Support")]
    with pytest.raises(AnythingLLMNotFoundError):
        await client.list_threads("no-such-workspace-xyz")


async def test_search_workspace_finds_the_uploaded_text(
    client: AnythingLLMClient, workspace: Workspace, server: Server
) -> None:
    upload = await client.upload_text(
        "Zorblax facts",
        "The maximum packet size of the Zorblax protocol is 4096 bytes.",
        workspaces=workspace.slug,
    )
    server.created_documents.append(upload.location)
    results = await client.search_workspace(workspace.slug, "Zorblax packet size", limit=3, score_threshold=0)
    assert results
    assert len(results) <= 3
    assert "4096" in (results[0].text or "")
    assert results[0].score is not None
    assert results[0].metadata


async def test_search_empty_workspace_gives_nothing(client: AnythingLLMClient, workspace: Workspace) -> None:
    assert await client.search_workspace(workspace.slug, "anything") == []


async def test_search_unknown_workspace_raises_not_found(client: AnythingLLMClient) -> None:
    # 400 {"message": "Workspace nope is not a valid workspace."}
    with pytest.raises(AnythingLLMNotFoundError):
        await client.search_workspace("no-such-workspace-xyz", "x")


async def test_search_arguments_are_checked(client: AnythingLLMClient, workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="query"):
        await client.search_workspace(workspace.slug, " ")
    with pytest.raises(ValueError, match="score_threshold"):
        await client.search_workspace(workspace.slug, "x", score_threshold=2)


async def test_workspace_new_validation_error_from_the_server(client: AnythingLLMClient) -> None:
    # {"workspace": null, "message": "name cannot be null"} with 400
    with pytest.raises(AnythingLLMValidationError) as caught:
        await client.transport.request("POST", "/v1/workspace/new", json={})
    assert caught.value.server_message == "name cannot be null"


async def test_the_workspace_warnings_carry_the_calls_trace_id(
    emu_client: AnythingLLMClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="anythingllm_bridge"), trace_id("goc-trace-1"):
        created = await emu_client.get_or_create_workspace("my-docs", "My Documents")
    assert created.slug == "my-documents"
    [record] = [r for r in caplog.records if "the server named the new workspace" in r.getMessage()]
    assert record.name.startswith("anythingllm_bridge.client")
    assert getattr(record, "trace_id", None) == "goc-trace-1"  # stamped like every library record


async def test_a_delete_whose_answer_was_lost_and_retry_finds_nothing_is_done(
    emulator: Any, emu_client: AnythingLLMClient, caplog: pytest.LogCaptureFixture
) -> None:
    slug = (await emu_client.create_workspace("Lost Answer")).workspace.slug
    emulator.emulator.faults.add("DELETE", f"/api/v1/workspace/{slug}", drop="after_headers", times=1)
    with caplog.at_level(logging.INFO, logger="anythingllm_bridge"):
        await emu_client.delete_workspace(slug)  # the first attempt deleted it; the retry: 400
    assert slug not in [w.slug for w in await emu_client.list_workspaces()]
    deletes = [r for r in emulator.emulator.faults.requests if r.method == "DELETE"]
    assert len(deletes) == 2
    assert any("whose answer was lost deleted it" in r.getMessage() for r in caplog.records)
    with pytest.raises(AnythingLLMNotFoundError):  # no lost answer: not found is still an error
        await emu_client.delete_workspace(slug)
