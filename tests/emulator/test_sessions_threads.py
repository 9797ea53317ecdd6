"""Chat history: API sessions, threads, resets, and the chats listings."""

from __future__ import annotations

import re
from typing import Any

from emulator_api import TESTDATA_FILES, Api


def _history_messages(answer: dict[str, Any]) -> int:
    found = re.search(r"history messages: (\d+)$", answer["textResponse"])
    assert found, answer
    return int(found.group(1))


async def _workspace(api: Api) -> str:
    workspace = await api.workspace("Chatty", chatMode="chat")
    await api.upload("notes.txt", TESTDATA_FILES["notes.txt"], add_to=workspace["slug"])
    return str(workspace["slug"])


async def test_sessions_keep_separate_histories(api: Api) -> None:
    slug = await _workspace(api)
    say = f"/v1/workspace/{slug}/chat"
    assert _history_messages((await api.post(say, json={"message": "a1", "sessionId": "A"})).json) == 0
    assert _history_messages((await api.post(say, json={"message": "a2", "sessionId": "A"})).json) == 2
    assert _history_messages((await api.post(say, json={"message": "b1", "sessionId": "B"})).json) == 0
    assert _history_messages((await api.post(say, json={"message": "none"})).json) == 0
    assert _history_messages((await api.post(say, json={"message": "a3", "sessionId": "A"})).json) == 4

    session_a = (await api.get(f"/v1/workspace/{slug}/chats?apiSessionId=A")).json["history"]
    assert [m["content"] for m in session_a if m["role"] == "user"] == ["a1", "a2", "a3"]
    assert [m["role"] for m in session_a] == ["user", "assistant"] * 3
    assert {m["chatId"] for m in session_a} == {1, 2, 5}
    newest_first = (await api.get(f"/v1/workspace/{slug}/chats?apiSessionId=A&orderBy=desc&limit=2")).json
    assert [m["content"] for m in newest_first["history"] if m["role"] == "user"] == ["a3", "a2"]
    no_session = (await api.get(f"/v1/workspace/{slug}/chats")).json["history"]
    assert [m["content"] for m in no_session if m["role"] == "user"] == ["none"]
    assert (await api.get(f"/v1/workspace/{slug}/chats?limit=abc")).json == {"history": []}


async def test_the_history_window_is_the_workspaces_open_ai_history(api: Api) -> None:
    slug = await _workspace(api)
    await api.post(f"/v1/workspace/{slug}/update", json={"openAiHistory": 1})
    for n in range(3):
        reply = await api.post(f"/v1/workspace/{slug}/chat", json={"message": f"m{n}", "sessionId": "S"})
        assert _history_messages(reply.json) == min(n, 1) * 2


async def test_reset_hides_the_history_from_answers_but_not_from_the_session_listing(api: Api) -> None:
    slug = await _workspace(api)
    say = f"/v1/workspace/{slug}/chat"
    await api.post(say, json={"message": "one", "sessionId": "R"})
    reset = await api.post(say, json={"reset": True, "sessionId": "R"})
    assert reset.json["textResponse"] == "Chat history was reset!"
    assert reset.json["type"] == "textResponse"
    assert _history_messages((await api.post(say, json={"message": "two", "sessionId": "R"})).json) == 0
    listed = (await api.get(f"/v1/workspace/{slug}/chats?apiSessionId=R")).json["history"]
    assert [m["content"] for m in listed if m["role"] == "user"] == ["one", "two"]
    # reset with a message resets first, then answers
    answered = await api.post(say, json={"message": "three", "sessionId": "R", "reset": True})
    assert _history_messages(answered.json) == 0


async def test_threads_keep_their_own_history(api: Api) -> None:
    slug = await _workspace(api)
    new = await api.post(f"/v1/workspace/{slug}/thread/new", json={"name": "Support", "slug": "Support Case"})
    thread = new.json["thread"]
    assert new.json["message"] is None
    assert (thread["name"], thread["slug"], thread["user_id"]) == ("Support", "Support-Case", None)
    base = f"/v1/workspace/{slug}/thread/Support-Case"
    first = await api.post(f"{base}/chat", json={"message": "first", "sessionId": "ignored"})
    assert _history_messages(first.json) == 0
    await api.post(f"/v1/workspace/{slug}/chat", json={"message": "outside"})
    second = await api.post(f"{base}/stream-chat", json={"message": "second"})
    assert second.status == 200
    third = await api.post(f"{base}/chat", json={"message": "Zorblax packet size?", "mode": "query"})
    assert _history_messages(third.json) == 4
    history = (await api.get(f"{base}/chats")).json["history"]
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "first",
        "second",
        "Zorblax packet size?",
    ]
    assert [m["type"] for m in history if m["role"] == "assistant"] == ["chat", "chat", "query"]
    assert (await api.get(f"/v1/workspace/{slug}/chats?apiSessionId=ignored")).json == {"history": []}


