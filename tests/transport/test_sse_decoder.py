"""The SSE decoder: recorded AnythingLLM streams, edge cases, and any chunking (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anythingllm_bridge.client._sse import SSEDecodeError, SSEDecoder, decode_all
from support import TRANSCRIPTS


def _recorded_streams() -> list[tuple[str, str]]:
    if not TRANSCRIPTS.exists():
        return []
    data = json.loads(TRANSCRIPTS.read_text())
    return [
        (t["file"], t["response"]["body"])
        for t in data
        if t["response"]["headers"].get("Content-Type", "").startswith("text/event-stream")
    ]


RECORDED = _recorded_streams()


def feed_in_pieces(body: bytes, cuts: list[int]) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    last = 0
    for cut in sorted(set(cuts)):
        events += decoder.feed(body[last:cut])
        last = cut
    events += decoder.feed(body[last:])
    events += decoder.close()
    return events


@pytest.mark.skipif(not RECORDED, reason="transcripts not available")
@pytest.mark.parametrize(("name", "body"), RECORDED, ids=[r[0] for r in RECORDED])
def test_recorded_streams_decode_to_their_events(name: str, body: str) -> None:
    events = decode_all(body)
    expected = [json.loads(part[len("data: ") :]) for part in body.strip().split("\n\n")]
    assert events == expected
    assert events[-1]["close"] is True


@pytest.mark.skipif(not RECORDED, reason="transcripts not available")
def test_recorded_stream_fed_byte_by_byte_gives_the_same_events() -> None:
    body = RECORDED[0][1].encode()
    assert feed_in_pieces(body, list(range(len(body)))) == decode_all(body)


def test_sources_in_the_final_event_arrive_whole_even_when_huge() -> None:
    sources = [{"text": "x" * 100_000, "title": f"doc{i}"} for i in range(30)]  # ~3 MB in one line
    final = {"type": "finalizeResponseStream", "close": True, "sources": sources}
    body = (
        "data: " + json.dumps({"type": "textResponseChunk", "textResponse": "hi"}) + "\n\n"
        "data: " + json.dumps(final) + "\n\n"
    ).encode()
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    for i in range(0, len(body), 65536):
        events += decoder.feed(body[i : i + 65536])
    assert decoder.close() == []
    assert events[1]["sources"] == sources


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_line_ending_style(eol: str) -> None:
    body = f'data: {{"a": 1}}{eol}{eol}data: {{"a": 2}}{eol}{eol}'
    assert decode_all(body) == [{"a": 1}, {"a": 2}]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\r') == []
    assert decoder.feed(b"\n\r") == [{"a": 1}]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b'data: {"a": 2}\r\n\r\n') == [{"a": 2}]


def test_multi_line_data_comments_and_other_fields() -> None:
    body = (
        ": keep-alive\n"
        "event: message\n"
        "id: 7\n"
        "retry: 1000\n"
        'data: {"a":\n'
        "data:  1}\n"
        "\n"
        ":another comment\n\n"
        'data:{"b": 2}\n\n'
    )
    assert decode_all(body) == [{"a": 1}, {"b": 2}]


def test_blank_lines_without_data_make_no_event() -> None:
    assert decode_all("\n\n\r\n\n: c\n\n") == []


def test_done_sentinel_is_ignored() -> None:
    assert decode_all('data: {"a": 1}\n\ndata: [DONE]\n\n') == [{"a": 1}]


def test_last_event_without_blank_line_is_delivered_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"last": true}') == []
    assert decoder.close() == [{"last": True}]


def test_a_stream_cut_inside_an_event_is_an_error_not_silence() -> None:
    decoder = SSEDecoder()
    decoder.feed(b'data: {"text": "cut her')
    with pytest.raises(SSEDecodeError, match="not valid JSON") as info:
        decoder.close()
    assert info.value.raw.startswith('{"text"')


def test_non_object_data_is_an_error() -> None:
    with pytest.raises(SSEDecodeError, match="list"):
        decode_all("data: [1, 2]\n\n")


def test_utf8_split_inside_a_character() -> None:
    body = 'data: {"t": "héllo wörld ✓"}\n\n'.encode()
    cut = body.index("✓".encode()) + 1
    assert feed_in_pieces(body, [cut]) == [{"t": "héllo wörld ✓"}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
events_strategy = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=6)


@st.composite
def encoded_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bytes]:
    events = draw(events_strategy)
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    parts: list[str] = []
    for event in events:
        if draw(st.booleans()):
            parts.append(": comment" + eol)
        multi_line = draw(st.booleans())  # pretty-printed JSON, one data line per line
        lines = json.dumps(event, indent=1).split("\n") if multi_line else [json.dumps(event)]
        parts.extend(f"data: {line}{eol}" for line in lines)
        parts.append(eol)
    return events, "".join(parts).encode()


@settings(max_examples=300, deadline=None)
@given(data=encoded_streams(), cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_chunking_gives_the_same_events(
    data: tuple[list[dict[str, Any]], bytes], cuts: list[int]
) -> None:
    events, body = data
    cuts = [c for c in cuts if c <= len(body)]
    assert feed_in_pieces(body, cuts) == events
