"""Workspace and thread ``chat`` / ``stream-chat``, with the server's validation order and envelopes.

Validation errors answer before any stream starts (JSON 400/404 abort envelopes). A stream is
``textResponseChunk`` events (``uuid``, one word each), an empty chunk with ``close: true``, then
``finalizeResponseStream`` with ``chatId``, ``metrics`` and ``sources``; a refusal or a reset is one
``textResponse`` event. Thread stream-chat on an unknown workspace reproduces the server's crash: a
single ``data:`` abort line with status 200 and no event-stream content type.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anythingllm_bridge.testing.chat import VALID_MODES, Answer, answer, stream_tokens
from anythingllm_bridge.testing.express import LATENCY, STORE, express_route, req_body
from anythingllm_bridge.testing.latency import ServerTime
from anythingllm_bridge.testing.state import Thread, Workspace
from anythingllm_bridge.testing.wire import EventStream, abort_envelope, json_answer

__all__ = ["routes"]


def _chat_500(request: web.Request, exc: Exception) -> web.StreamResponse:
    return json_answer(abort_envelope(str(exc)), 500)


def _checked_body(request: web.Request, workspace: Workspace) -> dict[str, Any] | web.Response:
    """The chat body, or its 400: ``Message is empty`` / ``<mode> is not a valid mode.`` (unless a reset)."""
    body = req_body(request)
    if body.get("reset"):
        return body
    message, mode = body.get("message"), body.get("mode", workspace.fields["chatMode"])
    if not isinstance(message, str) or not message:
        return json_answer(abort_envelope("Message is empty"), 400)
    if mode not in VALID_MODES:
        return json_answer(abort_envelope(f"{mode} is not a valid mode."), 400)
    return body


def _run(
    request: web.Request,
    workspace: Workspace,
    body: dict[str, Any],
    thread: Thread | None,
    *,
    streamed: bool = False,
) -> Answer:
    session = body.get("sessionId") if thread is None else None
    return answer(
        request.app[STORE],
        workspace,
        message=body.get("message") if isinstance(body.get("message"), str) else None,
        mode=str(body.get("mode", workspace.fields["chatMode"])),
        thread=thread,
        session_id=str(session) if session else None,
        reset=bool(body.get("reset")),
        streamed=streamed,
    )


def _sync_body(result: Answer) -> dict[str, Any]:
    if result.kind == "reset":
        return {
            "id": result.uuid,
            "type": "textResponse",
            "textResponse": result.text,
            "sources": [],
            "close": True,
            "error": None,
            "metrics": {},
        }
    if result.kind == "refusal":
        return {
            "id": result.uuid,
            "type": "textResponse",
            "sources": [],
            "close": True,
            "error": None,
            "textResponse": result.text,
            "metrics": {},
        }
    return {
        "id": result.uuid,
        "type": "textResponse",
        "close": True,
        "error": None,
        "chatId": result.chat_id,
        "textResponse": result.text,
        "sources": result.sources,
        "metrics": result.metrics,
    }


async def _stream(stream: EventStream, result: Answer, latency: ServerTime) -> web.StreamResponse:
    if result.kind != "answer":
        event: dict[str, Any] = {"id": result.uuid, "type": "textResponse", "textResponse": result.text}
        event["sources"] = []
        if result.kind == "reset" or result.early:
            event["attachments"] = []
        event |= {"close": True, "error": None, "metrics": {}}
        await stream.send(event)
        return await stream.close()
    chunk = {"uuid": result.uuid, "sources": [], "type": "textResponseChunk"}
    for token in stream_tokens(result.text):
        await stream.send({**chunk, "textResponse": token, "close": False, "error": False})
    await latency.answer("stream_rest")
    await stream.send({**chunk, "textResponse": "", "close": True, "error": False})
    await stream.send(
        {
            "uuid": result.uuid,
            "type": "finalizeResponseStream",
            "close": True,
            "error": False,
            "chatId": result.chat_id,
            "metrics": result.metrics,
            "sources": result.sources,
        }
    )
    return await stream.close()


async def _answer_stream(
    request: web.Request, workspace: Workspace, body: dict[str, Any], thread: Thread | None
) -> web.StreamResponse:
    """Open the stream, then answer; a failure from here on is an ``abort`` event, as in the server."""
    stream = EventStream(request)
    await stream.open()
    latency = request.app[LATENCY]
    await latency.answer("stream_first_token")
    try:
        result = _run(request, workspace, body, thread, streamed=True)
    except Exception as exc:
        await stream.send(abort_envelope(str(exc)))
        return await stream.close()
    return await _stream(stream, result, latency)


def _workspace_checks(request: web.Request) -> tuple[Workspace, dict[str, Any]] | web.Response:
    """The checks workspace ``chat`` and ``stream-chat`` share: the workspace, then the body (400s)."""
    slug = request.match_info["slug"]
    workspace = request.app[STORE].workspace(slug)
    if workspace is None:
        return json_answer(abort_envelope(f"Workspace {slug} is not a valid workspace."), 400)
    body = _checked_body(request, workspace)
    if isinstance(body, web.Response):
        return body
    return workspace, body


@express_route(on_error=_chat_500)
async def workspace_chat(request: web.Request) -> web.StreamResponse:
    checked = _workspace_checks(request)
    if isinstance(checked, web.Response):
        return checked
    workspace, body = checked
    await request.app[LATENCY].answer("chat")
    return json_answer(_sync_body(_run(request, workspace, body, None)))


@express_route(on_error=_chat_500)
async def workspace_stream_chat(request: web.Request) -> web.StreamResponse:
    checked = _workspace_checks(request)
    if isinstance(checked, web.Response):
        return checked
    workspace, body = checked
    return await _answer_stream(request, workspace, body, None)


@express_route(on_error=_chat_500)
async def thread_chat(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    slug, thread_slug = request.match_info["slug"], request.match_info["thread"]
    workspace = store.workspace(slug)
    if workspace is None:
        return json_answer(abort_envelope(f"Workspace {slug} not found."), 404)
    thread = store.thread(workspace, thread_slug)
    if thread is None:
        return json_answer(abort_envelope(f"Thread {thread_slug} not found."), 404)
    body = _checked_body(request, workspace)
    if isinstance(body, web.Response):
        return body
    await request.app[LATENCY].answer("chat")
    return json_answer(_sync_body(_run(request, workspace, body, thread)))


@express_route(on_error=_chat_500)
async def thread_stream_chat(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    slug, thread_slug = request.match_info["slug"], request.match_info["thread"]
    workspace = store.workspace(slug)
    if workspace is None:
        # the server reads `workspace.id` of null before setting any header; its catch writes one line
        crash = EventStream(request, event_stream=False)
        await crash.send(abort_envelope("Cannot read properties of null (reading 'id')"))
        return await crash.close()
    thread = store.thread(workspace, thread_slug)
    if thread is None:
        return json_answer(abort_envelope(f"Workspace {slug} or thread {thread_slug} is not valid."), 400)
    body = _checked_body(request, workspace)
    if isinstance(body, web.Response):
        return body
    return await _answer_stream(request, workspace, body, thread)


def routes() -> list[web.RouteDef]:
    prefix = "/api/v1/workspace/{slug}"
    return [
        web.post(f"{prefix}/chat", workspace_chat),
        web.post(f"{prefix}/stream-chat", workspace_stream_chat),
        web.post(prefix + "/thread/{thread}/chat", thread_chat),
        web.post(prefix + "/thread/{thread}/stream-chat", thread_stream_chat),
    ]
