"""Transport behaviour that needs a server misbehaving in ways the emulator does not offer on demand:
events far beyond aiohttp's 512 KiB line limit, an abort in the middle of a stream, a stream that
stalls or breaks inside an event, a redirect, an answer that trickles in. Real HTTP on 127.0.0.1
(transport_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from transport_server import API_KEY, LocalServer

from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import (
    AnythingLLMChatError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
)
from support import collect

STREAM = "/v1/workspace/ws/stream-chat"


@asynccontextmanager
async def opened(server: LocalServer, **config: Any) -> AsyncIterator[Transport]:
    transport = Transport(server.url, API_KEY, ClientConfig(**config))
    await transport.open()
    try:
        yield transport
    finally:
        await transport.close()


async def test_redirects_are_not_followed(local_server: LocalServer) -> None:
    async with opened(local_server) as transport:
        with pytest.raises(AnythingLLMProtocolError, match=r"elsewhere\.invalid"):
            await transport.request("GET", "/v1/redirect")


async def test_stream_event_larger_than_aiohttp_line_limit_arrives_whole(local_server: LocalServer) -> None:
    async with opened(local_server) as transport:
        events = await collect(transport, STREAM, {"message": "hi", "big": 3_000_000})
    assert [e["type"] for e in events] == ["textResponseChunk"] * 3 + ["finalizeResponseStream"]
    assert len(events[-1]["sources"][0]["text"]) == 3_000_000


async def test_stream_abort_event_raises_chat_error_after_earlier_events(local_server: LocalServer) -> None:
    seen: list[Any] = []
    async with opened(local_server) as transport:
        with pytest.raises(AnythingLLMChatError, match="vector search failed") as info:
            await collect(transport, STREAM, {"message": "hi", "abort": "vector search failed"}, seen)
    assert len(seen) == 3
    assert info.value.status == 200
    assert info.value.trace_id


async def test_stream_idle_timeout(local_server: LocalServer) -> None:
    # the stream stalls until teardown, so the timeout always comes; 1 s leaves the three events
    # sent before the stall ample time to arrive first, however loaded the machine
    seen: list[Any] = []
    async with opened(local_server, read_timeout=1.0) as transport:
        with pytest.raises(AnythingLLMTimeoutError, match="read_timeout"):
            await collect(transport, STREAM, {"message": "hi", "stall": True}, seen)
    assert len(seen) == 3


async def test_stream_broken_inside_an_event_raises(local_server: LocalServer) -> None:
    seen: list[Any] = []
    async with opened(local_server) as transport:
        with pytest.raises(AnythingLLMStreamError):
            await collect(transport, STREAM, {"message": "hi", "cut": True}, seen)
    assert len(seen) == 3


async def test_timeout_bounds_the_start_of_a_stream_not_the_stream(local_server: LocalServer) -> None:
    # the stream starts within `timeout` (2 s: ample for a local server), then outlives it: once
    # streaming, only idleness ends it. The wait is not a margin: the deadline must really pass.
    loop = asyncio.get_running_loop()
    async with opened(local_server, timeout=2.0, read_timeout=30) as transport:
        called = loop.time()
        reading = asyncio.create_task(collect(transport, STREAM, {"message": "hi", "hold": True}))
        await local_server.holding.wait()  # the stream has started (3 events sent)
        await asyncio.sleep(called + 2.0 + 0.1 - loop.time())  # until the call's deadline is past
        local_server.resume.set()
        events = await reading
    assert [e["type"] for e in events] == ["textResponseChunk"] * 3 + ["finalizeResponseStream"]


# ---------------------------------------------------------------- read_timeout of plain requests

# 10 pieces 0.2 s apart: the whole answer takes at least 1.8 s (the server sleeps between pieces),
# more than READ_TIMEOUT however fast the machine, while no gap comes near it however slow
TRICKLE = "/v1/trickle?pieces=10&gap=0.2"
READ_TIMEOUT = 1.5


async def test_plain_request_must_be_complete_within_read_timeout(local_server: LocalServer) -> None:
    # one deadline per attempt: data arriving does not extend it
    async with opened(local_server, read_timeout=READ_TIMEOUT, max_retries=0) as transport:
        with pytest.raises(AnythingLLMTimeoutError, match=r"within 1\.5 s \(read_timeout\)"):
            await transport.request("GET", TRICKLE)
        assert (await transport.request("GET", "/v1/trickle")).data["pieces"] == 1


def _file() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", b"hello", filename="a.txt", content_type="text/plain")
    return form


@pytest.mark.parametrize(
    "body",
    [{"form": _file}, {"json": {"text": "x" * 70_000}}],
    ids=["file upload", "JSON over 64 KiB"],
)
async def test_request_with_a_large_body_may_take_longer_while_data_keeps_coming(
    local_server: LocalServer, body: dict[str, Any]
) -> None:
    # sending such a body can take long, so read_timeout counts silence after it is sent instead
    async with opened(local_server, read_timeout=READ_TIMEOUT, max_retries=0) as transport:
        response = await transport.request("POST", TRICKLE, **body)
    assert response.data["pieces"] == 10


async def test_total_timeout_still_bounds_a_request_with_a_large_body(local_server: LocalServer) -> None:
    async with opened(local_server, timeout=1.0, read_timeout=30, max_retries=0) as transport:
        # an upload is not retried after it was sent: the outcome is unknown (the answer takes 1.8 s)
        with pytest.raises(AnythingLLMOutcomeUnknownError, match=r"within 1 s \(timeout: the whole call"):
            await transport.request("POST", TRICKLE, form=_file)