async def test_thread_update_delete_and_listing(api: Api) -> None:
    slug = await _workspace(api)
    thread = (await api.post(f"/v1/workspace/{slug}/thread/new")).json["thread"]
    assert thread["name"] == "Thread"
    assert re.fullmatch(r"[0-9a-f-]{36}", thread["slug"])
    base = f"/v1/workspace/{slug}/thread/{thread['slug']}"
    renamed = await api.post(f"{base}/update", json={"name": "Renamed"})
    assert (renamed.json["thread"]["name"], renamed.json["message"]) == ("Renamed", None)
    unchanged = await api.post(f"{base}/update", json={"color": "red"})
    assert unchanged.json["message"] == "No valid fields to update!"
    listed = (await api.get("/v1/workspaces")).json["workspaces"][0]["threads"]
    assert listed == [{"user_id": None, "slug": thread["slug"], "name": "Renamed"}]
    got = (await api.get(f"/v1/workspace/{slug}")).json["workspace"][0]["threads"]
    assert got == [{"user_id": None, "slug": thread["slug"]}]
    await api.post(f"{base}/chat", json={"message": "hello"})
    deleted = await api.delete(base)
    assert (deleted.status, deleted.text) == (200, "OK")
    assert (await api.delete(base)).text == "OK"  # deleting a missing thread is fine
    gone = await api.get(f"{base}/chats")
    assert (gone.status, gone.json) == (404, {"message": "Thread not found"})
    assert (await api.get(f"/v1/workspace/{slug}/chats")).json == {"history": []}
    duplicate = await api.post(f"/v1/workspace/{slug}/thread/new", json={"slug": "dup"})
    again = await api.post(f"/v1/workspace/{slug}/thread/new", json={"slug": "dup"})
    assert duplicate.json["thread"]["slug"] == "dup"
    assert again.status == 200
    assert again.json["thread"] is None
    assert "Unique constraint failed" in again.json["message"]


async def test_thread_errors_have_the_servers_shapes(api: Api) -> None:
    slug = await _workspace(api)
    assert (await api.post("/v1/workspace/nope/thread/x/update", json={"name": "n"})).json == {
        "message": "Workspace not found"
    }
    missing_ws = await api.post("/v1/workspace/nope/thread/x/chat", json={"message": "hi"})
    assert (missing_ws.status, missing_ws.json["error"]) == (404, "Workspace nope not found.")
    missing_thread = await api.post(f"/v1/workspace/{slug}/thread/x/stream-chat", json={"message": "hi"})
    assert missing_thread.status == 400
    assert missing_thread.json["error"] == f"Workspace {slug} or thread x is not valid."
    crash = await api.post("/v1/workspace/nope/thread/x/stream-chat", json={"message": "hi"})
    assert crash.status == 200
    assert crash.content_type != "text/event-stream"
    [event] = crash.events()
    assert event["type"] == "abort"
    assert event["error"] == "Cannot read properties of null (reading 'id')"
    assert (await api.delete("/v1/workspace/nope/thread/x")).text == "Bad Request"


async def test_deleting_a_workspace_removes_its_threads_chats_and_vectors(api: Api) -> None:
    slug = await _workspace(api)
    await api.post(f"/v1/workspace/{slug}/thread/new", json={"slug": "t"})
    await api.post(f"/v1/workspace/{slug}/chat", json={"message": "hi"})
    assert (await api.get("/v1/system/vector-count")).json == {"vectorCount": 1}
    assert (await api.delete(f"/v1/workspace/{slug}")).text == "OK"
    assert (await api.get("/v1/system/vector-count")).json == {"vectorCount": 0}
    assert (await api.get("/v1/workspaces")).json == {"workspaces": []}
    again = await api.workspace("Chatty")
    assert again["slug"] == slug
    assert (await api.post(f"/v1/workspace/{slug}/thread/new", json={"slug": "t"})).json["thread"][
        "slug"
    ] == "t"
