"""Hostile answers: whatever a server (or whatever sits in front of it) sends — random bytes, truncated
JSON, HTML, huge strings, wrong types in known fields, any status, odd ``Retry-After`` values — the client
either returns a result or raises one of its own errors (``AnythingLLMError``), never anything else.
A tiny server on 127.0.0.1 answers what hypothesis generates; several client methods read it."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hostile_server import HOSTILE_API_KEY, Answer, HostileHarness
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.client.models import HealthStatus
from anythingllm_bridge.errors import AnythingLLMError

WORKSPACE: dict[str, Any] = {
    "id": 1,
    "name": "Docs",
    "slug": "docs",
    "vectorTag": None,
    "createdAt": "2026-11-21T23:40:10.367Z",
    "openAiTemp": 0.2,
    "openAiHistory": 20,
    "lastUpdatedAt": "2026-11-21T23:40:10.367Z",
    "openAiPrompt": "You are a test bot.",
    "similarityThreshold": 0.25,
    "topN": 4,
    "chatMode": "chat",
    "queryRefusalResponse": None,
    "router_id": None,
    "documents": [{"id": 1, "docId": "c9b7", "filename": "a.json", "docpath": "custom-documents/a.json"}],
    "threads": [{"id": 1, "name": "T", "slug": "t", "workspace_id": 1}],
}
SOURCE = {"id": "eb10", "url": "file:///notes.txt", "title": "notes.txt", "text": "Zorblax", "score": 0.5}
DOCUMENT = {
    "id": "3d84",
    "url": "file://river.txt",
    "title": "river.txt",
    "docAuthor": "Test Author",
    "docSource": "unit test",
    "published": "11/21/2026, 11:40:35 PM",
    "wordCount": 21,
    "pageContent": "The river flows north.",
    "token_count_estimate": 32,
    "location": "custom-documents/raw-river-3d84.json",
}
LISTING_ITEM = {**DOCUMENT, "location": None, "name": "river.json", "type": "file"}

Call = Callable[[AnythingLLMClient], Awaitable[Any]]
#: method -> (the call, a valid answer body it understands)
CALLS: dict[str, tuple[Call, Any]] = {
    "list_workspaces": (lambda c: c.list_workspaces(), {"workspaces": [WORKSPACE]}),
    "get_workspace": (lambda c: c.get_workspace("docs"), {"workspace": [WORKSPACE]}),
    "create_workspace": (lambda c: c.create_workspace("Docs"), {"workspace": WORKSPACE, "message": None}),
    "chat": (
        lambda c: c.chat("docs", "What is Zorblax?"),
        {
            "id": "da37",
            "type": "textResponse",
            "close": True,
            "error": None,
            "chatId": 1,
            "textResponse": "An answer.",
            "sources": [SOURCE],
            "metrics": {},
        },
    ),
    "search_workspace": (
        lambda c: c.search_workspace("docs", "zorblax"),
        {"results": [{**SOURCE, "metadata": {"title": "notes.txt"}, "distance": 0.5}]},
    ),
    "upload_text": (
        lambda c: c.upload_text("River", "The river flows north."),
        {"success": True, "error": None, "documents": [DOCUMENT]},
    ),
    "list_documents": (
        lambda c: c.list_documents(),
        {
            "localFiles": {
                "name": "documents",
                "type": "folder",
                "items": [{"name": "custom-documents", "type": "folder", "items": [LISTING_ITEM]}],
            }
        },
    ),
    "vector_count": (lambda c: c.vector_count(), {"vectorCount": 5}),
    "get_workspace_chats": (
        lambda c: c.get_workspace_chats("docs"),
        {"history": [{"role": "user", "content": "hi", "sentAt": 1795304476, "chatId": 4}]},
    ),
    "update_embeddings": (
        lambda c: c.update_embeddings("docs", adds=["custom-documents/a.json"]),
        {"workspace": WORKSPACE},
    ),
}

# ------------------------------------------------------------------ strategies

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "null", "[]", "{}", "0"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
HTML = [
    b"<!DOCTYPE html><html><head><title>AnythingLLM</title></head><body><div id=root></div></body></html>",
    b"<html><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
    b"<html><body>Request Rejected</body></html>",
]
HUGE = 2 * 1024 * 1024
HUGE_BODIES = [
    b'{"workspaces": [{"slug": "' + b"a" * HUGE + b'"}]}',
    b'{"textResponse": "' + b"\\u00e9" * (HUGE // 6) + b'", "type": "textResponse"}',
    b'"' + b"x" * HUGE + b'"',
    b"[" + b"1," * (HUGE // 2) + b"1]",
    b"[" * 100_000 + b"]" * 100_000,  # deeply nested
    b"<html>" + b"<div>" * (HUGE // 5) + b"</html>",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


@st.composite
def wrong_types(draw: st.DrawFn, template: Any) -> bytes:
    """The valid answer with one to three fields replaced by any JSON value (or removed)."""
    body = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(body))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return json.dumps(body).encode()


@st.composite
def truncated(draw: st.DrawFn, template: Any) -> bytes:
    text = json.dumps(template).encode()
    return text[: draw(st.integers(0, len(text) - 1))]


def bodies(template: Any) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.just(json.dumps(template).encode()),
        wrong_types(template),
        truncated(template),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=512),
        st.sampled_from(HTML),
        st.sampled_from(HUGE_BODIES),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.just(b"\xef\xbb\xbf" + json.dumps(template).encode()),  # a byte-order mark
        st.just(json.dumps(template).encode("utf-16")),
    )


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30) | st.integers(
    -(10**12), 10**12
).map(str)


@st.composite
def answers(draw: st.DrawFn, template: Any) -> Answer:
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Retry-After"] = draw(
            header_values | st.sampled_from(["0", "1", "Wed, 21 Oct 2015 07:28:00 GMT", "nan", "inf", "-1"])
        )
    if draw(st.booleans()):
        headers["retry-after-ms"] = draw(header_values)
    return Answer(
        status=draw(
            st.sampled_from([200, 201, 204, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504])
            | st.integers(200, 599)
        ),
        content_type=draw(
            st.sampled_from(
                [
                    "application/json",
                    "text/html",
                    "text/plain",
                    "text/event-stream",
                    "application/octet-stream",
                    "application/json; charset=latin-1",
                    "application/json; charset=nonsense",
                    None,
                ]
            )
        ),
        body=draw(bodies(template)),
        headers=headers,
        pieces=draw(st.sampled_from([1, 1, 3])),
    )


@st.composite
def call_and_answer(draw: st.DrawFn) -> tuple[str, Answer]:
    name = draw(st.sampled_from(sorted(CALLS)))
    return name, draw(answers(CALLS[name][1]))


# ------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def harness() -> Iterator[HostileHarness]:
    with HostileHarness() as running:
        yield running


def test_the_valid_answers_are_understood(harness: HostileHarness) -> None:
    """The templates are real answers: every call succeeds on them (so the fuzzing starts from sense)."""
    for name, (call, template) in CALLS.items():
        harness.answer = Answer(body=json.dumps(template).encode())
        assert harness.call(lambda call=call: call(harness.client)) is not None, name  # type: ignore[misc]


EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "300"))
RELAXED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def outcome(harness: HostileHarness, call: Call) -> AnythingLLMError | None:
    """Run the call; our own error is returned, anything else propagates (and fails the test)."""
    client = harness.client
    assert client is not None
    try:
        harness.call(lambda: call(client))
    except AnythingLLMError as exc:
        return exc
    return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=RELAXED)
@given(case=call_and_answer())
# what it found once (fixed; kept as regression cases)
@example(case=("chat", Answer(content_type="application/json; charset=nonsense", body=b'{"id": "x"}')))
@example(case=("list_workspaces", Answer(body=b"[" * 100_000 + b"]" * 100_000)))
@example(case=("chat", Answer(body=b'{"id": [], "type": "textResponse", "close": true}')))
@example(case=("list_documents", Answer(body=b'{"localFiles": {"items": [1, "two"]}}')))
@example(case=("list_documents", Answer(body=b'{"localFiles": [{"items": [{"type": "file"}]}]}')))
@example(case=("list_workspaces", Answer(body=b'{"workspaces": 5}')))
@example(case=("search_workspace", Answer(body=b'{"results": "abc"}')))
def test_any_answer_gives_a_result_or_our_own_error(
    harness: HostileHarness, case: tuple[str, Answer]
) -> None:
    name, answer = case
    harness.answer = answer
    error = outcome(harness, CALLS[name][0])
    if error is not None:
        assert str(error)  # a message a person can read
        assert HOSTILE_API_KEY not in f"{error} {error!r}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers({"online": True}))
def test_health_check_never_raises(harness: HostileHarness, answer: Answer) -> None:
    harness.answer = answer
    client = harness.client
    assert client is not None
    status = harness.call(client.health_check)
    assert isinstance(status, HealthStatus)
    assert status.reachable  # whatever it said, the server answered in HTTP
    if status.ok:
        assert status.reason is None
    else:  # what is wrong, in one line a person can read, without the key
        assert status.reason is not None
        assert status.reason.strip()
        assert "\n" not in status.reason
        assert HOSTILE_API_KEY not in status.reason
    if status.answering:  # only an AnythingLLM that says it is online counts as answering
        assert not status.not_anythingllm
