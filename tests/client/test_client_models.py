"""The models accept what a real AnythingLLM 1.16.0 sent (recorded), and its inconsistencies."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest

from anythingllm_bridge.client import (
    ChatMessage,
    ChatResponse,
    ChatStreamEvent,
    ChunkMetadata,
    Document,
    DocumentUploadReport,
    EmbeddingUpdate,
    SearchResult,
    Source,
    Thread,
    ThreadResponse,
    UploadResult,
    Workspace,
    WorkspaceDocument,
    WorkspaceResponse,
)
from support import TRANSCRIPTS


def recorded() -> dict[str, Any]:
    if not TRANSCRIPTS.exists():
        pytest.skip("the recorded transcripts are not available on this machine")
    return {item["file"][:2]: item for item in json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))}


def body(number: str) -> Any:
    return json.loads(recorded()[number]["response"]["body"])


def test_workspace_as_list_with_documents_and_metadata_string() -> None:
    raw = body("34")["workspace"]
    assert isinstance(raw, list)  # GET /workspace/<slug> sends a list
    workspace = Workspace.model_validate(raw[0])
    assert workspace.slug == "my-test-workspace-bang"
    assert isinstance(workspace.created_at, datetime)
    assert workspace.documents
    document = workspace.documents[0]
    assert isinstance(document.metadata, dict)  # the server sent a JSON string
    assert document.metadata["title"]
    assert document.docpath in workspace.docpaths
    assert workspace.router_id is None
    assert workspace.model_extra == {}


def test_every_recorded_workspace_parses() -> None:
    for number in ("06", "09", "10", "14", "17", "77"):
        assert Workspace.model_validate(body(number)["workspace"]).slug
    for item in body("11")["workspaces"]:
        assert Workspace.model_validate(item).threads == []
    listed = [Workspace.model_validate(w) for w in body("72")["workspaces"]]
    assert listed[0].threads[0].name == "My Thread"


def test_unknown_fields_are_kept() -> None:
    workspace = Workspace.model_validate({"slug": "a", "brandNewColumn": 42, "documents": None})
    assert workspace.model_extra == {"brandNewColumn": 42}
    assert workspace.documents == []


def test_bad_metadata_string_does_not_break_the_workspace() -> None:
    document = WorkspaceDocument.model_validate({"docpath": "x/y.json", "metadata": "{not json"})
    assert document.metadata == {"raw": "{not json"}


def test_odd_dates_are_kept_as_text() -> None:
    thread = Thread.model_validate({"slug": "t", "createdAt": "yesterday-ish"})
    assert thread.created_at == "yesterday-ish"


def test_upload_answers_parse_with_their_location() -> None:
    for number in ("20", "23", "24", "25", "26"):
        result = UploadResult.model_validate(body(number))
        assert result.location.startswith("custom-documents/")
        assert result.document.page_content


def test_document_listing_parses() -> None:
    tree = body("29")["localFiles"]
    for folder in tree["items"]:
        for item in folder["items"]:
            assert Document.model_validate(item).name


def test_chat_sources_use_text_and_distance() -> None:
    answer = ChatResponse.model_validate(body("40"))
    assert answer.chat_id == 1
    assert answer.text_response
    source = answer.sources[0]
    assert source.text
    assert source.distance is not None
    assert source.score is not None
    old_style = ChatResponse.model_validate({"textResponse": "x", "sources": [{"title": "t", "chunk": "c"}]})
    assert old_style.sources[0].text == "c"


def test_stream_events_of_a_recorded_stream() -> None:
    raw = recorded()["47"]["response"]["body"]
    events = [
        ChatStreamEvent.model_validate(json.loads(block[len("data: ") :]))
        for block in raw.split("\n\n")
        if block.strip()
    ]
    assert events[0].id  # "uuid" on token chunks
    assert events[-1].type == "finalizeResponseStream"
    assert events[-1].is_final
    assert events[-1].sources
    assert events[-1].chat_id == 5
    refusal = ChatStreamEvent.model_validate(json.loads(recorded()["50"]["response"]["body"][6:]))
    assert refusal.is_final
    assert refusal.id  # "id" on whole-answer events


def test_history_and_search_parse() -> None:
    history = [ChatMessage.model_validate(turn) for turn in body("61")["history"]]
    assert history[0].role == "user"
    assert history[1].sources
    results = [SearchResult.model_validate(hit) for hit in body("35")["results"]]
    assert results[0].title == "notes.txt"
    assert results[0].distance is not None


def test_fields_are_the_snake_case_of_the_wire_names() -> None:
    for model in (Workspace, WorkspaceDocument, Thread, Document, ChatResponse, ChatStreamEvent, Source):
        for name, info in model.model_fields.items():
            wire = info.alias or name
            if wire.startswith("_"):  # _distance: a leading underscore would make it private
                continue
            assert name == re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", wire).lower(), (model.__name__, wire)


def test_models_read_like_their_json() -> None:
    answer = ChatResponse.model_validate(body("40"))
    assert answer["textResponse"] == answer.text_response == answer["text_response"]
    assert answer.get("chatId") == 1
    assert "sources" in answer
    assert "textResponse" in answer
    assert "nope" not in answer
    assert answer.get("nope", "default") == "default"
    with pytest.raises(KeyError, match="nope"):
        answer["nope"]
    workspace = Workspace.model_validate({"slug": "a", "openAiTemp": 0.2, "brandNewColumn": 7})
    assert workspace["openAiTemp"] == 0.2
    assert workspace["brandNewColumn"] == 7  # unknown fields too
    assert SearchResult.model_validate(body("35")["results"][0])["title"] == "notes.txt"  # computed


def test_create_answers_are_the_server_envelopes() -> None:
    created = WorkspaceResponse.model_validate(body("06"))
    assert created.workspace.slug == "my-test-workspace-bang"
    assert created.workspace.open_ai_temp == 0.2
    assert created.message is None
    thread = ThreadResponse.model_validate(body("51"))
    assert (thread.thread.id, thread.thread.slug) == (1, "my-custom-thread")


def test_chunk_metadata_round_trips_and_ignores_other_doc_sources() -> None:
    chunk = ChunkMetadata(
        chunk_id="c 1",
        chunk_index=0,
        total_chunks=2,
        document_id="dóc/1",
        document_title='A "quoted" title',
        technology=None,
        source_url="https://example.com/Docs?x=1",
    )
    text = chunk.to_doc_source()
    assert ChunkMetadata.from_doc_source(text) == chunk
    document = WorkspaceDocument.model_validate(
        {"docpath": "x/y.json", "metadata": json.dumps({"docSource": text})}
    )
    assert document.chunk_metadata == chunk
    for other in (None, 5, "", "unit test", "no source set", '{"anythingllm-bridge-chunk": 2}', "{not json"):
        assert ChunkMetadata.from_doc_source(other) is None
    assert ChunkMetadata.from_doc_source('{"anythingllm-bridge-chunk": 1, "chunk_id": "c"}') is None
    assert ChunkMetadata.from_doc_source('["anythingllm-bridge-chunk"]') is None


def test_an_embedding_update_is_true_when_it_did_everything() -> None:
    assert EmbeddingUpdate(workspace_slug="w", removed=["a"])
    assert EmbeddingUpdate(workspace_slug="w")
    assert not EmbeddingUpdate(workspace_slug="w", missing=["a"])
    assert not EmbeddingUpdate(workspace_slug="w", not_removed=["a"])


def test_the_upload_report_reads_like_the_seeds_dictionary() -> None:
    report = DocumentUploadReport(
        document_id="d",
        workspace_slug="w",
        total_chunks=2,
        successful_uploads=2,
        uploaded_chunk_ids=["a", "b"],
    )
    assert report["successful_uploads"] == 2
    assert report["uploaded_chunk_ids"] == ["a", "b"]
    assert report.get("errors") == []
    assert dict(report)["document_id"] == "d"
