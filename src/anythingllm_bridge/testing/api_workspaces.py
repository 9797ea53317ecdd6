"""The ``/v1/workspace(s)`` routes: create, list, get, update, delete, chats, embeddings, pins, search."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from anythingllm_bridge.testing.express import FAULTS, LATENCY, STORE, express_route, req_body
from anythingllm_bridge.testing.fields import coerce_fields, js_parse_float
from anythingllm_bridge.testing.latency import RaceOutcome
from anythingllm_bridge.testing.state import Store, Workspace
from anythingllm_bridge.testing.wire import empty_answer, json_answer, status_answer

__all__ = ["routes", "workspace_with_documents"]

CONTEXT_WINDOW = 4096


def _slug(request: web.Request) -> str:
    return request.match_info["slug"]


def workspace_with_documents(store: Store, workspace: Workspace) -> dict[str, Any]:
    return {**workspace.row(), "documents": [r.row() for r in store.workspace_rows(workspace)]}


@express_route()
async def new_workspace(request: web.Request) -> web.StreamResponse:
    body = req_body(request)
    name = body.get("name")
    if not name:
        return json_answer({"workspace": None, "message": "name cannot be null"}, 400)
    if not isinstance(name, str):
        return status_answer(500)  # slugify throws on a non-string
    fields = coerce_fields({k: v for k, v in body.items() if k != "name"})
    result = request.app[STORE].create_workspace(name[:255], fields)
    if isinstance(result, str):
        return json_answer({"workspace": None, "message": result}, 400)
    return json_answer({"workspace": result.row(), "message": None})


@express_route()
async def list_workspaces(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    with store.locked():
        workspaces = [
            {
                **w.row(),
                "threads": [
                    {"user_id": t.user_id, "slug": t.slug, "name": t.name} for t in store.workspace_threads(w)
                ],
            }
            for w in store.workspaces.values()
        ]
    return json_answer({"workspaces": workspaces})


@express_route()
async def get_workspace(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    with store.locked():
        workspace = store.workspace(_slug(request))
        if workspace is None:
            return json_answer({"workspace": []})
        found = {
            **workspace_with_documents(store, workspace),
            "threads": [{"user_id": t.user_id, "slug": t.slug} for t in store.workspace_threads(workspace)],
        }
    await request.app[LATENCY].listing(len(found["documents"]), workspace=True)
    return json_answer({"workspace": [found]})


@express_route()
async def update_workspace(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    workspace = store.workspace(_slug(request))
    if workspace is None:
        return status_answer(400)
    fields = coerce_fields(req_body(request))
    if not fields:
        return json_answer({"workspace": {"id": workspace.id}, "message": "No valid fields to update!"})
    return json_answer({"workspace": store.update_workspace(workspace, fields).row(), "message": None})


@express_route()
async def delete_workspace(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    workspace = store.workspace(_slug(request))
    if workspace is None:
        return status_answer(400)
    store.delete_workspace(workspace)
    return status_answer(200)


@express_route()
async def workspace_chats(request: web.Request) -> web.StreamResponse:
    """History of API chats: one API session's (``apiSessionId``), or the session-less ones."""
    store = request.app[STORE]
    workspace = store.workspace(_slug(request))
    if workspace is None:
        return status_answer(400)
    query = request.query
    session_id = query.get("apiSessionId") or None
    limit = js_parse_float(query.get("limit", "100"))
    if math.isnan(limit):
        return json_answer({"history": []})
    chats = store.workspace_chats(workspace, session_id=session_id)
    if query.get("orderBy", "asc") == "desc":
        chats.reverse()
    chats = chats[: max(1, int(limit))]
    return json_answer({"history": [entry for chat in chats for entry in chat.history()]})


