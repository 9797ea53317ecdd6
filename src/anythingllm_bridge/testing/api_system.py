"""``/api/ping``, ``/v1/auth`` and the ``/v1/system`` routes."""

from __future__ import annotations

from aiohttp import web

from anythingllm_bridge.testing.express import STORE, express_route, public, req_body
from anythingllm_bridge.testing.wire import json_answer, status_answer

__all__ = ["routes"]


@public
async def ping(request: web.Request) -> web.StreamResponse:
    return json_answer({"online": True})


async def auth(request: web.Request) -> web.StreamResponse:
    return json_answer({"authenticated": True})


@public
async def env_dump(request: web.Request) -> web.StreamResponse:
    return status_answer(200)


@express_route()
async def system_settings(request: web.Request) -> web.StreamResponse:
    return json_answer(
        {
            "settings": {
                "LLMProvider": "generic-openai",
                "VectorDB": "lancedb",
                "EmbeddingEngine": "generic-openai",
                "MultiUserMode": False,
                "RequiresAuth": False,
            }
        }
    )


@express_route()
async def vector_count(request: web.Request) -> web.StreamResponse:
    return json_answer({"vectorCount": request.app[STORE].vector_count()})


@express_route()
async def remove_documents(request: web.Request) -> web.StreamResponse:
    """Full erasure: file, vector cache and every workspace's embeddings; unknown names are fine."""
    names = req_body(request).get("names")
    if not isinstance(names, list | str):
        return status_answer(500)  # `for (const name of undefined)` throws
    store = request.app[STORE]
    for name in names:
        store.purge_document(str(name))
    return json_answer({"success": True, "message": "Documents removed successfully"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/ping", ping),
        web.get("/api/v1/auth", auth),
        web.get("/api/v1/system/env-dump", env_dump),
        web.get("/api/v1/system", system_settings),
        web.get("/api/v1/system/vector-count", vector_count),
        web.delete("/api/v1/system/remove-documents", remove_documents),
    ]
