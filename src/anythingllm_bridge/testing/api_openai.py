"""The OpenAI-compatible routes: workspaces are models (``model`` = workspace slug).

Quirks kept: an unknown model is 401 with an empty body; the last message must be the user's (else a
400 abort envelope); ``usage`` is the server's whole metrics object (token counts, ``duration``,
``outputTps``, and ``model``, ``provider``, ``timestamp`` too); streamed events have ``object:
"chat.completion"`` (not ``.chunk``) and ``usage: {}``, the words are followed by an empty delta and
then by an empty delta with ``finish_reason: "stop"`` and the ``usage``, and there is no ``data:
[DONE]``; any failure is an empty 500. Embeddings use the same lexical embedder as the workspaces.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiohttp import web

from anythingllm_bridge.testing.chat import Answer, answer, stream_tokens
from anythingllm_bridge.testing.express import STORE, express_route, req_body
from anythingllm_bridge.testing.retrieval import dense, embed
from anythingllm_bridge.testing.wire import EventStream, abort_envelope, empty_answer, json_answer

__all__ = ["EMBEDDING_MODEL", "routes"]

EMBEDDING_MODEL = "hashed-bag-of-words"
PROVIDER = "generic-openai"
_NO_USER_PROMPT = "No user prompt found. Must be last element in message array with 'user' role."


def _empty_500(request: web.Request, exc: Exception) -> web.StreamResponse:
    return empty_answer(500)


def _content(value: Any) -> str:
    """A message's content: a string, or the text parts of an array of content parts."""
    if isinstance(value, list):
        return "\n".join(
            str(p.get("text", "")) for p in value if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if value is None else str(value)


def _completion(
    result: Answer, model: str, *, chunked: bool, content: str | None, finish: str | None
) -> dict[str, Any]:
    return {
        "id": result.uuid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "delta" if chunked else "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": result.metrics if finish == "stop" else {},
    }


@express_route()
async def models(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    with store.locked():
        data = [
            {
                "id": w.slug,
                "object": "model",
                "created": int(_epoch(w.fields["createdAt"])),
                "owned_by": w.fields.get("chatProvider") or PROVIDER,
            }
            for w in store.workspaces.values()
        ]
    return json_answer({"object": "list", "data": data})


def _epoch(iso_date: str) -> float:
    return datetime.fromisoformat(iso_date.replace("Z", "+00:00")).timestamp()


@express_route(on_error=_empty_500)
async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = req_body(request)
    store = request.app[STORE]
    workspace = store.workspace(str(body.get("model")))
    if workspace is None:
        return empty_answer(401)
    messages = body.get("messages", [])
    if not isinstance(messages, list):
        return empty_answer(500)  # `messages.pop()` is not a function
    messages = list(messages)
    last = messages.pop() if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return json_answer(abort_envelope(_NO_USER_PROMPT), 400)
    system = next(
        (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), None
    )
    history = [m for m in messages if isinstance(m, dict) and m.get("role") != "system"]
    result = answer(
        store,
        workspace,
        message=_content(last.get("content")),
        mode=str(workspace.fields["chatMode"]),
        system_prompt=_content(system) if system is not None else None,
        history_override=history,
        streamed=bool(body.get("stream")),
    )
    model = workspace.slug
    if not body.get("stream"):
        finish = "stop" if result.kind == "answer" else "abort"
        return json_answer(_completion(result, model, chunked=False, content=result.text, finish=finish))
    stream = EventStream(request)
    await stream.open()
    if result.kind != "answer":
        await stream.send(_completion(result, model, chunked=True, content=result.text, finish="abort"))
        return await stream.close()
    for token in stream_tokens(result.text):
        await stream.send(_completion(result, model, chunked=True, content=token, finish=None))
    await stream.send(_completion(result, model, chunked=True, content="", finish=None))
    await stream.send(_completion(result, model, chunked=True, content="", finish="stop"))
    return await stream.close()


@express_route(on_error=_empty_500)
async def embeddings(request: web.Request) -> web.StreamResponse:
    body = req_body(request)
    inputs = body.get("input", body.get("inputs"))
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
        return empty_answer(500)
    data = [
        {"object": "embedding", "embedding": dense(embed(text)), "index": i} for i, text in enumerate(inputs)
    ]
    return json_answer({"object": "list", "data": data, "model": EMBEDDING_MODEL})


@express_route()
async def vector_stores(request: web.Request) -> web.StreamResponse:
    if request.query_string:
        return json_answer({"data": [], "has_more": False})
    store = request.app[STORE]
    with store.locked():
        data = [
            {
                "id": w.slug,
                "object": "vector_store",
                "name": w.fields["name"],
                "file_counts": {"total": len(store.workspace_rows(w))},
                "provider": "lancedb",
            }
            for w in store.workspaces.values()
        ]
    return json_answer(
        {
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "data": data,
            "has_more": False,
        }
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/openai/models", models),
        web.post("/api/v1/openai/chat/completions", chat_completions),
        web.post("/api/v1/openai/embeddings", embeddings),
        web.get("/api/v1/openai/vector_stores", vector_stores),
    ]
