"""Stream-chat's event sequence, the OpenAI-compatible routes, and the fault hooks the emulator honours."""

from __future__ import annotations

import aiohttp
import pytest
from emulator_api import TESTDATA_FILES, Api

from anythingllm_bridge.testing.chat import REFUSAL


async def _slug(api: Api, **fields: object) -> str:
    workspace = await api.workspace("Streamy", chatMode="chat", **fields)
    await api.upload("notes.txt", TESTDATA_FILES["notes.txt"], add_to=workspace["slug"])
    return str(workspace["slug"])


async def test_stream_chat_sends_the_recorded_event_sequence(api: Api) -> None:
    slug = await _slug(api)
    reply = await api.post(
        f"/v1/workspace/{slug}/stream-chat", json={"message": "Zorblax size?", "sessionId": "s"}
    )
    assert (reply.status, reply.content_type) == (200, "text/event-stream")
    assert (reply.headers["Cache-Control"], reply.headers["Access-Control-Allow-Origin"]) == ("no-cache", "*")
    assert reply.text.endswith("\n\n")
    assert all(block.startswith("data: ") for block in reply.text.strip("\n").split("\n\n"))
    events = reply.events()
    *tokens, closing, final = events
    assert {e["uuid"] for e in events} == {final["uuid"]}
    for token in tokens:
        assert token == {
            "uuid": final["uuid"],
            "sources": [],
            "type": "textResponseChunk",
            "textResponse": token["textResponse"],
            "close": False,
            "error": False,
        }
    assert closing | {"uuid": ""} == {
        "uuid": "",
        "sources": [],
        "type": "textResponseChunk",
        "textResponse": "",
        "close": True,
        "error": False,
    }
    assert list(final) == ["uuid", "type", "close", "error", "chatId", "metrics", "sources"]
    assert (final["type"], final["close"], final["error"], final["chatId"]) == (
        "finalizeResponseStream",
        True,
        False,
        1,
    )
    assert final["sources"][0]["title"] == "notes.txt"
    text = "".join(t["textResponse"] for t in tokens)
    history = (await api.get(f"/v1/workspace/{slug}/chats?apiSessionId=s")).json["history"]
    assert history[1]["content"] == text
    assert text.startswith('STUB ANSWER to "Zorblax size?" | 1 context chunk(s)')


async def test_stream_refusal_and_reset_are_single_text_response_events(api: Api) -> None:
    empty = (await api.workspace("Empty"))["slug"]
    refused = await api.post(f"/v1/workspace/{empty}/stream-chat", json={"message": "x", "mode": "query"})
    [event] = refused.events()
    assert list(event) == [
        "id",
        "type",
        "textResponse",
        "sources",
        "attachments",
        "close",
        "error",
        "metrics",
    ]
    assert (event["type"], event["textResponse"]) == ("textResponse", REFUSAL)
    reset = await api.post(f"/v1/workspace/{empty}/stream-chat", json={"reset": True})
    [event] = reset.events()
    assert event["textResponse"] == "Chat history was reset!"


@pytest.mark.parametrize("cut", [0, 1, 5])
async def test_a_stream_is_cut_after_k_events_when_the_fault_injector_says_so(api: Api, cut: int) -> None:
    slug = await _slug(api)
    api.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", cut_stream_after=cut)
    received: list[bytes] = []

    async def read_stream() -> int:
        async with api.session.post(
            f"{api.base}/v1/workspace/{slug}/stream-chat", json={"message": "Zorblax?"}, headers=api.auth
        ) as resp:
            async for chunk in resp.content.iter_any():
                received.append(chunk)
            return resp.status

    with pytest.raises(aiohttp.ClientPayloadError):
        await read_stream()
    assert b"".join(received).count(b"data: ") == cut
    whole = await api.post(f"/v1/workspace/{slug}/stream-chat", json={"message": "Zorblax?"})
    assert whole.events()[-1]["type"] == "finalizeResponseStream"


async def test_uploads_lose_their_embedding_when_the_fault_injector_says_so(api: Api) -> None:
    slug = await _slug(api)
    api.emulator.faults.lose_embeddings(next_n=2)
    lost_file = await api.upload("k.txt", TESTDATA_FILES["kittens.txt"], add_to=slug)
    lost_text = await api.post(
        "/v1/document/raw-text",
        json={"textContent": "t", "metadata": {"title": "t"}, "addToWorkspaces": slug},
    )
    kept = await api.raw_text("kept", "words", add_to=slug)
    assert (lost_file.status, lost_text.status) == (200, 200)
    assert lost_file.json["success"] is True
    paths = [r["docpath"] for r in (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0]["documents"]]
    assert kept["location"] in paths
    assert lost_file.json["documents"][0]["location"] not in paths
    assert lost_text.json["documents"][0]["location"] not in paths
    assert api.emulator.faults.embeddings_lost == 2


async def test_the_fault_middleware_sees_every_request_first(api: Api) -> None:
    api.emulator.faults.outage(60)
    down = await api.get("/ping", auth=False)
    assert down.status == 503
    api.emulator.faults.clear()
    await api.get("/v1/auth", headers={"X-Request-ID": "trace-1"})
    assert api.emulator.faults.requests[-1].request_id == "trace-1"


