"""The Transport against the emulator over real HTTP on 127.0.0.1: headers, bodies, expectations,
the session lifecycle, retry policy per route, timeouts and streams. (Behaviour the emulator cannot
produce on demand — multi-megabyte events, stalled or half-sent streams, redirects — is tested in
test_transport_special_server.py.)"""

from __future__ import annotations

import asyncio
import logging
import random
import select
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from anythingllm_bridge.client._errors import Subject
from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import (
    AnythingLLMAuthenticationError,
    AnythingLLMChatError,
    AnythingLLMConnectionError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMSessionError,
    AnythingLLMTimeoutError,
    ConfigurationError,
)
from anythingllm_bridge.testing import RunningEmulator
from support import FakeClock, SleepRecorder, closed_port, collect, until


@asynccontextmanager
async def opened(
    url: str, key: str | SecretStr | None, **config: Any
) -> AsyncIterator[tuple[Transport, SleepRecorder]]:
    sleep = SleepRecorder()
    transport = Transport(url, key, ClientConfig(**config), sleep=sleep)
    await transport.open()
    try:
        yield transport, sleep
    finally:
        await transport.close()


def on(emulator: RunningEmulator, **config: Any) -> Any:
    return opened(emulator.url, emulator.api_key, **config)


def requests_to(emulator: RunningEmulator, path: str) -> list[Any]:
    return [r for r in emulator.emulator.faults.requests if r.path == path]


async def new_workspace(transport: Transport, name: str = "Transport Tests") -> str:
    created = await transport.request("POST", "/v1/workspace/new", json={"name": name})
    return str(created.data["workspace"]["slug"])


# ---------------------------------------------------------------- basics


async def test_get_returns_decoded_json_with_bearer_key_and_request_id(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, _):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.status == 200
    assert response.data == {"workspaces": []}
    assert response.content_type == "application/json"
    assert response.attempts == 1
    seen = requests_to(emulator, "/api/v1/workspaces")[0]
    assert seen.headers["Authorization"] == f"Bearer {emulator.api_key}"
    assert seen.request_id == response.trace_id
    assert len(response.trace_id) == 16


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/", "/api/v1", "/api/v1/"])
async def test_base_url_forms_are_tolerated(emulator: RunningEmulator, suffix: str) -> None:
    async with opened(emulator.url + suffix, emulator.api_key) as (transport, _):
        assert (await transport.request("GET", "/ping")).data == {"online": True}
        assert (await transport.request("GET", "/v1/auth")).data == {"authenticated": True}
    assert transport.base_url == emulator.url


async def test_secret_str_key_works(emulator: RunningEmulator) -> None:
    async with opened(emulator.url, SecretStr(emulator.api_key)) as (transport, _):
        await transport.request("GET", "/v1/auth")


async def test_no_key_reaches_ping_and_is_refused_elsewhere(emulator: RunningEmulator) -> None:
    async with opened(emulator.url, None) as (transport, sleep):
        assert (await transport.request("GET", "/ping")).status == 200
        with pytest.raises(AnythingLLMAuthenticationError, match="ANYTHINGLLM_API_KEY"):
            await transport.request("GET", "/v1/auth")
    assert sleep.waits == []


async def test_json_body_with_non_ascii_and_query_params(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, _):
        slug = await new_workspace(transport, "Café ✓ Straße")
        shown = await transport.request("GET", f"/v1/workspace/{slug}")
        await transport.request(
            "GET", f"/v1/workspace/{slug}/chats", params={"apiSessionId": "s 1", "limit": 5}
        )
    assert shown.data["workspace"][0]["name"] == "Café ✓ Straße"
    new = requests_to(emulator, "/api/v1/workspace/new")[0]
    assert new.headers["Content-Type"] == "application/json"
    chats = requests_to(emulator, f"/api/v1/workspace/{slug}/chats")[0]
    assert chats.query == {"apiSessionId": "s 1", "limit": "5"}


async def test_text_answers_with_expect_text(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, _):
        slug = await new_workspace(transport)
        subject = Subject(f"workspace {slug!r}", bare=400)
        response = await transport.request("DELETE", f"/v1/workspace/{slug}", expect="text", subject=subject)
        with pytest.raises(AnythingLLMNotFoundError, match=f"workspace '{slug}' does not exist"):
            # the server's bare 400 "Bad Request" the 2nd time
            await transport.request("DELETE", f"/v1/workspace/{slug}", expect="text", subject=subject)
    assert response.data == "OK"


