"""The one response → error mapping, checked against every recorded answer of AnythingLLM 1.16.0
and against the error shapes of the server's code that the recording did not happen to produce.
Where a route's answer means "not found" only for that route, the exchange is interpreted with the
Subject the client's method for that route declares (the client tests check the methods do)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anythingllm_bridge.client._errors import (
    Expect,
    Subject,
    interpret_response,
    parse_retry_after,
    server_message,
)
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMChatError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMValidationError,
)
from support import TRANSCRIPTS, needs_transcripts

# file number -> expected error class (None = success). Every recorded exchange is listed.
EXPECTED: dict[str, type[AnythingLLMError] | None] = {
    "01": None, "02": None,
    "03": AnythingLLMAuthenticationError, "04": AnythingLLMAuthenticationError,
    "05": None, "06": None,
    "07": AnythingLLMValidationError,  # {"workspace": null, "message": "name cannot be null"}
    "08": AnythingLLMValidationError,  # Express HTML page for malformed JSON
    "09": None, "10": None, "11": None, "12": None,
    "13": AnythingLLMNotFoundError,  # 200 {"workspace": []}
    "14": None,
    "15": AnythingLLMNotFoundError,  # 400 text "Bad Request" on a workspace route
    "16": AnythingLLMValidationError,
    "17": None,
    "18": AnythingLLMValidationError,
    "20": None,
    "21": AnythingLLMValidationError, "22": AnythingLLMValidationError,  # 422
    "23": None, "24": None, "25": None, "26": None,
    "27": AnythingLLMServerError,  # plain 500 text
    "28": AnythingLLMServerError,  # 500 JSON {"success": false, "error": ...}
    "29": None, "30": None, "31": None,
    "32": AnythingLLMNotFoundError,
    "33": None, "34": None, "35": None,
    "36": AnythingLLMValidationError,  # {"message": "Query parameter cannot be empty."}
    "37": AnythingLLMNotFoundError,  # {"message": "Workspace nope is not a valid workspace."}
    "38": None,  # 200 with a "message" is still a success
    "40": None, "41": None, "42": None,
    "43": AnythingLLMChatError, "44": AnythingLLMChatError,  # 400 abort envelopes
    "45": AnythingLLMNotFoundError,  # 400 abort "Workspace nope is not a valid workspace."
    "46": None,
    "47": None,  # streams, read whole with expect="any"
    "48": AnythingLLMNotFoundError, "49": AnythingLLMChatError,
    "50": None,
    "51": None, "52": None,
    "53": AnythingLLMNotFoundError,
    "54": None, "55": None, "56": None, "57": None,
    "58": AnythingLLMNotFoundError,  # 404 abort "Thread no-such-thread not found."
    "59": AnythingLLMNotFoundError,  # 404 {"message": "Thread not found"}
    "60": AnythingLLMChatError,
    "61": None, "62": None,
    "63": AnythingLLMNotFoundError,  # 404 text "Not Found"
    "64": None, "65": None, "66": None, "67": None,
    "68": AnythingLLMServerError,
    "69": None,
    "70": None,  # 200 text "OK" with expect="text"
    "71": AnythingLLMNotFoundError,
    "72": None,
    "73": AnythingLLMAuthenticationError,
    "74": AnythingLLMProtocolError, "75": AnythingLLMProtocolError,  # the web UI's HTML page
    "76": None, "77": None, "78": None,
}  # fmt: skip

EXPECT: dict[str, Expect] = {"47": "any", "50": "any", "56": "any", "70": "text"}


def _workspace(slug: str) -> Subject:
    return Subject(f"workspace {slug!r}", bare=400)  # what the client's workspace methods declare


# file number -> what the client's method for that route declares about the call
SUBJECTS: dict[str, Subject] = {
    "13": _workspace("does-not-exist"),  # get_workspace
    "15": _workspace("does-not-exist"),  # update_workspace
    "16": _workspace("my-test-workspace-bang"),  # update_workspace, body refused by Express
    "32": _workspace("nope"),  # update_embeddings
    "36": _workspace("my-test-workspace-bang"),  # search_workspace
    "37": _workspace("nope"),  # search_workspace
    "45": _workspace("nope"),  # chat
    "48": _workspace("nope"),  # stream_chat
    "53": _workspace("nope"),  # create_thread
    "58": Subject("workspace 'my-test-workspace-bang' or its thread 'no-such-thread'", bare=400),
    "59": Subject("workspace 'my-test-workspace-bang' or its thread 'no-such-thread'", bare=400),
    "63": Subject("document 'nope-doc'"),  # get_document
    "71": _workspace("second-ws"),  # delete_workspace
}


def _transcripts() -> list[dict[str, Any]]:
    return json.loads(TRANSCRIPTS.read_text()) if TRANSCRIPTS.exists() else []


RECORDED = _transcripts()


@needs_transcripts
def test_every_recorded_exchange_has_an_expectation() -> None:
    assert sorted(t["file"][:2] for t in RECORDED) == sorted(EXPECTED)


@pytest.mark.parametrize("exchange", RECORDED, ids=[t["file"] for t in RECORDED])
def test_recorded_answer_maps_to_the_expected_error(exchange: dict[str, Any]) -> None:
    number = exchange["file"][:2]
    request, response = exchange["request"], exchange["response"]
    data, error = interpret_response(
        response["status"],
        response["headers"].get("Content-Type", ""),
        response["headers"],
        response["body"] or "",
        method=request["method"],
        path=request["path"],
        trace_id="t-1",
        expect=EXPECT.get(number, "json"),
        subject=SUBJECTS.get(number),
    )
    expected = EXPECTED[number]
    if expected is None:
        assert error is None, error
        return
    assert type(error) is expected, error
    assert error.trace_id == "t-1"
    assert error.method == request["method"]
    assert error.path == request["path"]
    if isinstance(error, AnythingLLMAPIError):
        assert error.status == response["status"]
        assert error.body == data or isinstance(data, str)


def _by(number: str) -> dict[str, Any]:
    return next(t for t in RECORDED if t["file"].startswith(number))


def _interpret(number: str) -> AnythingLLMError:
    exchange = _by(number)
    response = exchange["response"]
    _, error = interpret_response(
        response["status"],
        response["headers"]["Content-Type"],
        response["headers"],
        response["body"],
        method=exchange["request"]["method"],
        path=exchange["request"]["path"],
        trace_id=None,
        subject=SUBJECTS.get(number),
    )
    assert error is not None
    return error


@needs_transcripts
def test_server_messages_are_extracted_from_error_and_message_keys_and_text() -> None:
    cases = {
        "03": "No valid api key found.",
        "07": "name cannot be null",
        "08": "Bad Request",
        "21": "You are missing required metadata key:value pairs in your request. "
        "Required metadata key:values are 'title'",
        "27": "Internal Server Error",
        "28": "File extension .bin not supported for parsing and cannot be assumed as text file type.",
        "36": "Query parameter cannot be empty.",
        "43": "Message is empty",
        "59": "Thread not found",
    }
    for number, said in cases.items():
        error = _interpret(number)
        assert isinstance(error, AnythingLLMAPIError)
        assert error.server_message == said, number
        assert said[:40] in str(error), number


@needs_transcripts
def test_missing_workspace_errors_name_the_workspace() -> None:
    assert "workspace 'does-not-exist' does not exist" in str(_interpret("13"))
    assert "workspace 'nope' does not exist" in str(_interpret("32"))
    assert "nope" in str(_interpret("45"))
    assert "document 'nope-doc' does not exist" in str(_interpret("63"))


def test_without_a_subject_the_route_specific_shapes_are_not_guessed() -> None:
    # the URL is never read: an empty workspace list or a bare 400 mean "not found" only for a call
    # that says what it names
    data, error = _synthetic(200, '{"workspace": []}', method="GET", path="/v1/workspace/x")
    assert (data, error) == ({"workspace": []}, None)
    _, error = _synthetic(400, "Bad Request", content_type="text/plain", path="/v1/workspace/x/update")
    assert type(error) is AnythingLLMValidationError
    _, error = _synthetic(401, "", content_type="", path="/v1/openai/chat/completions")
    assert type(error) is AnythingLLMAuthenticationError
    _, error = _synthetic(404, "Not Found", content_type="text/plain", path="/v1/document/x")
    assert isinstance(error, AnythingLLMNotFoundError)
    assert "the requested item does not exist" in str(error)


def test_a_subject_reads_only_the_bare_status_as_not_found() -> None:
    ws = Subject("workspace 'ws'", bare=400)
    _, error = _synthetic(400, "Bad Request", content_type="text/plain; charset=utf-8", subject=ws)
    assert isinstance(error, AnythingLLMNotFoundError)
    assert str(error).startswith("workspace 'ws' does not exist (the server answered 400 Bad Request)")
    _, error = _synthetic(400, '{"message": "Query parameter cannot be empty."}', subject=ws)
    assert type(error) is AnythingLLMValidationError  # words of its own: a refusal, not a missing thing
    _, error = _synthetic(400, "<html><pre>Bad Request</pre></html>", content_type="text/html", subject=ws)
    assert type(error) is AnythingLLMValidationError  # the body parser's page
    _, error = _synthetic(422, "", content_type="", subject=ws)
    assert type(error) is AnythingLLMValidationError  # another status


@needs_transcripts
def test_html_where_json_was_due_names_the_likely_cause() -> None:
    error = _interpret("74")
    assert isinstance(error, AnythingLLMProtocolError)
    assert error.status == 200
    assert error.content_type == "text/html"
    assert "base URL" in str(error)
    assert "too old" in str(error)


@needs_transcripts
def test_authentication_error_tells_what_to_check() -> None:
    assert "ANYTHINGLLM_API_KEY" in str(_interpret("73"))


def _synthetic(
    status: int,
    body: str,
    *,
    content_type: str = "application/json; charset=utf-8",
    method: str = "POST",
    path: str = "/v1/workspace/ws/chat",
    headers: dict[str, str] | None = None,
    expect: Expect = "json",
    subject: Subject | None = None,
) -> tuple[Any, AnythingLLMError | None]:
    return interpret_response(
        status,
        content_type,
        headers or {},
        body,
        method=method,
        path=path,
        trace_id="tid",
        expect=expect,
        subject=subject,
    )


def test_200_abort_envelope_is_a_chat_error() -> None:
    body = json.dumps(
        {"id": "x", "type": "abort", "textResponse": None, "sources": [], "close": True, "error": "LLM down"}
    )
    _, error = _synthetic(200, body)
    assert isinstance(error, AnythingLLMChatError)
    assert error.server_message == "LLM down"
    assert error.status == 200


def test_thread_stream_crash_line_with_status_200_is_mapped() -> None:
    crash = 'data: {"uuid":"u","type":"abort","textResponse":null,"sources":[],"close":true,"error":"%s"}\n\n'
    thread = "/v1/workspace/nope/thread/t/stream-chat"
    crashing = Subject("workspace 'nope' or its thread 't'", bare=400, crashes=True)
    null_id = crash % "Cannot read properties of null (reading 'id')"
    _, error = _synthetic(200, null_id, path=thread, expect="any", subject=crashing)
    assert isinstance(error, AnythingLLMNotFoundError)
    assert "workspace 'nope' or its thread 't' does not exist" in str(error)
    assert error.server_message == "Cannot read properties of null (reading 'id')"
    _, error = _synthetic(200, null_id, path=thread, expect="any")  # a route that does not crash so
    assert type(error) is AnythingLLMChatError
    _, error = _synthetic(
        200, crash % "Workspace nope is not a valid workspace.", path="/v1/workspace/nope/chat"
    )
    assert isinstance(error, AnythingLLMNotFoundError)
    _, error = _synthetic(200, crash % "LLM exploded", content_type="text/html", path="/v1/workspace/ws/chat")
    assert isinstance(error, AnythingLLMChatError)
    assert error.server_message == "LLM exploded"


def test_thread_stream_400_abort_for_an_unknown_thread_is_not_found() -> None:
    # API.md 6.6: stream-chat in a thread that does not exist (the workspace does)
    body = json.dumps(
        {
            "id": "5d4fd3a2-0d1e-4a44-9d5c-2f7a3b0c1e9f",
            "type": "abort",
            "textResponse": None,
            "sources": [],
            "close": True,
            "error": "Workspace ws or thread no-such-thread is not valid.",
        }
    )
    path = "/v1/workspace/ws/thread/no-such-thread/stream-chat"
    _, error = _synthetic(400, body, path=path)
    assert isinstance(error, AnythingLLMNotFoundError)
    assert "no-such-thread" in str(error)
    assert error.server_message == "Workspace ws or thread no-such-thread is not valid."
    assert error.status == 400
    # a chat refusal that merely says "not a valid <something else>" stays a chat error
    refused = json.loads(body) | {"error": "banana is not a valid mode."}
    _, error = _synthetic(400, json.dumps(refused), path="/v1/workspace/ws/stream-chat")
    assert type(error) is AnythingLLMChatError


def test_other_catalogue_shapes() -> None:
    _, e = _synthetic(
        403, '{"success": false, "error": "Workspace deletion is blocked by the system administrator."}'
    )
    assert type(e) is AnythingLLMAPIError
    assert "blocked" in str(e)
    _, e = _synthetic(404, '{"message": "Workspace not found"}', path="/v1/workspace/x/thread/t/update")
    assert isinstance(e, AnythingLLMNotFoundError)
    model = Subject("the workspace slug 'nope' given as the model", bare=401)
    _, e = _synthetic(401, "", content_type="", path="/v1/openai/chat/completions", subject=model)
    assert isinstance(e, AnythingLLMNotFoundError)
    assert "slug 'nope' given as the model does not exist (the server answered 401 Unauthorized)" in str(e)
    _, e = _synthetic(401, "", content_type="", path="/v1/auth")
    assert isinstance(e, AnythingLLMAuthenticationError)
    _, e = _synthetic(500, "", content_type="", path="/v1/workspace/nope/update-pin")
    assert isinstance(e, AnythingLLMServerError)
    assert "no details" in str(e)
    _, e = _synthetic(
        404,
        '{"folder": {"name": "x", "items": []}, "error": "Folder x does not exist"}',
        method="GET",
        path="/v1/documents/folder/x",
    )
    assert isinstance(e, AnythingLLMNotFoundError)
    _, e = _synthetic(
        500, '{"success": false, "message": "Folder already exists"}', path="/v1/document/create-folder"
    )
    assert isinstance(e, AnythingLLMServerError)
    assert e.server_message == "Folder already exists"
    _, e = _synthetic(
        500,
        '{"success": false, "error": "Document processing API is not online. Document a.pdf will not be '
        'processed automatically."}',
        path="/v1/document/upload",
    )
    assert isinstance(e, AnythingLLMServerError)
    assert e.server_message is not None
    assert e.server_message.startswith("Document processing API is not online")
    _, e = _synthetic(
        502, "<html><head><title>502 Bad Gateway</title></head></html>", content_type="text/html"
    )
    assert isinstance(e, AnythingLLMServerError)
    assert e.server_message == "502 Bad Gateway"
    _, e = _synthetic(409, '{"error": "conflict"}')
    assert isinstance(e, AnythingLLMValidationError)
    _, e = _synthetic(418, "I'm a teapot", content_type="text/plain")
    assert type(e) is AnythingLLMAPIError
    assert e.status == 418


def test_redirect_is_a_protocol_error_naming_the_target() -> None:
    _, e = _synthetic(301, "", content_type="", headers={"Location": "https://h:3001/api/v1/auth"})
    assert isinstance(e, AnythingLLMProtocolError)
    assert "https://h:3001/api/v1/auth" in str(e)


def test_broken_or_empty_json_is_a_protocol_error() -> None:
    _, e = _synthetic(200, '{"workspaces": [', method="GET", path="/v1/workspaces")
    assert isinstance(e, AnythingLLMProtocolError)
    assert "not valid JSON" in str(e)
    _, e = _synthetic(200, "", method="GET", path="/v1/workspaces")
    assert isinstance(e, AnythingLLMProtocolError)
    assert "empty" in str(e)


def test_expect_controls_what_a_success_may_look_like() -> None:
    data, e = _synthetic(200, "OK", content_type="text/plain", expect="text")
    assert (data, e) == ("OK", None)
    _, e = _synthetic(200, "OK", content_type="text/plain", expect="json")
    assert isinstance(e, AnythingLLMProtocolError)
    _, e = _synthetic(200, "<!DOCTYPE html><html></html>", content_type="text/html", expect="text")
    assert isinstance(e, AnythingLLMProtocolError)
    data, e = _synthetic(200, "a,b\n1,2\n", content_type="text/csv", expect="any")
    assert (data, e) == ("a,b\n1,2\n", None)
    data, e = _synthetic(200, "[1, 2]", expect="json")
    assert (data, e) == ([1, 2], None)


def test_429_carries_retry_after_and_5xx_too() -> None:
    _, e = _synthetic(429, '{"error": "slow down"}', headers={"Retry-After": "7"})
    assert isinstance(e, AnythingLLMRateLimitError)
    assert e.retry_after == 7.0
    assert "retry after 7 s" in str(e)
    _, e = _synthetic(503, "", content_type="", headers={"retry-after": "3"})
    assert isinstance(e, AnythingLLMServerError)
    assert e.retry_after == 3.0
    _, e = _synthetic(429, "")
    assert isinstance(e, AnythingLLMRateLimitError)
    assert e.retry_after is None


def test_parse_retry_after_forms() -> None:
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": " 1.5 "}) == 1.5
    assert parse_retry_after({"Retry-After": "-4"}) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "bogus", "Retry-After": "9"}) == 9.0
    assert parse_retry_after({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, now=now) == 30.0
    assert parse_retry_after({"Retry-After": "Fri, 15 Jan 2027 07:00:00 GMT"}, now=now) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after({}) is None


def test_server_message_helper() -> None:
    assert server_message({"error": {"message": "deep"}}) == "deep"
    assert server_message({"error": None, "message": "m"}) == "m"
    assert server_message({"error": False}) is None
    assert server_message("   ") is None
    assert server_message([1]) is None
