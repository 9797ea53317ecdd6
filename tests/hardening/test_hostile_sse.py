"""Hostile event streams: no byte stream makes the SSE decoder hang or raise anything but its protocol
error (``SSEDecodeError``), whatever the chunking; through a server, ``chat(..., stream=True)`` ends
with a result or one of our errors, and a stream that stalls ends with a timeout instead of hanging."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_server import HANG_LIMIT, Answer, HostileHarness
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anythingllm_bridge.client._sse import SSEDecodeError, SSEDecoder
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMProtocolError, AnythingLLMTimeoutError

EVENT: dict[str, Any] = {
    "uuid": "7bd0",
    "sources": [],
    "type": "textResponseChunk",
    "textResponse": "STUB",
    "close": False,
    "error": False,
}
FINAL: dict[str, Any] = {**EVENT, "type": "finalizeResponseStream", "close": True, "chatId": 1, "metrics": {}}

line_endings = st.sampled_from(["\n", "\r\n", "\r"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
lines = st.one_of(
    st.just("data: " + json.dumps(EVENT)),
    st.just("data: " + json.dumps(FINAL)),
    json_values.map(lambda v: "data: " + json.dumps(v)),
    st.just("data: " + json.dumps(EVENT)[:20]),  # cut in the middle
    st.sampled_from(
        ["", "data", "data:", ": heartbeat", "event: message", "id: 7", "retry: 10", "data: [DONE]"]
    ),
    st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
)


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    """Event-stream-like text: any mix of lines and line endings, sometimes mangled bytes."""
    parts = draw(st.lists(st.tuples(lines, line_endings), max_size=12))
    data = "".join(line + end for line, end in parts).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        return data
    return draw(st.binary(max_size=64)) + data + draw(st.binary(max_size=64))


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def decode(chunks: Iterator[bytes] | list[bytes]) -> tuple[list[dict[str, Any]], bool]:
    """Events until the end or the first bad event; and whether a bad event was met."""
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        events.extend(decoder.close())
    except SSEDecodeError:
        return events, True
    return events, False


@settings(max_examples=1500, deadline=None)
@given(data=st.one_of(sse_streams(), st.binary(max_size=2048)), cut=st.data())
@example(data=b"data: " + b"[" * 100_000 + b"\n\n", cut=None)  # deeper than Python's JSON parser goes
@example(data=b"data: {}\r", cut=None)
@example(data=b"\r\n" * 1000, cut=None)
def test_the_decoder_only_ever_raises_its_protocol_error(data: bytes, cut: Any) -> None:
    chunks = cut.draw(splits(data)) if cut is not None else [data]
    events, failed = decode(chunks)  # anything but SSEDecodeError propagates and fails the test
    assert all(isinstance(event, dict) for event in events)
    whole_events, whole_failed = decode([data])
    assert failed == whole_failed  # chunking never changes the outcome ...
    if not failed:
        assert events == whole_events  # ... nor the events


@settings(max_examples=300, deadline=None)
@given(data=sse_streams())
def test_byte_by_byte_feeding_gives_the_same_events(data: bytes) -> None:
    events, failed = decode([data[i : i + 1] for i in range(len(data))])
    whole_events, whole_failed = decode([data])
    assert failed == whole_failed
    if not failed:
        assert events == whole_events


# ------------------------------------------------------------------ through a server


@pytest.fixture(scope="module")
def harness() -> Iterator[HostileHarness]:
    # the harness's read_timeout (5 s): a stream the server sends at once is never cut by a slow machine
    with HostileHarness() as running:
        yield running


def stream_outcome(harness: HostileHarness) -> AnythingLLMError | None:
    client = harness.client
    assert client is not None

    async def read() -> Any:
        return await (await client.chat("docs", "What is Zorblax?", stream=True)).collect()

    try:
        harness.call(read)
    except AnythingLLMError as exc:
        return exc
    return None


def test_a_well_formed_stream_is_read(harness: HostileHarness) -> None:
    body = f"data: {json.dumps(EVENT)}\n\ndata: {json.dumps(FINAL)}\n\n".encode()
    harness.answer = Answer(content_type="text/event-stream", body=body, pieces=3)
    assert stream_outcome(harness) is None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(sse_streams(), st.binary(max_size=1024)),
    pieces=st.sampled_from([1, 2, 7]),
    content_type=st.sampled_from(["text/event-stream", "text/plain", "application/json"]),
    status=st.sampled_from([200, 200, 200, 400, 500, 503]),
)
def test_stream_chat_on_any_stream_gives_a_result_or_our_own_error(
    harness: HostileHarness, data: bytes, pieces: int, content_type: str, status: int
) -> None:
    harness.answer = Answer(status=status, content_type=content_type, body=data, pieces=pieces)
    error = stream_outcome(harness)
    assert error is None or str(error)


def test_a_stream_that_stalls_ends_with_a_timeout() -> None:
    # the server stalls longer than the harness lets any call take: only the client's read_timeout
    # can end the call, and the assertion is only that it does
    with HostileHarness(read_timeout=0.5) as stalling:
        stalling.answer = Answer(
            content_type="text/event-stream",
            body=f"data: {json.dumps(EVENT)}\n\n".encode(),
            pieces=2,
            stall=HANG_LIMIT * 2,
        )
        error = stream_outcome(stalling)
    assert isinstance(error, AnythingLLMTimeoutError | AnythingLLMProtocolError), error
    assert "read_timeout" in str(error) or "timeout" in str(error).lower()
