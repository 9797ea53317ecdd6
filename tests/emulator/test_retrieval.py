"""Retrieval means something: chunks, ranking, ``topN``, the threshold, and answers built from the chunks."""

from __future__ import annotations

import pytest
from emulator_api import TESTDATA_FILES, Api

from anythingllm_bridge.testing.chat import REFUSAL
from anythingllm_bridge.testing.retrieval import distance_to_similarity, split_text

QUESTIONS = {
    "notes.txt": "What is the maximum packet size of the Zorblax protocol?",
    "kittens.txt": "When do the quasar kittens drink moonlight milk?",
    "river.md": "Why is the water of the Flibbertigibbet river purple?",
}


async def _library(api: Api, **fields: object) -> str:
    workspace = await api.workspace("Library", **fields)
    for name, data in TESTDATA_FILES.items():
        assert (await api.upload(name, data, add_to=workspace["slug"])).status == 200
    return str(workspace["slug"])


@pytest.mark.parametrize(("title", "question"), QUESTIONS.items())
async def test_a_question_about_one_document_ranks_it_first_in_search(
    api: Api, title: str, question: str
) -> None:
    slug = await _library(api)
    reply = await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": 3})
    results = reply.json["results"]
    assert results[0]["metadata"]["title"] == title
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    for result in results:
        assert result["score"] == pytest.approx(1 - result["distance"])
        assert result["text"].startswith(
            f"<document_metadata>\nsourceDocument: {result['metadata']['title']}\n"
        )


@pytest.mark.parametrize(("title", "question"), QUESTIONS.items())
async def test_a_chat_answer_is_built_from_the_best_chunk(api: Api, title: str, question: str) -> None:
    slug = await _library(api, chatMode="query")
    reply = await api.post(f"/v1/workspace/{slug}/chat", json={"message": question})
    body = reply.json
    assert body["sources"][0]["title"] == title
    first_chunk = " ".join(body["sources"][0]["text"].split())[:160]
    assert body["textResponse"] == (
        f'STUB ANSWER to "{question}" | {len(body["sources"])} context chunk(s); first says: "{first_chunk}" '
        "| history messages: 0"
    )


async def test_top_n_and_the_threshold_limit_the_hits(api: Api) -> None:
    slug = await _library(api)
    question = QUESTIONS["notes.txt"]
    one = await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": 1})
    assert len(one.json["results"]) == 1
    everything = await api.post(
        f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": 10, "scoreThreshold": 0}
    )
    assert len(everything.json["results"]) == 3
    strict = await api.post(
        f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": 10, "scoreThreshold": 0.3}
    )
    assert [r["metadata"]["title"] for r in strict.json["results"]] == ["notes.txt"]
    # the workspace's own topN and threshold apply when the request gives none (or invalid ones)
    await api.post(f"/v1/workspace/{slug}/update", json={"topN": 2, "similarityThreshold": 0})
    default = await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": "x"})
    assert len(default.json["results"]) == 2


async def test_query_mode_refuses_when_nothing_matches_and_chat_mode_still_answers(api: Api) -> None:
    slug = await _library(api, chatMode="query")
    # shares only function words ("the", "is", "in") with every document: scores far below 0.25
    unrelated = "What is the best bread in the world?"
    refused = await api.post(f"/v1/workspace/{slug}/chat", json={"message": unrelated})
    assert refused.json["textResponse"] == REFUSAL
    assert refused.json["sources"] == []
    assert "chatId" not in refused.json
    answered = await api.post(f"/v1/workspace/{slug}/chat", json={"message": unrelated, "mode": "chat"})
    assert answered.json["textResponse"] == (
        f'STUB ANSWER to "{unrelated}" | 0 context chunk(s) | history messages: 0'
    )
    custom = await api.post(f"/v1/workspace/{slug}/update", json={"queryRefusalResponse": "Nope."})
    assert custom.status == 200
    again = await api.post(f"/v1/workspace/{slug}/chat", json={"message": unrelated})
    assert again.json["textResponse"] == "Nope."


