"""A tiny HTTP server on 127.0.0.1 that answers every request with whatever the test says (status,
content type, headers, body bytes, split into several writes), and one event loop in a background thread
that serves it and runs our client against it — so synchronous hypothesis tests can drive both."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from anythingllm_bridge.client import AnythingLLMClient

T = TypeVar("T")
HOSTILE_API_KEY = "HOSTILE-TEST-API-KEY"
#: a call that takes longer than this has hung (the client's own timeouts are far shorter)
HANG_LIMIT = 60.0


@dataclass
class Answer:
    status: int = 200
    content_type: str | None = "application/json"
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    pieces: int = 1  # the body is written in this many parts (chunked, no Content-Length) when > 1
    stall: float = 0.0  # seconds to wait, connection open, after the body and before ending it


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


class HostileHarness:
    """Serve ``answer`` to every request and run client calls, all on one background event loop."""

    def __init__(self, **client_options: Any) -> None:
        self.answer = Answer()
        self.requests = 0
        self._client_options = client_options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.client: AnythingLLMClient | None = None
        self.url = ""

    def __enter__(self) -> HostileHarness:
        self._thread.start()
        self.call(self._start)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the loop and return its result (or raise its exception)."""

        async def run() -> T:
            return await work()

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return future.result(HANG_LIMIT)
        except FutureTimeout:
            future.cancel()
            raise AssertionError(f"the call hung for more than {HANG_LIMIT:g} s") from None

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        options: dict[str, Any] = {
            "sleep": _no_wait,
            "max_retries": 1,
            "failure_threshold": 1_000_000,  # the breaker must not hide the answers from the parser
            "read_timeout": 5.0,
            "timeout": 20.0,
            **self._client_options,
        }
        self.client = AnythingLLMClient(self.url, HOSTILE_API_KEY, **options)
        await self.client.connect()

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.disconnect()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests += 1
        answer = self.answer
        body = b"" if answer.status in (204, 304) else answer.body
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        if answer.content_type is not None:
            response.content_type = answer.content_type
        if answer.pieces <= 1:
            response.content_length = len(body)
        await response.prepare(request)
        size = max(1, -(-len(body) // max(1, answer.pieces)))
        for start in range(0, len(body), size):
            await response.write(body[start : start + size])
        if answer.stall:
            await asyncio.sleep(answer.stall)
        await response.write_eof()
        return response