async def test_html_where_json_was_due_is_a_protocol_error_not_retried(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMProtocolError, match="base URL") as info:
            await transport.request("GET", "/v1/does-not-exist")
    assert sleep.waits == []
    assert info.value.attempts == 1
    assert info.value.status == 200
    assert info.value.content_type == "text/html"


async def test_calls_outside_an_open_session_fail_clearly(emulator: RunningEmulator) -> None:
    transport = Transport(emulator.url, emulator.api_key)
    with pytest.raises(AnythingLLMSessionError, match="async with client"):
        await transport.request("GET", "/v1/workspaces")
    await transport.open()
    await transport.open()  # idempotent
    assert transport.is_open
    await transport.close()
    assert not transport.is_open
    with pytest.raises(AnythingLLMSessionError):
        await transport.request("GET", "/v1/workspaces")
    with pytest.raises(AnythingLLMSessionError):
        await collect(transport, "/v1/workspace/ws/stream-chat", {"message": "hi"})
    assert emulator.emulator.faults.requests == []


async def test_the_api_key_never_shows(emulator: RunningEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=503, times=1)
    async with on(emulator) as (transport, _):
        assert emulator.api_key not in repr(transport)
        await transport.request("GET", "/v1/workspaces")
    async with opened(emulator.url, "WRONG-KEY-999") as (transport, _):
        with pytest.raises(AnythingLLMAuthenticationError) as info:
            await transport.request("GET", "/v1/workspaces")
    ours = [r for r in caplog.records if not r.name.startswith("anythingllm_bridge.testing")]
    assert len(ours) >= 3
    for secret in (emulator.api_key, "WRONG-KEY-999"):
        assert secret not in str(info.value)
        assert secret not in repr(info.value)
        assert all(secret not in r.getMessage() for r in ours)


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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        *[(url, url) for url in ["localhost:3001", "ftp://h", "http://", "http://h:port", " "]],
        ("http://h/?x=1", "http://h/"),  # a query may hold a secret: not shown
    ],
)
def test_bad_base_url_is_refused_naming_it(url: str, shown: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url") as info:
        Transport(url, "KEY")
    assert isinstance(info.value, ValueError)
    assert repr(shown) in str(info.value)


# ---------------------------------------------------------------- retry policy per call


async def test_a_post_is_retried_after_sending_only_when_declared_idempotent(
    emulator: RunningEmulator,
) -> None:
    async with on(emulator) as (transport, sleep):
        slug = await new_workspace(transport)
        search, body = f"/v1/workspace/{slug}/vector-search", {"query": "anything", "topN": 1}
        emulator.emulator.faults.add("POST", f"/api{search}", status=502, times=1)
        with pytest.raises(AnythingLLMServerError):  # a POST may create: not repeated after a 502
            await transport.request("POST", search, json=body)
        assert sleep.waits == []
        emulator.emulator.faults.add("POST", f"/api{search}", status=502, times=1)
        emulator.emulator.faults.add("POST", f"/api{search}", drop="after_headers", times=1)
        answer = await transport.request("POST", search, json=body, idempotent=True)
    assert answer.data["results"] == []
    assert answer.attempts == 3  # after a 502 and a lost answer: the call says repeating it is harmless
    assert len(sleep.waits) == 2


async def test_a_delete_declared_not_idempotent_gives_an_unknown_outcome(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("DELETE", "/api/v1/system/remove-documents", drop="after_headers", times=1)
    async with on(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMOutcomeUnknownError):
            await transport.request(
                "DELETE", "/v1/system/remove-documents", json={"names": []}, idempotent=False
            )
        await transport.request("DELETE", "/v1/system/remove-documents", json={"names": []})  # by method
    assert sleep.waits == []


async def test_max_retries_bounds_the_attempts(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=502, times=None)
    async with on(emulator, max_retries=2) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert len(sleep.waits) == 2
    assert 0 <= sleep.waits[0] <= 1
    assert 0 <= sleep.waits[1] <= 2


async def test_no_retries_with_max_retries_0(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=503, times=None)
    async with on(emulator, max_retries=0) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError):
            await transport.request("GET", "/v1/workspaces")
    assert sleep.waits == []


async def test_502_on_a_chat_is_not_retried(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, sleep):
        slug = await new_workspace(transport)
        emulator.emulator.faults.add("POST", f"/api/v1/workspace/{slug}/chat", status=502, times=1)
        with pytest.raises(AnythingLLMServerError):
            await transport.request("POST", f"/v1/workspace/{slug}/chat", json={"message": "hi"})
    assert sleep.waits == []


async def test_429_on_a_chat_is_retried_and_a_long_wait_fails_at_once(emulator: RunningEmulator) -> None:
    async with on(emulator, max_delay=30) as (transport, sleep):
        slug = await new_workspace(transport)
        chat = f"/api/v1/workspace/{slug}/chat"
        emulator.emulator.faults.add("POST", chat, status=429, retry_after="3", times=1)
        answer = await transport.request("POST", chat[4:], json={"message": "hi", "mode": "chat"})
        assert answer.data["type"] == "textResponse"
        emulator.emulator.faults.add("POST", chat, status=429, retry_after="31", times=1)
        with pytest.raises(AnythingLLMRateLimitError, match="max_delay") as info:
            await transport.request("POST", chat[4:], json={"message": "hi", "mode": "chat"})
    assert sleep.waits == [3.0]
    assert info.value.retry_after == 31.0


NOT_ONLINE = "Document processing API is not online. Document a.txt will not be processed automatically."


async def test_not_online_500_on_upload_is_retried_with_a_fresh_form(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add(
        "POST", "/api/v1/document/upload", status=500, body={"success": False, "error": NOT_ONLINE}, times=2
    )
    built = 0

    def form() -> aiohttp.FormData:
        nonlocal built
        built += 1
        data = aiohttp.FormData(quote_fields=False)
        data.add_field("file", b"hello world\n", filename="résumé.txt", content_type="text/plain")
        return data

    async with on(emulator) as (transport, sleep):
        response = await transport.request("POST", "/v1/document/upload", form=form)
    assert built == 3
    assert len(sleep.waits) == 2
    assert response.data["documents"][0]["title"] == "résumé.txt"


async def test_other_500_on_upload_is_not_retried(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMServerError) as info:  # no file at all: the server's plain 500
            await transport.request("POST", "/v1/document/upload", form=aiohttp.FormData)
    assert info.value.status == 500
    assert sleep.waits == []


async def test_read_timeout_on_a_get_is_retried_then_raised(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=30, times=None)
    async with on(emulator, read_timeout=0.05, max_retries=1) as (transport, sleep):
        with pytest.raises(AnythingLLMTimeoutError, match="read_timeout") as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.attempts == 2
    assert len(sleep.waits) == 1


async def test_deadlines_of_many_calls_expire_and_leave_their_tasks_uncancelled(
    emulator: RunningEmulator,
) -> None:
    slow = emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=30, times=None)

    async def call() -> tuple[BaseException | None, int]:
        try:
            await transport.request("GET", "/v1/workspaces")
        except AnythingLLMTimeoutError as exc:
            error: BaseException | None = exc
        else:
            error = None
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)  # a task left with a pending cancellation would stop here
        return error, task.cancelling()

    config = {"read_timeout": 0.05, "max_retries": 0, "max_connections_per_host": 8, "failure_threshold": 9}
    async with on(emulator, **config) as (
        transport,
        _,
    ):
        outcomes = await asyncio.gather(*(call() for _ in range(8)))
        assert [type(error) for error, _ in outcomes] == [AnythingLLMTimeoutError] * 8
        assert [cancelling for _, cancelling in outcomes] == [0] * 8
        # A call whose deadline passed before the server saw it would leave a counted fault unused
        # (under load this happened): the slowness is removed by hand, and the transport still serves.
        emulator.emulator.faults.remove(slow)
        assert (await transport.request("GET", "/v1/workspaces")).status == 200


