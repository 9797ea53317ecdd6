"""The Transport over real HTTP on 127.0.0.1: headers, bodies, mapping, retries, timeouts, streams."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from transport_server import API_KEY, LocalServer

from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMChatError,
    AnythingLLMConnectionError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMSessionError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
    ConfigurationError,
)
from anythingllm_bridge.tracing import trace_id


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@asynccontextmanager
async def opened(
    url: str, key: str | SecretStr | None = API_KEY, **config: Any
) -> AsyncIterator[tuple[Transport, SleepRecorder]]:
    sleep = SleepRecorder()
    transport = Transport(url, key, ClientConfig(**config), sleep=sleep)
    await transport.open()
    try:
        yield transport, sleep
    finally:
        await transport.close()


def api_requests(server: LocalServer) -> list[Any]:
    return [r for r in server.faults.requests if r.path.startswith("/api")]


# ---------------------------------------------------------------- basics


async def test_get_returns_decoded_json_with_bearer_key_and_request_id(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.status == 200
    assert response.data == {"workspaces": []}
    assert response.content_type == "application/json"
    assert response.attempts == 1
    seen = api_requests(local_server)[0]
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.request_id == response.trace_id
    assert len(response.trace_id) == 16


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/", "/api/v1", "/api/v1/"])
async def test_base_url_forms_are_tolerated(local_server: LocalServer, suffix: str) -> None:
    async with opened(local_server.url + suffix) as (transport, _):
        assert (await transport.request("GET", "/ping")).data == {"online": True}
    assert transport.base_url == local_server.url


async def test_secret_str_key_works(local_server: LocalServer) -> None:
    async with opened(local_server.url, SecretStr(API_KEY)) as (transport, _):
        await transport.request("GET", "/v1/workspaces")


async def test_json_body_params_and_non_ascii(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        response = await transport.request(
            "POST", "/v1/echo", json={"name": "Café ✓"}, params={"limit": 10, "q": "a b"}
        )
    echoed = response.data
    assert json.loads(echoed["body"]) == {"name": "Café ✓"}
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["query"] == {"limit": "10", "q": "a b"}


async def test_text_answers_with_expect_text(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        response = await transport.request("DELETE", "/v1/workspace/ws", expect="text")
    assert response.data == "OK"


async def test_calls_outside_an_open_session_fail_clearly(local_server: LocalServer) -> None:
    transport = Transport(local_server.url, API_KEY)
    with pytest.raises(AnythingLLMSessionError, match="async with client"):
        await transport.request("GET", "/v1/workspaces")
    await transport.open()
    assert transport.is_open
    await transport.close()
    assert not transport.is_open
    with pytest.raises(AnythingLLMSessionError):
        await transport.request("GET", "/v1/workspaces")
    with pytest.raises(AnythingLLMSessionError):
        await collect(transport, {})


async def test_the_api_key_never_shows(local_server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    local_server.faults.add("GET", "/api/v1/workspaces", status=503, times=1)
    async with opened(local_server.url, base_delay=0) as (transport, _):
        assert API_KEY not in repr(transport)
        await transport.request("GET", "/v1/workspaces")
    async with opened(local_server.url, "WRONG-KEY-999") as (transport, _):
        with pytest.raises(AnythingLLMAuthenticationError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert "WRONG-KEY-999" not in str(info.value)
    assert "WRONG-KEY-999" not in repr(info.value)
    assert API_KEY not in caplog.text
    assert "WRONG-KEY-999" not in caplog.text
    assert len(caplog.records) >= 3


@pytest.mark.parametrize("key", ["", "   ", "two words", "line\nbreak"])
def test_malformed_keys_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(ConfigurationError, match="API key") as info:
        Transport("http://127.0.0.1:1", key)
    assert key.strip() == "" or key not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0),
        ("connect_timeout", -1),
        ("read_timeout", "fast"),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("failure_threshold", 0),
        ("max_concurrency", 0),
        ("max_connections_per_host", True),
        ("base_delay", float("nan")),
        ("verify_ssl", "yes"),
    ],
)
def test_config_errors_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        ClientConfig(**{field: value})


def test_bad_base_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        Transport("localhost:3001", API_KEY)


# ---------------------------------------------------------------- mapping, no retries


async def test_html_where_json_was_due_is_a_protocol_error_not_retried(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, sleep):
        with pytest.raises(AnythingLLMProtocolError, match="base URL") as info:
            await transport.request("GET", "/v1/does-not-exist")
    assert sleep.waits == []
    assert info.value.attempts == 1
    assert info.value.status == 200


async def test_redirects_are_not_followed(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        with pytest.raises(AnythingLLMProtocolError, match=r"elsewhere\.invalid"):
            await transport.request("GET", "/v1/redirect")


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_client_errors_are_never_retried(local_server: LocalServer, status: int) -> None:
    local_server.faults.add("*", "/api/v1/echo", status=status, times=None)
    async with opened(local_server.url) as (transport, sleep):
        for method in ("GET", "POST"):
            with pytest.raises(AnythingLLMAPIError) as info:
                await transport.request(method, "/v1/echo")
            assert info.value.status == status
    assert sleep.waits == []
    assert len(api_requests(local_server)) == 2


# ---------------------------------------------------------------- retries


async def test_503_twice_then_success(local_server: LocalServer) -> None:
    local_server.faults.add("GET", "/api/v1/workspaces", status=503, times=2)
    async with opened(local_server.url, base_delay=1, max_delay=60) as (transport, sleep):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.data == {"workspaces": []}
    assert response.attempts == 3
    assert len(sleep.waits) == 2
    assert 0 <= sleep.waits[0] <= 1
    assert 0 <= sleep.waits[1] <= 2
    ids = {r.request_id for r in api_requests(local_server)}
    assert ids == {response.trace_id}  # one id for every attempt of the call


async def test_retry_after_is_waited_for(local_server: LocalServer) -> None:
    local_server.faults.add("GET", "/api/v1/workspaces", status=429, retry_after="2", times=1)
    async with opened(local_server.url) as (transport, sleep):
        await transport.request("GET", "/v1/workspaces")
    assert sleep.waits == [2.0]


async def test_retry_after_above_max_delay_fails_at_once_with_the_wait(local_server: LocalServer) -> None:
    local_server.faults.add("POST", "/api/v1/workspace/ws/chat", status=429, retry_after="120", times=None)
    async with opened(local_server.url, max_delay=60) as (transport, sleep):
        with pytest.raises(AnythingLLMRateLimitError) as info:
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert info.value.retry_after == 120.0
    assert "max_delay" in str(info.value)
    assert sleep.waits == []
    assert len(api_requests(local_server)) == 1


async def test_max_retries_bounds_the_attempts(local_server: LocalServer) -> None:
    local_server.faults.add("GET", "/api/v1/workspaces", status=502, times=None)
    async with opened(local_server.url, max_retries=2) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert len(sleep.waits) == 2
    assert len(api_requests(local_server)) == 3


async def test_502_on_a_creating_call_is_not_retried(local_server: LocalServer) -> None:
    local_server.faults.add("POST", "/api/v1/workspace/ws/chat", status=502, times=1)
    async with opened(local_server.url) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError):
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert sleep.waits == []


async def test_not_online_500_on_upload_is_retried_with_a_fresh_form(local_server: LocalServer) -> None:
    local_server.faults.add(
        "POST",
        "/api/v1/document/upload",
        status=500,
        body={
            "success": False,
            "error": "Document processing API is not online. Document a.txt will not be "
            "processed automatically.",
        },
        times=1,
    )
    built = 0

    def form() -> aiohttp.FormData:
        nonlocal built
        built += 1
        data = aiohttp.FormData(quote_fields=False)
        data.add_field("file", b"hello world", filename="résumé.txt", content_type="text/plain")
        return data

    async with opened(local_server.url) as (transport, sleep):
        response = await transport.request("POST", "/v1/document/upload", form=form)
    assert built == 2
    assert len(sleep.waits) == 1
    assert response.data["documents"] == [{"name": "file", "filename": "résumé.txt", "size": 11}]


async def test_other_500_on_upload_is_not_retried(local_server: LocalServer) -> None:
    local_server.faults.add("POST", "/api/v1/document/upload", status=500, times=1)
    async with opened(local_server.url) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError):
            await transport.request("POST", "/v1/document/upload", form=aiohttp.FormData)
    assert sleep.waits == []


async def test_dropped_connection_on_a_get_is_retried(local_server: LocalServer) -> None:
    local_server.faults.add("GET", "/api/v1/workspaces", drop="before_headers", times=1)
    async with opened(local_server.url) as (transport, sleep):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.attempts == 2
    assert len(sleep.waits) == 1
    assert len(api_requests(local_server)) == 2


@pytest.mark.parametrize("drop", ["before_headers", "after_headers"])
async def test_dropped_connection_after_a_creating_call_was_sent_is_outcome_unknown(
    local_server: LocalServer, drop: str
) -> None:
    local_server.faults.add("POST", "/api/v1/workspace/ws/chat", drop=drop, times=1)  # type: ignore[arg-type]
    async with opened(local_server.url) as (transport, sleep):
        with pytest.raises(AnythingLLMOutcomeUnknownError, match="outcome is unknown") as info:
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert sleep.waits == []
    assert info.value.attempts == 1
    assert len(api_requests(local_server)) == 1


async def test_read_timeout_on_a_get_is_retried_then_raised(local_server: LocalServer) -> None:
    local_server.faults.add("GET", "/api/v1/workspaces", latency=30, times=None)
    async with opened(local_server.url, read_timeout=0.05, max_retries=1) as (transport, sleep):
        with pytest.raises(AnythingLLMTimeoutError, match="read_timeout") as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.attempts == 2
    assert len(sleep.waits) == 1


async def test_total_timeout_on_a_creating_call_is_outcome_unknown(local_server: LocalServer) -> None:
    local_server.faults.add("POST", "/api/v1/workspace/ws/chat", latency=30, times=None)
    async with opened(local_server.url, timeout=0.05) as (transport, sleep):
        with pytest.raises(AnythingLLMOutcomeUnknownError, match="timeout"):
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert sleep.waits == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_is_retried_even_for_creating_calls() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with opened(url, max_retries=2) as (transport, sleep):
        with pytest.raises(AnythingLLMConnectionError, match="cannot connect") as info:
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert not isinstance(info.value, AnythingLLMOutcomeUnknownError)
    assert info.value.attempts == 3
    assert len(sleep.waits) == 2


# ---------------------------------------------------------------- trace ids


async def test_trace_id_from_context_reaches_header_logs_and_error(
    local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    local_server.faults.add("GET", "/api/v1/workspaces", status=503, times=None)
    async with opened(local_server.url, max_retries=1) as (transport, _):
        with trace_id("job-42"), pytest.raises(AnythingLLMServerError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.trace_id == "job-42"
    assert "job-42" in str(info.value)
    assert {r.request_id for r in api_requests(local_server)} == {"job-42"}
    assert caplog.records
    ours = [r for r in caplog.records if not r.name.startswith("anythingllm_bridge.testing")]
    assert {getattr(r, "trace_id", None) for r in ours} == {"job-42"}
    retry_log = next(r for r in caplog.records if "retrying" in r.getMessage())
    assert retry_log.attempt == 1  # type: ignore[attr-defined]
    assert "503" in retry_log.reason  # type: ignore[attr-defined]


async def test_generated_ids_differ_per_call(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        first = await transport.request("GET", "/v1/workspaces")
        second = await transport.request("GET", "/v1/workspaces")
    assert first.trace_id != second.trace_id


# ---------------------------------------------------------------- streams


STREAM = "/v1/workspace/ws/stream-chat"


async def collect(transport: Transport, spec: dict[str, Any], seen: list[Any] | None = None) -> list[Any]:
    events: list[Any] = [] if seen is None else seen
    async with aclosing(transport.stream("POST", STREAM, json=spec)) as stream:
        async for event in stream:
            events.append(event)
    return events


async def test_stream_yields_events_in_order(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        events = await collect(transport, {"message": "hi", "tokens": 4})
    assert [e["type"] for e in events] == ["textResponseChunk"] * 4 + ["finalizeResponseStream"]
    assert "".join(e.get("textResponse", "") for e in events) == "t0 t1 t2 t3 "


async def test_stream_event_larger_than_aiohttp_line_limit_arrives_whole(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        events = await collect(transport, {"message": "hi", "big": 3_000_000})
    assert len(events[-1]["sources"][0]["text"]) == 3_000_000


async def test_stream_abort_event_raises_chat_error_after_earlier_events(local_server: LocalServer) -> None:
    seen: list[Any] = []
    async with opened(local_server.url) as (transport, _):
        with pytest.raises(AnythingLLMChatError, match="vector search failed") as info:
            await collect(transport, {"message": "hi", "abort": "vector search failed"}, seen)
    assert len(seen) == 3
    assert info.value.status == 200
    assert info.value.trace_id


async def test_stream_error_before_streaming_is_mapped(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, sleep):
        with pytest.raises(AnythingLLMChatError, match="Message is empty"):
            await collect(transport, {"message": ""})
    assert sleep.waits == []


async def test_stream_crash_line_with_status_200_is_mapped(local_server: LocalServer) -> None:
    crash = {
        "uuid": "u",
        "type": "abort",
        "textResponse": None,
        "close": True,
        "error": "Workspace nope is not a valid workspace.",
    }
    async with opened(local_server.url) as (transport, _):
        with pytest.raises(Exception, match="not a valid workspace") as info:
            await collect(transport, {"message": "hi", "crash_line": crash})
    assert type(info.value).__name__ == "AnythingLLMNotFoundError"


async def test_stream_idle_timeout(local_server: LocalServer) -> None:
    async with opened(local_server.url, read_timeout=0.1) as (transport, _):
        with pytest.raises(AnythingLLMTimeoutError, match="read_timeout"):
            await collect(transport, {"message": "hi", "stall": True})


async def test_stream_cut_mid_event_raises(local_server: LocalServer) -> None:
    async with opened(local_server.url) as (transport, _):
        with pytest.raises(AnythingLLMStreamError):
            await collect(transport, {"message": "hi", "cut": True})


async def test_stream_503_before_start_is_retried(local_server: LocalServer) -> None:
    local_server.faults.add("POST", "/api/v1/workspace/*/stream-chat", status=503, times=1)
    async with opened(local_server.url) as (transport, sleep):
        events = await collect(transport, {"message": "hi"})
    assert events[-1]["type"] == "finalizeResponseStream"
    assert len(sleep.waits) == 1


async def test_stream_gives_back_its_slot_when_abandoned(local_server: LocalServer) -> None:
    async with opened(local_server.url, max_concurrency=1) as (transport, _):
        for _ in range(3):
            async with aclosing(
                transport.stream("POST", STREAM, json={"message": "hi", "tokens": 50})
            ) as stream:
                async for _event in stream:
                    break
        assert (await transport.request("GET", "/v1/workspaces")).status == 200