async def test_openai_models_and_chat_completions(api: Api) -> None:
    slug = await _slug(api)
    models = (await api.get("/v1/openai/models")).json
    assert models["object"] == "list"
    assert [(m["id"], m["object"]) for m in models["data"]] == [(slug, "model")]
    assert isinstance(models["data"][0]["created"], int)
    body = {
        "model": slug,
        "temperature": 0.1,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "Zorblax packet size?"}]},
        ],
    }
    completion = (await api.post("/v1/openai/chat/completions", json=body)).json
    assert (completion["object"], completion["model"]) == ("chat.completion", slug)
    [choice] = completion["choices"]
    assert (choice["index"], choice["logprobs"], choice["finish_reason"]) == (0, None, "stop")
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith('STUB ANSWER to "Zorblax packet size?"')
    assert choice["message"]["content"].endswith("history messages: 2")
    usage = completion["usage"]  # the server's metrics, key order included (measured on 1.16.0)
    assert list(usage) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "duration",
        "outputTps",
        "model",
        "provider",
        "timestamp",
    ]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert (usage["model"], usage["provider"]) == ("stub-model", "GenericOpenAiLLM")
    assert "sources" not in completion

    streamed = await api.post("/v1/openai/chat/completions", json={**body, "stream": True})
    assert streamed.content_type == "text/event-stream"
    assert "[DONE]" not in streamed.text
    events = streamed.events()
    assert {e["object"] for e in events} == {"chat.completion"}
    assert [e["choices"][0]["finish_reason"] for e in events][-3:] == [None, None, "stop"]
    assert [e["choices"][0]["delta"]["content"] for e in events][-2:] == ["", ""]
    assert all(e["usage"] == {} for e in events[:-1])
    assert list(events[-1]["usage"]) == [
        "completion_tokens",
        "prompt_tokens",
        "total_tokens",
        "outputTps",
        "duration",
        "model",
        "provider",
        "timestamp",
    ]
    assert "".join(e["choices"][0]["delta"]["content"] for e in events) == choice["message"]["content"]


async def test_openai_errors_keep_the_servers_odd_shapes(api: Api) -> None:
    slug = await _slug(api)
    unknown = await api.post("/v1/openai/chat/completions", json={"model": "nope", "messages": []})
    assert (unknown.status, unknown.text) == (401, "")
    no_user = await api.post(
        "/v1/openai/chat/completions",
        json={"model": slug, "messages": [{"role": "assistant", "content": "x"}]},
    )
    assert no_user.status == 400
    assert no_user.json["type"] == "abort"
    assert (
        no_user.json["error"]
        == "No user prompt found. Must be last element in message array with 'user' role."
    )
    broken = await api.post("/v1/openai/chat/completions", json={"model": slug, "messages": "oops"})
    assert (broken.status, broken.text) == (500, "")


async def test_openai_embeddings_are_the_workspaces_embedder(api: Api) -> None:
    one = (await api.post("/v1/openai/embeddings", json={"input": "purple river"})).json
    assert one["object"] == "list"
    [item] = one["data"]
    assert (item["object"], item["index"]) == ("embedding", 0)
    assert len(item["embedding"]) == 1024
    assert sum(x * x for x in item["embedding"]) == pytest.approx(1.0)
    many = (await api.post("/v1/openai/embeddings", json={"inputs": ["a b", "a b", "c"]})).json["data"]
    assert many[0]["embedding"] == many[1]["embedding"] != many[2]["embedding"]
    for bad in ({"input": ""}, {"input": [1, 2]}, {}):
        reply = await api.post("/v1/openai/embeddings", json=bad)
        assert (reply.status, reply.text) == (500, "")


async def test_vector_stores_list_workspaces(api: Api) -> None:
    slug = await _slug(api)
    stores = (await api.get("/v1/openai/vector_stores")).json
    assert stores["data"][0]["id"] == slug
    assert stores["data"][0]["file_counts"] == {"total": 1}
    assert (await api.get("/v1/openai/vector_stores?limit=1")).json == {"data": [], "has_more": False}


async def test_without_context_every_route_answers_like_the_stub_model(api: Api) -> None:
    # the reference server's stub model leaves out the "; first says" part when it got no context
    slug = (await api.workspace("Bare", chatMode="chat"))["slug"]
    thread = (await api.post(f"/v1/workspace/{slug}/thread/new", json={})).json["thread"]["slug"]

    def bare(question: str, history: int = 0) -> str:
        return f'STUB ANSWER to "{question}" | 0 context chunk(s) | history messages: {history}'

    chat = await api.post(f"/v1/workspace/{slug}/chat", json={"message": "one", "sessionId": "a"})
    assert chat.json["textResponse"] == bare("one")
    in_thread = await api.post(f"/v1/workspace/{slug}/thread/{thread}/chat", json={"message": "two"})
    assert in_thread.json["textResponse"] == bare("two")
    for path, history in (
        (f"/v1/workspace/{slug}/stream-chat", 0),
        (f"/v1/workspace/{slug}/thread/{thread}/stream-chat", 2),  # after "two" in the thread
    ):
        streamed = await api.post(path, json={"message": "three", "sessionId": "b"})
        tokens = [e["textResponse"] for e in streamed.events() if e["type"] == "textResponseChunk"]
        assert "".join(tokens) == bare("three", history)
    body = {"model": slug, "messages": [{"role": "user", "content": "four"}]}
    completion = (await api.post("/v1/openai/chat/completions", json=body)).json
    assert completion["choices"][0]["message"]["content"] == bare("four")
    events = (await api.post("/v1/openai/chat/completions", json={**body, "stream": True})).events()
    assert "".join(e["choices"][0]["delta"]["content"] for e in events) == bare("four")