async def test_waiting_for_a_free_connection_does_not_count_toward_read_timeout(
    emulator: RunningEmulator,
) -> None:
    # one connection, six calls of 0.25 s each: the last one starts after 1.25 s, yet each of them
    # takes well under read_timeout once it has its connection (the call's timeout covers the wait)
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=0.25, times=None)
    limits = {"read_timeout": 1.0, "timeout": 60, "max_retries": 0, "max_connections_per_host": 1}
    async with on(emulator, **limits) as (transport, _):
        answers = await asyncio.gather(*(transport.request("GET", "/v1/workspaces") for _ in range(6)))
    assert [answer.status for answer in answers] == [200] * 6


async def test_total_timeout_on_a_creating_call_is_outcome_unknown(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("POST", "/api/v1/workspace/new", latency=30, times=None)
    async with on(emulator, timeout=0.05) as (transport, sleep):
        with pytest.raises(AnythingLLMOutcomeUnknownError, match="timeout") as info:
            await transport.request("POST", "/v1/workspace/new", json={"name": "slow"})
    assert info.value.attempts == 1  # sent once, never again
    assert sleep.waits == []


async def test_refused_connection_is_retried_even_for_creating_calls() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with opened(url, "KEY", max_retries=2) as (transport, sleep):
        with pytest.raises(AnythingLLMConnectionError, match="cannot connect") as info:
            await transport.request("POST", "/v1/workspace/ws/chat", json={"message": "hi"})
    assert not isinstance(info.value, AnythingLLMOutcomeUnknownError)
    assert info.value.attempts == 3
    assert len(sleep.waits) == 2


async def test_generated_ids_differ_per_call(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, _):
        first = await transport.request("GET", "/v1/workspaces")
        second = await transport.request("GET", "/v1/workspaces")
    assert first.trace_id != second.trace_id


# ---------------------------------------------------------------- the call's deadline


class Top(random.Random):
    """Backoff without jitter: always the longest wait."""

    def uniform(self, a: float, b: float) -> float:
        return b


@asynccontextmanager
async def clocked(emulator: RunningEmulator, **config: Any) -> AsyncIterator[tuple[Transport, list[float]]]:
    """A transport whose clock moves only when it waits (each wait is recorded)."""
    clock, waits = FakeClock(), []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    transport = Transport(
        emulator.url, emulator.api_key, ClientConfig(**config), sleep=sleep, clock=clock, rng=Top()
    )
    await transport.open()
    try:
        yield transport, waits
    finally:
        await transport.close()


async def test_retries_stop_at_the_calls_timeout(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=503, times=None)
    config = {"timeout": 10, "base_delay": 2, "max_retries": 10, "failure_threshold": 100}
    async with clocked(emulator, **config) as (transport, waits):
        with pytest.raises(AnythingLLMServerError) as info:
            await transport.request("GET", "/v1/workspaces")
    # backoff 2, 4, then 8: 2 + 4 + 8 s would pass the 10 s, so the call ends after its third attempt
    assert waits == [2, 4]
    assert info.value.attempts == 3
    assert info.value.status == 503
    assert "not retried: waiting 8 s would pass the call's timeout (10 s)" in str(info.value)


async def test_a_retry_after_past_the_timeout_fails_at_once(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=429, retry_after="30", times=None)
    async with clocked(emulator, timeout=20, max_delay=60) as (transport, waits):
        with pytest.raises(
            AnythingLLMRateLimitError, match=r"would pass the call's timeout \(20 s\)"
        ) as info:
            await transport.request("GET", "/v1/workspaces")
    assert waits == []
    assert info.value.attempts == 1
    assert info.value.retry_after == 30


async def test_an_attempt_cut_by_the_calls_timeout_is_the_last(emulator: RunningEmulator) -> None:
    # read_timeout would allow a retry; the call's timeout ends the call instead
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=30, times=None)
    async with on(emulator, timeout=0.05, read_timeout=10, max_retries=3) as (transport, sleep):
        with pytest.raises(
            AnythingLLMTimeoutError, match=r"within 0\.05 s \(timeout: the whole call"
        ) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.attempts == 1
    assert sleep.waits == []


