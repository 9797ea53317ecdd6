"""The thread routes: new, update, delete, chats (thread chat and stream-chat live in ``api_chat``)."""

from __future__ import annotations

from aiohttp import web

from anythingllm_bridge.testing.express import STORE, express_route, req_body
from anythingllm_bridge.testing.slugify import anythingllm_slugify
from anythingllm_bridge.testing.state import DEFAULT_THREAD_NAME, Thread
from anythingllm_bridge.testing.wire import json_answer, status_answer

__all__ = ["routes"]


@express_route()
async def new_thread(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    workspace = store.workspace(request.match_info["slug"])
    if workspace is None:
        return status_answer(400)
    body = req_body(request)
    name, slug = body.get("name"), body.get("slug")
    result = store.create_thread(
        workspace,
        name=str(name) if name else DEFAULT_THREAD_NAME,
        # `slugify(slug, {lowercase: true})`: not a real option, so thread slugs keep their case
        slug=anythingllm_slugify(str(slug), lower=False) if slug else store.new_uuid(),
    )
    if isinstance(result, str):
        return json_answer({"thread": None, "message": result})
    return json_answer({"thread": result.row(), "message": None})


def _thread_or_404(request: web.Request) -> Thread | web.Response:
    store = request.app[STORE]
    workspace = store.workspace(request.match_info["slug"])
    if workspace is None:
        return json_answer({"message": "Workspace not found"}, 404)
    thread = store.thread(workspace, request.match_info["thread"])
    if thread is None:
        return json_answer({"message": "Thread not found"}, 404)
    return thread


@express_route()
async def update_thread(request: web.Request) -> web.StreamResponse:
    found = _thread_or_404(request)
    if isinstance(found, web.Response):
        return found
    body = req_body(request)
    if "name" not in body:
        return json_answer({"thread": found.row(), "message": "No valid fields to update!"})
    name = body["name"]
    with request.app[STORE].locked():
        found.name = name[:255] if isinstance(name, str) and name else DEFAULT_THREAD_NAME
    return json_answer({"thread": found.row(), "message": None})


@express_route()
async def delete_thread(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    workspace = store.workspace(request.match_info["slug"])
    if workspace is None:
        return status_answer(400)
    thread = store.thread(workspace, request.match_info["thread"])
    if thread is not None:
        store.delete_thread(thread)
    return status_answer(200)


@express_route()
async def thread_chats(request: web.Request) -> web.StreamResponse:
    found = _thread_or_404(request)
    if isinstance(found, web.Response):
        return found
    chats = request.app[STORE].thread_chats(found)
    return json_answer({"history": [entry for chat in chats for entry in chat.history()]})


def routes() -> list[web.RouteDef]:
    prefix = "/api/v1/workspace/{slug}/thread"
    return [
        web.post(f"{prefix}/new", new_thread),
        web.post(prefix + "/{thread}/update", update_thread),
        web.delete(prefix + "/{thread}", delete_thread),
        web.get(prefix + "/{thread}/chats", thread_chats),
    ]
