"""A tiny local server for the transport behaviour the emulator does not produce on demand:
multi-megabyte events, an abort mid-stream, a stream that stalls or breaks inside an event, a
redirect, an answer that trickles in. Real HTTP on 127.0.0.1; everything else is tested against
the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "TEST-KEY-1234567"


@dataclass
class LocalServer:
    url: str
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # a stream has reached its `hold`
    resume: asyncio.Event = field(default_factory=asyncio.Event)  # ends a stream's `hold`


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def build_app(state: LocalServer) -> web.Application:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("https://elsewhere.invalid/api/v1/auth")

    async def stream_chat(request: web.Request) -> web.StreamResponse:
        spec = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for i in range(int(spec.get("tokens", 3))):
            chunk = {"uuid": "u", "type": "textResponseChunk", "textResponse": f"t{i} ", "close": False}
            await resp.write(sse(chunk))
        if spec.get("stall"):
            await state.release.wait()  # set only at teardown: the client's idle timeout fires first
        if spec.get("hold"):
            state.holding.set()
            await state.resume.wait()  # the test lets the stream go on
        if spec.get("abort"):
            abort = {
                "uuid": "u",
                "type": "abort",
                "textResponse": None,
                "close": True,
                "error": spec["abort"],
            }
            await resp.write(sse(abort))
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
            "chatId": 1,
            "sources": sources,
        }
        payload = sse(final)
        for i in range(0, len(payload), 7919):  # odd chunk sizes on the wire
            await resp.write(payload[i : i + 7919])
        return resp

    async def trickle(request: web.Request) -> web.StreamResponse:
        """A JSON answer sent in ``pieces`` parts ``gap`` seconds apart (after reading any body)."""
        await request.read()
        pieces, gap = int(request.query.get("pieces", "1")), float(request.query.get("gap", "0"))
        body = json.dumps({"pieces": pieces, "padding": "x" * 64 * pieces}).encode()
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(body)
        await resp.prepare(request)
        size = -(-len(body) // pieces)
        for i in range(0, len(body), size):
            if i:
                await asyncio.sleep(gap)
            await resp.write(body[i : i + size])
        return resp

    app = web.Application()
    app.router.add_get("/api/v1/redirect", redirect)
    app.router.add_route("*", "/api/v1/trickle", trickle)
    app.router.add_post("/api/v1/workspace/{slug}/stream-chat", stream_chat)
    return app


@asynccontextmanager
async def serve() -> AsyncIterator[LocalServer]:
    state = LocalServer(url="")
    server = TestServer(build_app(state), host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        state.release.set()
        await server.close()