# ---------------------------------------------------------------- streams


async def test_stream_yields_events_until_the_server_closes(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, _):
        slug = await new_workspace(transport)
        events = await collect(
            transport, f"/v1/workspace/{slug}/stream-chat", {"message": "hello", "mode": "chat"}
        )
    assert events[0]["type"] == "textResponseChunk"
    assert events[-1]["type"] == "finalizeResponseStream"
    assert "hello" in "".join(e.get("textResponse") or "" for e in events)


async def test_stream_error_before_streaming_is_mapped(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, sleep):
        slug = await new_workspace(transport)
        with pytest.raises(AnythingLLMChatError, match="Message is empty"):
            await collect(transport, f"/v1/workspace/{slug}/stream-chat", {"message": ""})
        with pytest.raises(AnythingLLMNotFoundError, match="not a valid workspace"):
            await collect(transport, "/v1/workspace/nope/stream-chat", {"message": "hi"})
    assert sleep.waits == []


async def test_thread_stream_crash_line_on_a_missing_workspace_is_not_found(
    emulator: RunningEmulator,
) -> None:
    path, body = "/v1/workspace/nope/thread/t/stream-chat", {"message": "hi"}
    crashes = Subject("workspace 'nope' or its thread 't'", crashes=True)
    async with on(emulator) as (transport, _):
        with pytest.raises(AnythingLLMNotFoundError, match="workspace 'nope'") as info:
            await collect(transport, path, body, subject=crashes)
        with pytest.raises(AnythingLLMChatError):  # a call that does not say the route crashes so
            await collect(transport, path, body)
    assert info.value.status == 200


