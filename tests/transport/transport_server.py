"""A tiny local AnythingLLM-like server for transport tests: real HTTP on 127.0.0.1, the fault
injector in front, and an in-flight counter. It serves what the emulator does not need to
(multi-megabyte events, stalled streams, redirects, an echo route); the acceptance tests against
the emulator live in tests/resilience."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from anythingllm_bridge.testing.faults import FaultInjector

API_KEY = "TEST-KEY-1234567"


@dataclass
class LocalServer:
    url: str
    faults: FaultInjector
    in_flight: int = 0
    max_in_flight: int = 0
    open_connections: set[Any] = field(default_factory=set)
    max_connections: int = 0
    bodies: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def build_app(state: LocalServer) -> web.Application:
    @web.middleware
    async def count_in_flight(request: web.Request, handler: Any) -> web.StreamResponse:
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        state.open_connections.add(request.transport)
        state.max_connections = max(state.max_connections, len(state.open_connections))
        try:
            return await handler(request)
        finally:
            state.in_flight -= 1
            state.open_connections.discard(request.transport)

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if (
            request.path.startswith("/api/v1/")
            and request.headers.get("Authorization") != f"Bearer {API_KEY}"
        ):
            return web.json_response({"error": "No valid api key found."}, status=403)
        return await handler(request)

    async def ping(request: web.Request) -> web.StreamResponse:
        return web.json_response({"online": True})

    async def workspaces(request: web.Request) -> web.StreamResponse:
        return web.json_response({"workspaces": []})

    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.bodies.append(body)
        return web.json_response(
            {
                "method": request.method,
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"},
                "body": body.decode("utf-8", "replace"),
            }
        )

    async def upload(request: web.Request) -> web.StreamResponse:
        reader = await request.multipart()
        files = []
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            files.append({"name": part.name, "filename": part.filename, "size": len(data)})  # type: ignore[union-attr]
        return web.json_response({"success": True, "error": None, "documents": files})

    async def delete_ok(request: web.Request) -> web.StreamResponse:
        return web.Response(text="OK")

    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<!DOCTYPE html><html><body>web UI</body></html>", content_type="text/html")

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("https://elsewhere.invalid/api/v1/auth")

    async def stream_chat(request: web.Request) -> web.StreamResponse:
        spec = await request.json()
        if not spec.get("message"):
            return web.json_response(
                {
                    "id": "x",
                    "type": "abort",
                    "textResponse": None,
                    "sources": [],
                    "close": True,
                    "error": "Message is empty",
                },
                status=400,
            )
        if spec.get("crash_line"):  # the thread route's crash: one data line, status 200, not SSE
            return web.Response(
                text="data: " + json.dumps(spec["crash_line"]) + "\n\n", content_type="text/html"
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for i in range(int(spec.get("tokens", 3))):
            await resp.write(
                sse(
                    {
                        "uuid": "u",
                        "type": "textResponseChunk",
                        "textResponse": f"t{i} ",
                        "close": False,
                        "error": False,
                    }
                )
            )
        if spec.get("stall"):
            await state.release.wait()  # never set during the test: the client's idle timeout fires
        if spec.get("abort"):
            await resp.write(
                sse(
                    {
                        "uuid": "u",
                        "type": "abort",
                        "textResponse": None,
                        "sources": [],
                        "close": True,
                        "error": spec["abort"],
                    }
                )
            )
            return resp
        if spec.get("cut"):
            await resp.write(b'data: {"uuid": "u", "type": "textRes')
            assert request.transport is not None
            request.transport.close()
            return resp
        big = int(spec.get("big", 0))
        sources = [{"text": "x" * big, "title": "big"}] if big else []
        final = {
            "uuid": "u",
            "type": "finalizeResponseStream",
            "close": True,
            "error": False,
            "chatId": 1,
            "sources": sources,
        }
        payload = sse(final)
        for i in range(0, len(payload), 7919):  # odd chunk sizes on the wire
            await resp.write(payload[i : i + 7919])
        return resp

    app = web.Application(middlewares=[count_in_flight, state.faults.middleware, auth])
    app.router.add_get("/api/ping", ping)
    app.router.add_get("/api/v1/workspaces", workspaces)
    app.router.add_route("*", "/api/v1/echo", echo)
    app.router.add_post("/api/v1/workspace/{slug}/chat", echo)
    app.router.add_post("/api/v1/workspace/{slug}/vector-search", echo)
    app.router.add_post("/api/v1/document/upload", upload)
    app.router.add_delete("/api/v1/workspace/{slug}", delete_ok)
    app.router.add_get("/api/v1/does-not-exist", html)
    app.router.add_get("/api/v1/redirect", redirect)
    app.router.add_post("/api/v1/workspace/{slug}/stream-chat", stream_chat)
    return app


@asynccontextmanager
async def serve() -> AsyncIterator[LocalServer]:
    state = LocalServer(url="", faults=FaultInjector())
    server = TestServer(build_app(state), host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        state.release.set()
        await server.close()
