"""Every old spelling still works for one release and warns, naming its replacement; each test checks
the old call does what the new one does (against the emulator)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge import AnythingLLMDeprecationWarning
from anythingllm_bridge.client import (
    AnythingLLM,
    AnythingLLMClient,
    ChatResponse,
    ChatStream,
    ChatStreamEvent,
    DocumentChunk,
    OpenAIChatCompletion,
    OpenAIChatStream,
    ProcessedDocument,
    Workspace,
)
from anythingllm_bridge.testing import EmulatorThread

FACT = "The Zorblax protocol uses three handshake phases called ping, pong and plonk."
USER = [{"role": "user", "content": "What are the handshake phases?"}]


@contextlib.contextmanager
def deprecated(replacement: str) -> Iterator[None]:
    """Expect a deprecation warning that names ``replacement``, attributed to the line of this file
    that made the old call (not to the library, pydantic or the sync facade's event loop)."""
    with pytest.warns(AnythingLLMDeprecationWarning, match=f"use {replacement}") as caught:
        yield
    ours = [w for w in caught if issubclass(w.category, AnythingLLMDeprecationWarning)]
    assert [w.filename for w in ours] == [__file__] * len(ours)


@pytest.fixture
async def loaded(emu_client: AnythingLLMClient, emu_workspace: Workspace) -> Workspace:
    await emu_client.upload_text("Zorblax", FACT, workspaces=emu_workspace.slug)
    return emu_workspace


# --------------------------------------------------------------------------- model fields


def test_workspace_settings_fields_under_their_old_names() -> None:
    workspace = Workspace.model_validate(
        {"slug": "w", "openAiTemp": 0.3, "openAiHistory": 9, "openAiPrompt": "P"}
    )
    with deprecated(r"\.open_ai_temp"):
        assert workspace.temperature == 0.3
    with deprecated(r"\.open_ai_history"):
        assert workspace.history == 9
    with deprecated(r"\.open_ai_prompt"):
        assert workspace.prompt == "P"
    with deprecated(r"Workspace\(open_ai_temp=...\)"):
        built = Workspace(slug="w", temperature=0.7)
    assert built.open_ai_temp == 0.7
    assert built.model_extra == {}  # not silently kept as an unknown field
    with deprecated(r"\.open_ai_prompt"):
        built.prompt = "new"
    assert built.open_ai_prompt == "new"


def test_chat_answer_text_under_its_old_name() -> None:
    answer = ChatResponse.model_validate({"textResponse": "An answer."})
    with deprecated(r"\.text_response"):
        assert answer.text == "An answer."
    event = ChatStreamEvent.model_validate({"type": "textResponseChunk", "textResponse": "tok"})
    with deprecated(r"\.text_response"):
        assert event.text == "tok"


def test_processed_document_fields_under_their_old_names() -> None:
    with deprecated(r"DocumentChunk\(id=...\)"):
        chunk = DocumentChunk(chunk_id="c1", content="x")
    assert chunk.id == "c1"
    with deprecated(r"\.id"):
        assert chunk.chunk_id == "c1"
    with deprecated(r"ProcessedDocument\(id=...\)"):
        document = ProcessedDocument(document_id="d1", title="T", chunks=[chunk])
    assert document.id == "d1"
    with deprecated(r"ProcessedDocument\(source_url=...\)"):
        assert ProcessedDocument(title="T", source="https://x.test/").source_url == "https://x.test/"
    with deprecated(r"\.id"):
        assert document.document_id == "d1"


async def test_reading_a_workspace_or_thread_field_on_the_envelope(emu_client: AnythingLLMClient) -> None:
    created = await emu_client.create_workspace("Envelope")
    with deprecated(r"\.workspace\.slug"):
        assert created.slug == created.workspace.slug
    with deprecated(r"\.workspace\.docpaths"):
        assert created.docpaths == set()
    thread = await emu_client.create_thread(created.workspace.slug, "T")
    with deprecated(r"\.thread\.slug"):
        assert thread.slug == thread.thread.slug
    with pytest.raises(AttributeError):
        created.no_such_field  # noqa: B018 - anything else is still an AttributeError


# --------------------------------------------------------------------------- keywords and positions


async def test_old_workspace_setting_keywords(emu_client: AnythingLLMClient) -> None:
    with deprecated("open_ai_temp=..."):
        created = await emu_client.create_workspace("Old keywords", temperature=0.4)
    assert created.workspace.open_ai_temp == 0.4
    slug = created.workspace.slug
    with deprecated("open_ai_history=..."):
        updated = await emu_client.update_workspace(slug, history=3)
    assert updated.workspace.open_ai_history == 3
    with deprecated("open_ai_prompt=..."):
        await emu_client.update_workspace(slug, prompt="Be brief.")
    assert (await emu_client.get_workspace(slug)).open_ai_prompt == "Be brief."


async def test_an_unknown_setting_keyword_is_a_type_error(emu_client: AnythingLLMClient) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'temprature'"):
        await emu_client.create_workspace("Typo", temprature=0.4)  # type: ignore[call-arg]


async def test_options_passed_by_position(emu_client: AnythingLLMClient, loaded: Workspace) -> None:
    with deprecated("limit=..."):
        hits = await emu_client.search_workspace(loaded.slug, "handshake phases", 1)  # type: ignore[misc]
    assert len(hits) == 1
    with deprecated("session_id=..."):
        history = await emu_client.get_workspace_chats(loaded.slug, "nobody")  # type: ignore[misc]
    assert history == []
    with deprecated("folder=..."):
        documents = await emu_client.list_documents("custom-documents")  # type: ignore[misc]
    assert [doc.title for doc in documents] == ["zorblax.txt"]
    with pytest.raises(TypeError, match="by keyword"):
        await emu_client.search_workspace(loaded.slug, "x", 1, 0.5, "extra")  # type: ignore[misc]


async def test_renamed_keywords(
    emu_client: AnythingLLMClient, emu_workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_text(FACT, encoding="utf-8")
    with deprecated("slug=..."):
        results = await emu_client.upload_documents(workspace_slug=emu_workspace.slug, files=[path])  # type: ignore[call-arg]
    assert [r.status for r in results] == ["embedded"]
    document = ProcessedDocument(title="Doc", chunks=[DocumentChunk(id="c", content=FACT)])
    with deprecated("slug=..."):
        report = await emu_client.upload_document(workspace_slug=emu_workspace.slug, document=document)  # type: ignore[call-arg]
    assert report.uploaded_chunk_ids == ["c"]
    location = str(results[0].location)
    with deprecated("document_id=..."):
        removed = await emu_client.delete_document(emu_workspace.slug, location=location)  # type: ignore[call-arg]
    assert removed.removed == [location]
    with pytest.raises(TypeError, match="pass only document_id="):
        await emu_client.delete_document(emu_workspace.slug, location=location, document_id=location)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- methods


async def test_stream_chat(emu_client: AnythingLLMClient, loaded: Workspace) -> None:
    with deprecated(r"await chat\(\.\.\., stream=True\)"):
        stream = emu_client.stream_chat(loaded.slug, "What are the handshake phases?")
    assert isinstance(stream, ChatStream)
    await stream.collect()
    assert stream.completed
    assert stream.sources
    with deprecated(r"\.text_response"):
        assert stream.text == stream.text_response != ""


async def test_stream_thread_message(emu_client: AnythingLLMClient, loaded: Workspace) -> None:
    thread = (await emu_client.create_thread(loaded.slug, "T")).thread
    with deprecated(r"await send_message\(\.\.\., stream=True\)"):
        stream = emu_client.stream_thread_message(loaded.slug, thread.slug, "What are the handshake phases?")
    await stream.collect()
    assert stream.completed
    assert len(await emu_client.get_thread_history(loaded.slug, thread.slug)) == 2


async def test_stream_chat_with_an_id_resolves_it_when_the_stream_starts(
    emu_client: AnythingLLMClient, loaded: Workspace
) -> None:
    assert loaded.id is not None
    with deprecated(r"await chat\(\.\.\., stream=True\)"):
        stream = emu_client.stream_chat(loaded.id, "What are the handshake phases?")
    await stream.collect()
    assert stream.sources


async def test_openai_chat_stream_and_complete(emu_client: AnythingLLMClient, loaded: Workspace) -> None:
    with deprecated(r"await openai_chat\(\.\.\., stream=True\)"):
        stream = emu_client.openai_chat_stream(loaded.slug, USER)
    assert isinstance(stream, OpenAIChatStream)
    await stream.collect()
    assert stream.finish_reason == "stop"
    with deprecated(r"await openai_chat\(\.\.\.\)"):
        completion = await emu_client.openai_complete(loaded.slug, USER)
    assert isinstance(completion, OpenAIChatCompletion)
    assert completion.text


async def test_remove_documents(emu_client: AnythingLLMClient) -> None:
    upload = await emu_client.upload_text("Gone", FACT)
    with deprecated(r"delete_documents_from_server\(\.\.\.\)"):
        await emu_client.remove_documents([upload.location])
    assert await emu_client.list_documents() == []


def test_the_blocking_facade_keeps_the_old_names_too() -> None:
    with EmulatorThread(api_key="OLD-NAMES") as running, AnythingLLM(running.url, running.api_key) as llm:
        slug = llm.create_workspace("Sync old names").workspace.slug
        llm.upload_text("Zorblax", FACT, workspaces=slug)
        with deprecated(r"chat\(\.\.\., stream=True\)$"):  # no `await` in the facade's words
            stream = llm.stream_chat(slug, "What are the handshake phases?")
        events: list[Any] = list(stream)
        assert events[-1].type == "finalizeResponseStream"
        with deprecated(r"limit=\.\.\."):  # warned on the facade's loop thread, shown at this line
            assert len(llm.search_workspace(slug, "handshake phases", 1)) == 1
        upload = llm.upload_text("Gone", FACT)
        with deprecated(r"delete_documents_from_server\(\.\.\.\)"):
            llm.remove_documents([upload.location])
        with deprecated(r"openai_chat\(\.\.\.\)$"):
            assert llm.openai_complete(slug, USER).choices