async def test_stream_503_before_start_is_retried(emulator: RunningEmulator) -> None:
    async with on(emulator) as (transport, sleep):
        slug = await new_workspace(transport)
        emulator.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", status=503, times=1)
        events = await collect(
            transport, f"/v1/workspace/{slug}/stream-chat", {"message": "hi", "mode": "chat"}
        )
    assert events[-1]["type"] == "finalizeResponseStream"
    assert len(sleep.waits) == 1


async def test_stream_gives_back_its_slot_when_abandoned(emulator: RunningEmulator) -> None:
    async with on(emulator, max_concurrency=1) as (transport, _):
        slug = await new_workspace(transport)
        for _ in range(3):
            body = {"message": "tell me a long story please", "mode": "chat"}
            async with aclosing(
                transport.stream("POST", f"/v1/workspace/{slug}/stream-chat", json=body)
            ) as stream:
                async for _event in stream:
                    break
        assert (await transport.request("GET", "/v1/workspaces")).status == 200


async def test_a_call_cancelled_while_waiting_for_a_slot_does_not_keep_one(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=0.2, times=1)
    async with on(emulator, max_concurrency=1) as (transport, _):
        holder = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
        waiters = [asyncio.create_task(transport.request("GET", "/v1/workspaces")) for _ in range(3)]
        await asyncio.sleep(0)  # the holder takes the slot, the others queue behind it
        waiters[1].cancel()
        async with asyncio.timeout(30):  # a slot kept by the cancelled call would hang the rest
            results = await asyncio.gather(holder, *waiters, return_exceptions=True)
        assert isinstance(results[2], asyncio.CancelledError)
        assert [r.status for r in results if not isinstance(r, BaseException)] == [200] * 3
        assert (await transport.request("GET", "/v1/workspaces")).status == 200
    assert len(requests_to(emulator, "/api/v1/workspaces")) == 4


# ---------------------------------------------------------------- waiting for a slot


class LeapingClock(FakeClock):
    """A fake clock that, once ``leap`` is set, moves that many seconds forward at every reading:
    a call started then finds its whole timeout gone by the time it waits for anything."""

    leap: float = 0.0

    def __call__(self) -> float:
        self.now += self.leap
        return self.now


async def test_the_calls_timeout_bounds_its_wait_for_a_free_slot(emulator: RunningEmulator) -> None:
    clock = LeapingClock()
    config = ClientConfig(timeout=60, max_concurrency=1, max_connections_per_host=5)
    transport = Transport(emulator.url, emulator.api_key, config, sleep=SleepRecorder(), clock=clock)
    await transport.open()
    try:
        slug = await new_workspace(transport)
        body = {"message": "tell me a long story please", "mode": "chat"}
        async with aclosing(transport.stream("POST", f"/v1/workspace/{slug}/stream-chat", json=body)) as held:
            async for _event in held:  # the stream holds the only slot until it is closed
                break
            clock.leap = 60
            with pytest.raises(AnythingLLMTimeoutError) as info:
                await transport.request("GET", "/v1/workspaces")
        clock.leap = 0
        assert (await transport.request("GET", "/v1/workspaces")).status == 200  # the slot is back
    finally:
        await transport.close()
    message = str(info.value)
    assert "waited for a free connection slot until the call's timeout (60 s) ran out" in message
    assert "max_concurrency=1" in message
    assert "max_connections_per_host=5" in message
    assert "nothing was sent" in message
    assert len(requests_to(emulator, "/api/v1/workspaces")) == 1  # only the call made after
    assert transport.breaker.failure_count == 0


