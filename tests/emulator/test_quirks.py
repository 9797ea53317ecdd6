"""The real server's quirks, which clients must survive, reproduced by the emulator: its key check,
error shapes, status codes and content types as a real AnythingLLM 1.16.0 answers them."""

from __future__ import annotations

import re

import pytest
from emulator_api import Api

from anythingllm_bridge.testing.state import DEFAULT_PROMPT
from anythingllm_bridge.testing.wire import EXPRESS_ERROR_PAGE

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
BAD_REQUEST_PAGE = EXPRESS_ERROR_PAGE.format(message="Bad Request")
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer WRONG", "TEST-EMULATOR-KEY", "Bearer  TEST-EMULATOR-KEY", "Bearer"],
)
async def test_a_bad_or_missing_key_is_403_with_the_servers_body(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = await api.get("/v1/workspaces", auth=False, headers=headers)
    assert (reply.status, reply.content_type, reply.json) == (403, JSON, {"error": "No valid api key found."})


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
async def test_the_scheme_word_is_not_checked(api: Api, scheme: str) -> None:
    reply = await api.get(
        "/v1/auth", auth=False, headers={"Authorization": f"{scheme} {api.running.api_key}"}
    )
    assert reply.json == {"authenticated": True}


async def test_ping_and_env_dump_need_no_key(api: Api) -> None:
    assert (await api.get("/ping", auth=False)).json == {"online": True}
    dump = await api.get("/v1/system/env-dump", auth=False)
    assert (dump.status, dump.content_type, dump.text) == (200, TEXT, "OK")


async def test_unknown_routes_answer_the_web_uis_page_with_200(api: Api) -> None:
    for reply in (
        await api.get("/v1/does-not-exist"),
        await api.get("/v1/does-not-exist", auth=False),
        await api.call("PATCH", "/v1/workspaces"),
    ):
        assert (reply.status, reply.content_type) == (200, "text/html; charset=utf-8")
        assert "<title >AnythingLLM | Your personal LLM trained on anything</title>" in reply.text


@pytest.mark.parametrize("body", [b'{"name": "oops",', b"not json", b'"just a string"'])
async def test_malformed_json_gets_expresss_html_400_before_any_route(api: Api, body: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    for reply in (
        await api.post("/v1/workspace/new", data=body, headers=json_type),
        await api.post("/v1/workspace/new", data=body, headers=json_type, auth=False),
        await api.post("/v1/no-such-route", data=body, headers=json_type),
    ):
        assert (reply.status, reply.content_type, reply.text) == (
            400,
            "text/html; charset=utf-8",
            BAD_REQUEST_PAGE,
        )
        assert reply.headers["Content-Security-Policy"] == "default-src 'none'"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


async def test_json_without_a_json_content_type_is_not_read(api: Api) -> None:
    plain = await api.post("/v1/workspace/new", data=b'{"name":"x"}', skip_auto_headers=["Content-Type"])
    assert (plain.status, plain.json) == (400, {"workspace": None, "message": "name cannot be null"})
    as_text = await api.post(
        "/v1/workspace/new", data='{"name":"As Text"}', headers={"Content-Type": "text/plain"}
    )
    assert as_text.json["workspace"]["slug"] == "as-text"  # reqBody() JSON.parses a text body
    broken = await api.post("/v1/workspace/new", data="nope", headers={"Content-Type": "text/plain"})
    assert (broken.status, broken.content_type, broken.text) == (500, TEXT, "Internal Server Error")


async def test_unknown_workspaces_get_each_routes_own_answer(api: Api) -> None:
    get = await api.get("/v1/workspace/nope")
    assert (get.status, get.json) == (200, {"workspace": []})
    for reply in (
        await api.post("/v1/workspace/nope/update", json={"name": "x"}),
        await api.post("/v1/workspace/nope/update-embeddings", json={"adds": []}),
        await api.post("/v1/workspace/nope/thread/new", json={}),
        await api.delete("/v1/workspace/nope"),
        await api.get("/v1/workspace/nope/chats"),
    ):
        assert (reply.status, reply.content_type, reply.text) == (400, TEXT, "Bad Request")
    search = await api.post("/v1/workspace/nope/vector-search", json={"query": "x"})
    assert (search.status, search.json) == (400, {"message": "Workspace nope is not a valid workspace."})
    pin = await api.post("/v1/workspace/nope/update-pin", json={"docPath": "a", "pinStatus": True})
    assert (pin.status, pin.text, pin.content_type) == (500, "", None)
    for path in ("/v1/workspace/nope/chat", "/v1/workspace/nope/stream-chat"):
        chat = await api.post(path, json={"message": "hi"})
        assert chat.status == 400
        assert {k: v for k, v in chat.json.items() if k != "id"} == {
            "type": "abort",
            "textResponse": None,
            "sources": [],
            "close": True,
            "error": "Workspace nope is not a valid workspace.",
        }


async def test_chat_validation_errors_are_abort_envelopes(api: Api) -> None:
    slug = (await api.workspace("Talk"))["slug"]
    for path in (f"/v1/workspace/{slug}/chat", f"/v1/workspace/{slug}/stream-chat"):
        empty = await api.post(path, json={"mode": "chat"})
        assert (empty.status, empty.json["type"], empty.json["error"]) == (400, "abort", "Message is empty")
        bad_mode = await api.post(path, json={"message": "hi", "mode": "banana"})
        assert (bad_mode.status, bad_mode.json["error"]) == (400, "banana is not a valid mode.")
    empty_search = await api.post(f"/v1/workspace/{slug}/vector-search", json={"query": ""})
    assert (empty_search.status, empty_search.json) == (400, {"message": "Query parameter cannot be empty."})


async def test_workspace_rows_dates_defaults_and_delete_answers(api: Api) -> None:
    workspace = await api.workspace("Defaults")
    assert list(workspace) == [
        "id", "name", "slug", "vectorTag", "createdAt", "openAiTemp", "openAiHistory", "lastUpdatedAt",
        "openAiPrompt", "similarityThreshold", "chatProvider", "chatModel", "topN", "chatMode", "pfpFilename",
        "agentProvider", "agentModel", "queryRefusalResponse", "vectorSearchMode", "router_id",
    ]  # fmt: skip
    assert ISO_Z.fullmatch(workspace["createdAt"])
    assert ISO_Z.fullmatch(workspace["lastUpdatedAt"])
    assert workspace["openAiPrompt"] == DEFAULT_PROMPT
    assert (workspace["chatMode"], workspace["topN"], workspace["similarityThreshold"]) == (
        "automatic",
        4,
        0.25,
    )
    nothing = await api.post("/v1/workspace/defaults/update", json={"bogus": 1})
    assert nothing.json == {"workspace": {"id": workspace["id"]}, "message": "No valid fields to update!"}
    embedded = await api.post(
        "/v1/workspace/defaults/update-embeddings", json={"adds": ["custom-documents/x.json"]}
    )
    assert embedded.json["workspace"]["contextWindow"] == 4096
    assert embedded.json["workspace"]["currentContextTokenCount"] == 0
    assert embedded.json["workspace"]["documents"] == []
    deleted = await api.delete("/v1/workspace/defaults")
    assert (deleted.status, deleted.content_type, deleted.text) == (200, TEXT, "OK")
    assert (await api.delete("/v1/workspace/defaults")).text == "Bad Request"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ({"openAiTemp": "hot"}, {"openAiTemp": None}),
        ({"openAiTemp": -1}, {"openAiTemp": None}),
        ({"openAiTemp": "0.7x"}, {"openAiTemp": 0.7}),
        ({"openAiHistory": -5}, {"openAiHistory": 0}),
        ({"openAiHistory": "abc"}, {"openAiHistory": 20}),
        ({"similarityThreshold": 7}, {"similarityThreshold": 1}),
        ({"similarityThreshold": -1}, {"similarityThreshold": 0}),
        ({"topN": 0}, {"topN": 1}),
        ({"topN": "6.9"}, {"topN": 6}),
        ({"chatMode": "banana"}, {"chatMode": "automatic"}),
        ({"chatMode": "query"}, {"chatMode": "query"}),
        ({"chatProvider": "none"}, {"chatProvider": None}),
        ({"chatProvider": "default", "chatModel": "m"}, {"chatProvider": None, "chatModel": None}),
        ({"chatModel": ""}, {"chatModel": None}),
        ({"vectorSearchMode": "fast"}, {"vectorSearchMode": "default"}),
        ({"queryRefusalResponse": 5}, {"queryRefusalResponse": None}),
    ],
)
async def test_writable_fields_are_coerced_like_the_server(
    api: Api, sent: dict[str, object], stored: dict[str, object]
) -> None:
    created = await api.workspace("Coerced", **sent)
    assert {k: created[k] for k in stored} == stored
    updated = (await api.post("/v1/workspace/coerced/update", json=sent)).json["workspace"]
    assert {k: updated[k] for k in stored} == stored


async def test_workspace_creation_errors(api: Api) -> None:
    missing = await api.post("/v1/workspace/new", json={})
    assert (missing.status, missing.json) == (400, {"workspace": None, "message": "name cannot be null"})
    not_text = await api.post("/v1/workspace/new", json={"name": 42})
    assert (not_text.status, not_text.text) == (500, "Internal Server Error")
    long = await api.workspace("x" * 300)
    assert len(long["name"]) == 255