async def test_a_chunk_sharing_no_word_with_the_question_scores_one_like_the_server(api: Api) -> None:
    # The server maps a cosine distance >= 1 to similarity 1, so a chunk with nothing in common with the
    # question passes any threshold: the recorded chats list such chunks with "_distance": 1, "score": 1.
    slug = await _library(api, chatMode="query")
    question = "How do I bake bread at home?"  # "at" is in notes.txt, nothing is in the other two
    search = await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": question, "topN": 3})
    results = {r["metadata"]["title"]: (r["distance"], r["score"]) for r in search.json["results"]}
    assert results == {"kittens.txt": (1, 1), "river.md": (1, 1)}
    reply = await api.post(f"/v1/workspace/{slug}/chat", json={"message": question})
    assert [(s["title"], s["_distance"], s["score"]) for s in reply.json["sources"]] == [
        ("kittens.txt", 1, 1),
        ("river.md", 1, 1),
    ]
    assert reply.json["textResponse"].startswith(
        f'STUB ANSWER to "{question}" | 2 context chunk(s); first says: "<document_metadata>'
    )


async def test_an_empty_workspace_refuses_in_query_mode_without_searching(api: Api) -> None:
    workspace = await api.workspace("Empty")
    search = await api.post(f"/v1/workspace/{workspace['slug']}/vector-search", json={"query": "river"})
    assert search.json == {"results": [], "message": "No embeddings found for this workspace."}
    chat = await api.post(
        f"/v1/workspace/{workspace['slug']}/chat", json={"message": "river?", "mode": "query"}
    )
    assert chat.json["textResponse"] == REFUSAL


async def test_long_documents_are_chunked_and_each_chunk_is_a_vector(api: Api) -> None:
    workspace = await api.workspace("Long")
    paragraphs = [f"Paragraph {n} talks about topic{n} in detail. " * 12 for n in range(12)]
    text = "\n\n".join(paragraphs)
    expected_chunks = len(split_text(text))
    assert expected_chunks > 5
    await api.raw_text("Long Read", text, add_to=workspace["slug"])
    count = await api.get("/v1/system/vector-count")
    assert count.json == {"vectorCount": expected_chunks}
    hit = await api.post(
        f"/v1/workspace/{workspace['slug']}/vector-search", json={"query": "topic7", "topN": 1}
    )
    assert "topic7" in hit.json["results"][0]["text"]
    assert all(len(chunk) <= 1000 for chunk in split_text(text))


async def test_pinned_documents_are_always_in_the_context(api: Api) -> None:
    slug = await _library(api, chatMode="chat", topN=1)
    rows = (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0]["documents"]
    river = next(r["docpath"] for r in rows if r["filename"].startswith("river.md"))
    pinned = await api.post(f"/v1/workspace/{slug}/update-pin", json={"docPath": river, "pinStatus": True})
    assert pinned.json == {"message": "Pin status updated successfully"}
    reply = await api.post(f"/v1/workspace/{slug}/chat", json={"message": QUESTIONS["kittens.txt"]})
    sources = reply.json["sources"]
    assert sources[0]["title"] == "river.md"
    assert sources[0]["text"].endswith("...continued on in source document...")
    assert sources[1]["title"] == "kittens.txt"
    listing = (await api.get("/v1/documents")).json["localFiles"]["items"][0]["items"]
    assert next(d for d in listing if d["title"] == "river.md")["pinnedWorkspaces"] == [1]
    missing = await api.post(
        f"/v1/workspace/{slug}/update-pin", json={"docPath": "x/y.json", "pinStatus": True}
    )
    assert (missing.status, missing.text) == (404, "Not Found")


def test_distances_of_one_or_more_count_as_similarity_one_like_the_server() -> None:
    assert distance_to_similarity(1.0975899696350098) == 1
    assert distance_to_similarity(1.0) == 1
    assert distance_to_similarity(0.25) == 0.75