async def test_a_call_queued_while_the_client_disconnects_is_a_session_error(
    emulator: RunningEmulator,
) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", latency=30, times=1)
    transport = Transport(emulator.url, emulator.api_key, ClientConfig(max_concurrency=1, max_retries=0))
    await transport.open()
    first = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
    await until(lambda: bool(requests_to(emulator, "/api/v1/workspaces")), "the first call never arrived")
    second = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
    await asyncio.sleep(0)  # it runs up to the slot the first one holds, and queues there
    await transport.close()
    with pytest.raises(AnythingLLMConnectionError):
        await first
    with pytest.raises(AnythingLLMSessionError, match="disconnected while this call waited") as info:
        await second
    assert "nothing was sent" in str(info.value)
    assert len(requests_to(emulator, "/api/v1/workspaces")) == 1
    assert transport.breaker.failure_count <= 1  # the first call's broken connection, not the second


async def test_a_stream_retried_across_a_reconnect_gives_its_slot_back_to_the_new_session(
    emulator: RunningEmulator,
) -> None:
    transport: Transport

    async def reconnect(_seconds: float) -> None:  # the backoff: the application reconnects meanwhile
        await transport.close()
        await transport.open()

    config = ClientConfig(max_concurrency=1, timeout=5)
    transport = Transport(emulator.url, emulator.api_key, config, sleep=reconnect)
    await transport.open()
    try:
        slug = await new_workspace(transport)
        emulator.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", status=503, times=1)
        events = await collect(
            transport, f"/v1/workspace/{slug}/stream-chat", {"message": "hi", "mode": "chat"}
        )
        assert events[-1]["type"] == "finalizeResponseStream"
        # a slot kept would leave this call waiting until its timeout, then failing
        assert (await transport.request("GET", "/v1/workspaces")).status == 200
    finally:
        await transport.close()


# ---------------------------------------------------------------- a request that never left


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A URL whose connections never complete: a listening socket whose accept queue is full, so the
    kernel drops every further SYN and ``connect()`` hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        probe = socket.socket()
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", port))
        fillers.append(probe)
        _, writable, _ = select.select([], [probe], [], 0.5)
        assert not writable, "the black hole accepted a connection: the test cannot show a hung connect"
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


async def test_a_deadline_passed_while_connecting_is_not_an_unknown_outcome(black_hole: str) -> None:
    async with opened(black_hole, "KEY", timeout=0.3, connect_timeout=30) as (transport, sleep):
        with pytest.raises(AnythingLLMTimeoutError) as info:
            await transport.request("POST", "/v1/workspace/new", json={"name": "x"})
    assert not isinstance(info.value, AnythingLLMOutcomeUnknownError)
    assert f"could not connect to {black_hole} within 0.3 s" in str(info.value)
    assert "nothing was sent" in str(info.value)
    assert sleep.waits == []


async def test_a_streams_generated_trace_id_is_the_contexts_while_it_starts(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async with on(emulator, failure_threshold=1, recovery_timeout=0) as (transport, _):
        slug = await new_workspace(transport)
        emulator.emulator.faults.add("POST", "/api/v1/workspace/*/stream-chat", status=503, times=1)
        with caplog.at_level(logging.INFO, logger="anythingllm_bridge"):
            events = await collect(
                transport, f"/v1/workspace/{slug}/stream-chat", {"message": "hi", "mode": "chat"}
            )
    assert events[-1]["type"] == "finalizeResponseStream"
    [sent, *_] = [r.request_id for r in emulator.emulator.faults.requests if r.path.endswith("stream-chat")]
    breaker = [r for r in caplog.records if r.name.startswith("anythingllm_bridge.resilience")]
    assert breaker  # it opened on the 503, then closed on the retry
    assert {getattr(r, "trace_id", None) for r in breaker} == {sent}