@express_route()
async def update_embeddings(request: web.Request) -> web.StreamResponse:
    """Deletes first, then adds one by one; unknown paths are skipped silently; re-adding duplicates
    (as the server)."""
    store, latency = request.app[STORE], request.app[LATENCY]
    body = req_body(request)
    with store.locked():
        workspace = store.workspace(_slug(request))
        if workspace is None:
            return status_answer(400)
        adds, deletes = body.get("adds") or [], body.get("deletes") or []
        if not isinstance(adds, list) or not isinstance(deletes, list):
            return status_answer(500)
        for location in deletes:
            store.unembed(workspace, str(location))
    await latency.update_embeddings()
    for location in adds:
        if request.app[FAULTS].embedding_loss.take_on_update():
            continue  # opt-in fault: the real server skips a failed embed and still answers 200
        document = store.document_at(str(location))
        if document is not None:
            vectors = store.namespace_count(workspace)
            outcome = await latency.embedding(workspace.id, vectors, document.page_content, in_upload=False)
            if outcome is RaceOutcome.LOST:
                continue  # lost the race to create the workspace's vector table: skipped, still 200
            if outcome is RaceOutcome.OVERWRITES:
                store.drop_vectors(workspace)
        store.embed(workspace, str(location))
    with store.locked():
        found = {
            **workspace_with_documents(store, workspace),
            "contextWindow": CONTEXT_WINDOW,
            "currentContextTokenCount": 0,
        }
    return json_answer({"workspace": found})


@express_route(on_error=lambda request, exc: empty_answer(500))
async def update_pin(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    workspace = store.workspace(_slug(request))
    if workspace is None:
        return empty_answer(500)  # the server crashes reading the workspace's id
    body = req_body(request)
    if not store.set_pinned(workspace, str(body.get("docPath")), bool(body.get("pinStatus"))):
        return status_answer(404)
    return json_answer({"message": "Pin status updated successfully"})


@express_route()
async def vector_search(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    slug = _slug(request)
    workspace = store.workspace(slug)
    if workspace is None:
        return json_answer({"message": f"Workspace {slug} is not a valid workspace."}, 400)
    body = req_body(request)
    query = body.get("query")
    if not query or not isinstance(query, str):
        return json_answer({"message": "Query parameter cannot be empty."}, 400)
    await request.app[LATENCY].answer("vector_search")
    if store.namespace_count(workspace) == 0:
        return json_answer({"results": [], "message": "No embeddings found for this workspace."})
    threshold = js_parse_float(body.get("scoreThreshold"))
    if math.isnan(threshold) or not 0 <= threshold <= 1:
        threshold = float(workspace.fields["similarityThreshold"])
    top_n = js_parse_float(body.get("topN"))
    top = int(top_n) if not math.isnan(top_n) and top_n >= 1 else int(workspace.fields["topN"])
    hits = store.search(workspace, query, top_n=top, threshold=threshold, exclude=frozenset())
    results = []
    for hit in hits:
        meta = hit.vector.metadata
        results.append(
            {
                "id": hit.vector.id,
                "text": hit.vector.text,
                "metadata": {
                    "url": meta.get("url"),
                    "title": meta.get("title"),
                    "author": meta.get("docAuthor"),
                    "description": meta.get("description"),
                    "docSource": meta.get("docSource"),
                    "chunkSource": meta.get("chunkSource"),
                    "published": meta.get("published"),
                    "wordCount": meta.get("wordCount"),
                    "tokenCount": meta.get("token_count_estimate"),
                },
                "distance": hit.distance,
                "score": hit.score,
            }
        )
    return json_answer({"results": results})


def routes() -> list[web.RouteDef]:
    prefix = "/api/v1/workspace/{slug}"
    return [
        web.post("/api/v1/workspace/new", new_workspace),
        web.get("/api/v1/workspaces", list_workspaces),
        web.get(prefix, get_workspace),
        web.delete(prefix, delete_workspace),
        web.post(f"{prefix}/update", update_workspace),
        web.get(f"{prefix}/chats", workspace_chats),
        web.post(f"{prefix}/update-embeddings", update_embeddings),
        web.post(f"{prefix}/update-pin", update_pin),
        web.post(f"{prefix}/vector-search", vector_search),
    ]
