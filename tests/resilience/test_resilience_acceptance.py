"""Issue 4 acceptance: retries, the circuit breaker, concurrency limits and trace ids, over real HTTP
against the AnythingLLM emulator and its fault injection. No test sleeps for timing: the retry sleep
is a recorder and the breaker's clock is a fake one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from anythingllm_bridge.client._errors import Subject
from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMCircuitOpenError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMStreamError,
    AnythingLLMValidationError,
)
from anythingllm_bridge.resilience import BreakerEvent, CircuitState
from anythingllm_bridge.testing import Emulator, RunningEmulator, run_emulator
from anythingllm_bridge.tracing import trace_id
from support import FakeClock, SleepRecorder, collect, make_client, until

WORKSPACES = "/api/v1/workspaces"


@asynccontextmanager
async def transport_for(
    emulator: RunningEmulator,
    *,
    api_key: str | None = None,
    clock: FakeClock | None = None,
    events: list[BreakerEvent] | None = None,
    **config: Any,
) -> AsyncIterator[tuple[Transport, SleepRecorder]]:
    sleep = SleepRecorder()
    transport = Transport(
        emulator.url,
        emulator.api_key if api_key is None else api_key,
        ClientConfig(**config),
        sleep=sleep,
        clock=clock or FakeClock(),
        on_breaker_change=None if events is None else events.append,
    )
    await transport.open()
    try:
        yield transport, sleep
    finally:
        await transport.close()


def reached(emulator: RunningEmulator, path: str = WORKSPACES) -> int:
    return sum(1 for r in emulator.emulator.faults.requests if r.path == path)


# ---------------------------------------------------------------- retries


async def test_503_twice_then_success_after_two_retries(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=2)
    async with transport_for(emulator) as (transport, sleep):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.data == {"workspaces": []}
    assert response.attempts == 3
    assert len(sleep.waits) == 2
    assert reached(emulator) == 3


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_2_is_waited_for(emulator: RunningEmulator, status: int) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=status, retry_after="2", times=1)
    async with transport_for(emulator) as (transport, sleep):
        await transport.request("GET", "/v1/workspaces")
    assert sleep.waits == [2.0]


async def test_retry_after_as_http_date_is_waited_for(emulator: RunningEmulator) -> None:
    import time

    emulator.emulator.faults.add(
        "GET", WORKSPACES, status=503, retry_after=formatdate(time.time() + 30, usegmt=True)
    )
    async with transport_for(emulator) as (transport, sleep):
        await transport.request("GET", "/v1/workspaces")
    assert len(sleep.waits) == 1
    assert 25 <= sleep.waits[0] <= 31


async def test_429_with_retry_after_above_max_delay_fails_at_once(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=429, retry_after="600", times=None)
    async with transport_for(emulator, max_delay=60) as (transport, sleep):
        with pytest.raises(AnythingLLMRateLimitError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.retry_after == 600.0
    assert "600" in str(info.value)
    assert sleep.waits == []
    assert reached(emulator) == 1


async def test_dropped_connection_on_a_get_is_retried(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, drop="before_headers", times=1)
    async with transport_for(emulator) as (transport, sleep):
        response = await transport.request("GET", "/v1/workspaces")
    assert response.attempts == 2
    assert len(sleep.waits) == 1
    assert reached(emulator) == 2


def upload_form() -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field(
        "file", b"The river Flibber runs north.\n", filename="river.txt", content_type="text/plain"
    )
    return form


@pytest.mark.parametrize("drop", ["before_headers", "after_headers"])
async def test_dropped_connection_after_an_upload_was_sent_is_not_retried(
    emulator: RunningEmulator, drop: str
) -> None:
    upload = "/api/v1/document/upload"
    emulator.emulator.faults.add("POST", upload, drop=drop, times=1)  # type: ignore[arg-type]
    async with transport_for(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMOutcomeUnknownError, match="outcome is unknown") as info:
            await transport.request("POST", "/v1/document/upload", form=upload_form)
    assert info.value.attempts == 1
    assert sleep.waits == []
    assert reached(emulator, upload) == 1


async def test_upload_refused_with_503_is_retried_and_stored_once(emulator: RunningEmulator) -> None:
    upload = "/api/v1/document/upload"
    emulator.emulator.faults.add("POST", upload, status=503, times=1)
    async with transport_for(emulator) as (transport, sleep):
        response = await transport.request("POST", "/v1/document/upload", form=upload_form)
        documents = await transport.request("GET", "/v1/documents")
    assert response.data["success"] is True
    assert len(sleep.waits) == 1
    folders = documents.data["localFiles"]["items"]
    stored = [doc for folder in folders for doc in folder["items"] if doc.get("title") == "river.txt"]
    assert len(stored) == 1


async def test_real_client_errors_are_never_retried(emulator: RunningEmulator) -> None:
    async with transport_for(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMValidationError):  # 422: raw-text without a title
            await transport.request(
                "POST", "/v1/document/raw-text", json={"textContent": "x", "metadata": {}}
            )
        with pytest.raises(AnythingLLMNotFoundError):  # 400 "Bad Request" for a missing workspace
            await transport.request(
                "POST",
                "/v1/workspace/nope/update",
                json={"name": "x"},
                idempotent=True,
                subject=Subject("workspace 'nope'", bare=400),
            )
        with pytest.raises(AnythingLLMNotFoundError):  # 404 "Not Found"
            await transport.request("GET", "/v1/document/nope-doc")
    async with transport_for(emulator, api_key="WRONG-KEY") as (wrong, wrong_sleep):
        with pytest.raises(AnythingLLMAuthenticationError):  # 403
            await wrong.request("GET", "/v1/workspaces")
    assert sleep.waits == []
    assert wrong_sleep.waits == []
    assert len(emulator.emulator.faults.requests) == 4


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_injected_client_errors_are_never_retried(emulator: RunningEmulator, status: int) -> None:
    emulator.emulator.faults.add("*", WORKSPACES, status=status, times=None)
    async with transport_for(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMAPIError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.status == status
    assert info.value.attempts == 1
    assert sleep.waits == []
    assert reached(emulator) == 1


# ---------------------------------------------------------------- circuit breaker


async def open_breaker(transport: Transport, emulator: RunningEmulator, failures: int = 5) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=failures)
    for _ in range(failures):
        with pytest.raises(AnythingLLMServerError):
            await transport.request("GET", "/v1/workspaces")


async def test_five_transient_failures_open_the_breaker_and_the_sixth_sends_nothing(
    emulator: RunningEmulator,
) -> None:
    events: list[BreakerEvent] = []
    async with transport_for(emulator, max_retries=0, recovery_timeout=60, events=events) as (transport, _):
        await open_breaker(transport, emulator)
        assert transport.breaker.state is CircuitState.OPEN
        assert reached(emulator) == 5
        with pytest.raises(AnythingLLMCircuitOpenError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert reached(emulator) == 5  # the sixth call never reached the server
    assert info.value.retry_in == 60.0
    assert info.value.trace_id
    snapshot = transport.breaker.snapshot()
    assert snapshot.failure_count == 5
    assert snapshot.last_failure is not None
    assert "503" in snapshot.last_failure.reason
    assert [(e.old_state, e.new_state) for e in events] == [(CircuitState.CLOSED, CircuitState.OPEN)]


async def test_retries_count_towards_the_breaker_and_stop_when_it_opens(emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=None)
    async with transport_for(emulator, max_retries=10, failure_threshold=3) as (transport, sleep):
        with pytest.raises(AnythingLLMCircuitOpenError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert reached(emulator) == 3
    assert info.value.attempts == 4
    assert len(sleep.waits) == 3


async def test_four_xx_answers_never_open_the_breaker(emulator: RunningEmulator) -> None:
    async with transport_for(emulator, max_retries=0, failure_threshold=2) as (transport, _):
        for _ in range(5):
            with pytest.raises(AnythingLLMNotFoundError):
                await transport.request("GET", "/v1/document/nope-doc")
    assert transport.breaker.state is CircuitState.CLOSED
    assert transport.breaker.failure_count == 0


async def test_429_answers_never_open_the_breaker_and_a_429_probe_closes_it(
    emulator: RunningEmulator,
) -> None:
    # a server answering 429 is alive: its Retry-After governs the wait, not the breaker
    emulator.emulator.faults.add("GET", WORKSPACES, status=429, times=5)
    clock = FakeClock()
    async with transport_for(emulator, max_retries=0, failure_threshold=2, clock=clock) as (transport, _):
        for _ in range(5):
            with pytest.raises(AnythingLLMRateLimitError):
                await transport.request("GET", "/v1/workspaces")
        assert transport.breaker.state is CircuitState.CLOSED
        assert transport.breaker.failure_count == 0
        await open_breaker(transport, emulator, failures=2)
        clock.now += 60
        emulator.emulator.faults.add("GET", WORKSPACES, status=429, times=1)
        with pytest.raises(AnythingLLMRateLimitError):
            await transport.request("GET", "/v1/workspaces")  # the probe: answered, so the server is up
        assert transport.breaker.state is CircuitState.CLOSED


async def test_anythingllms_own_500_refusals_never_open_the_breaker(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    # AnythingLLM answers 500 {"success": false, ...} for plain refusals: the same answer every time
    async with make_client(emulator.url, emulator.api_key, failure_threshold=2) as client:
        for _ in range(6):
            await client.create_folder("notes")  # "Folder by that name already exists"
        await client.create_workspace("w")
        files = []
        for number in range(6):
            path = tmp_path / f"f{number}.exe"
            path.write_bytes(b"MZ\x00\x01" * 10)
            files.append(path)
        results = await client.upload_documents("w", files)
        assert [r.status for r in results] == ["failed"] * 6
        assert all("not supported" in (r.error or "") for r in results)
        assert client.breaker.state is CircuitState.CLOSED
        assert client.breaker.failure_count == 0
        await client.list_workspaces()  # still let through


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("<html><h1>502 Bad Gateway</h1></html>", id="a proxy's page"),
        pytest.param("Internal Server Error", id="a crash's text"),
        pytest.param({"success": False, "error": "Document processing API is not online."}, id="not online"),
    ],
)
async def test_500s_that_are_not_a_refusal_count_toward_the_breaker(
    emulator: RunningEmulator, body: object
) -> None:
    content_type = "text/html" if isinstance(body, str) and body.startswith("<") else None
    emulator.emulator.faults.add("GET", WORKSPACES, status=500, body=body, content_type=content_type, times=2)
    async with transport_for(emulator, max_retries=0, failure_threshold=2) as (transport, _):
        for _ in range(2):
            with pytest.raises(AnythingLLMServerError):
                await transport.request("GET", "/v1/workspaces")
        assert transport.breaker.state is CircuitState.OPEN


async def test_after_recovery_exactly_one_of_20_concurrent_calls_probes(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    async with transport_for(emulator, max_retries=0, recovery_timeout=60, clock=clock) as (transport, _):
        await open_breaker(transport, emulator)
        clock.now += 60
        emulator.emulator.faults.add("GET", WORKSPACES, latency=0.05, times=1)  # keep the probe in flight
        before = reached(emulator)
        results = await asyncio.gather(
            *(transport.request("GET", "/v1/workspaces") for _ in range(20)), return_exceptions=True
        )
    assert reached(emulator) - before == 1
    successes = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, AnythingLLMCircuitOpenError)]
    assert len(successes) == 1
    assert len(rejected) == 19
    assert transport.breaker.state is CircuitState.CLOSED  # the probe's success closed it
    assert transport.breaker.failure_count == 0


async def test_a_failed_probe_reopens_the_breaker(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    async with transport_for(emulator, max_retries=0, recovery_timeout=30, clock=clock) as (transport, _):
        await open_breaker(transport, emulator)
        clock.now += 30
        emulator.emulator.faults.add("GET", WORKSPACES, status=502, times=1)
        with pytest.raises(AnythingLLMServerError):
            await transport.request("GET", "/v1/workspaces")
        assert transport.breaker.state is CircuitState.OPEN
        assert transport.breaker.retry_in == 30.0
        with pytest.raises(AnythingLLMCircuitOpenError):
            await transport.request("GET", "/v1/workspaces")
    assert reached(emulator) == 6


async def test_an_outage_opens_the_breaker_and_recovery_closes_it(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    async with transport_for(emulator, max_retries=0, failure_threshold=3, clock=clock) as (transport, _):
        emulator.emulator.faults.outage(3600)
        for _ in range(3):
            with pytest.raises(AnythingLLMServerError):
                await transport.request("GET", "/ping")
        with pytest.raises(AnythingLLMCircuitOpenError):
            await transport.request("GET", "/ping")
        emulator.emulator.faults.outage(0)
        clock.now += 60
        assert (await transport.request("GET", "/ping")).data == {"online": True}
    assert transport.breaker.state is CircuitState.CLOSED


async def _wait_until_reached(emulator: RunningEmulator, count: int) -> None:
    """Until ``count`` requests have arrived at the server."""
    await until(lambda: reached(emulator) >= count, "the request never reached the emulator")


async def test_a_cancelled_call_leaves_the_failure_count_as_it_was(emulator: RunningEmulator) -> None:
    async with transport_for(emulator, max_retries=0) as (transport, _):
        await open_breaker(transport, emulator, failures=3)
        assert transport.breaker.failure_count == 3
        emulator.emulator.faults.add("GET", WORKSPACES, latency=30, times=2)
        task = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
        await _wait_until_reached(emulator, 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert transport.breaker.failure_count == 3

        async def timed_out_mid_request() -> None:
            async with asyncio.timeout(None) as outer:
                call = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
                await _wait_until_reached(emulator, 5)  # it is held by the second latency fault
                outer.reschedule(asyncio.get_running_loop().time())  # time is up, mid-request
                await call

        with pytest.raises(TimeoutError):  # an outer timeout is not a failure either
            await timed_out_mid_request()
        assert transport.breaker.failure_count == 3
        assert transport.breaker.state is CircuitState.CLOSED
        await transport.request("GET", "/v1/workspaces")
        assert transport.breaker.failure_count == 0


async def test_a_cancelled_probe_lets_the_next_call_probe(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    async with transport_for(emulator, max_retries=0, clock=clock) as (transport, _):
        await open_breaker(transport, emulator)
        clock.now += 60
        emulator.emulator.faults.add("GET", WORKSPACES, latency=30, times=1)
        probe = asyncio.create_task(transport.request("GET", "/v1/workspaces"))
        await _wait_until_reached(emulator, 6)
        with pytest.raises(AnythingLLMCircuitOpenError, match="probe"):
            await transport.request("GET", "/v1/workspaces")
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert transport.breaker.state is CircuitState.HALF_OPEN
        await transport.request("GET", "/v1/workspaces")
    assert transport.breaker.snapshot().state is CircuitState.CLOSED


async def test_breakers_are_per_transport(emulator: RunningEmulator) -> None:
    async with transport_for(emulator, max_retries=0) as (one, _), transport_for(emulator) as (two, _):
        await open_breaker(one, emulator)
        assert one.breaker.state is CircuitState.OPEN
        assert (await two.request("GET", "/v1/workspaces")).status == 200


# ---------------------------------------------------------------- concurrency limits


@asynccontextmanager
async def counted_emulator(limit: int) -> AsyncIterator[tuple[RunningEmulator, dict[str, int]]]:
    """An emulator with an outermost middleware counting requests (and connections) in flight.

    The first requests are held until ``limit`` of them are in flight, so a client that keeps to the
    limit certainly reaches it, however slowly the machine lets it send; after that each request
    still takes a little while (a latency fault), so a client that exceeded the limit would be seen.
    """
    emu = Emulator("TEST-KEY")
    seen = {"in_flight": 0, "max_in_flight": 0, "max_connections": 0}
    connections: dict[Any, int] = {}
    full = asyncio.Event()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        seen["in_flight"] += 1
        seen["max_in_flight"] = max(seen["max_in_flight"], seen["in_flight"])
        connections[request.transport] = connections.get(request.transport, 0) + 1
        seen["max_connections"] = max(seen["max_connections"], len(connections))
        if seen["in_flight"] >= limit:
            full.set()
        try:
            async with asyncio.timeout(60):  # a bound against a hang, never reached when all is well
                await full.wait()
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            seen["in_flight"] -= 1
            connections[request.transport] -= 1
            if not connections[request.transport]:
                del connections[request.transport]

    emu.app.middlewares.insert(0, count)
    async with run_emulator(emulator=emu) as running:
        yield running, seen


async def test_100_concurrent_calls_never_exceed_max_concurrency() -> None:
    async with counted_emulator(limit=7) as (emulator, seen):
        emulator.emulator.faults.add("GET", WORKSPACES, latency=0.02, times=None)
        async with transport_for(emulator, max_concurrency=7, max_connections_per_host=50) as (transport, _):
            results = await asyncio.gather(*(transport.request("GET", "/v1/workspaces") for _ in range(100)))
    assert all(r.status == 200 for r in results)
    assert reached(emulator) == 100
    assert seen["max_in_flight"] == 7  # reached, never exceeded


async def test_connections_per_host_are_limited() -> None:
    async with counted_emulator(limit=3) as (emulator, seen):
        emulator.emulator.faults.add("GET", WORKSPACES, latency=0.02, times=None)
        async with transport_for(emulator, max_concurrency=50, max_connections_per_host=3) as (transport, _):
            await asyncio.gather(*(transport.request("GET", "/v1/workspaces") for _ in range(60)))
    assert seen["max_in_flight"] == 3
    assert seen["max_connections"] <= 3


# ---------------------------------------------------------------- trace ids


async def test_one_trace_id_in_the_header_the_logs_and_the_error(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=None)
    async with transport_for(emulator, max_retries=2) as (transport, _):
        with trace_id("acceptance-7"), pytest.raises(AnythingLLMServerError) as info:
            await transport.request("GET", "/v1/workspaces")
    assert info.value.trace_id == "acceptance-7"
    assert info.value.attempts == 3
    assert [r.request_id for r in emulator.emulator.faults.requests] == ["acceptance-7"] * 3
    ours = [
        r
        for r in caplog.records
        if r.name.startswith(("anythingllm_bridge.client", "anythingllm_bridge.res"))
    ]
    assert len(ours) >= 5  # 3 attempts + 2 retries (+ the final failure)
    assert {getattr(r, "trace_id", None) for r in ours} == {"acceptance-7"}
    retries = [r for r in ours if "retrying" in r.getMessage()]
    assert [r.attempt for r in retries] == [1, 2]  # type: ignore[attr-defined]
    assert all(r.wait >= 0 and "503" in r.reason for r in retries)  # type: ignore[attr-defined]


async def test_a_generated_trace_id_is_the_same_everywhere(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    async with transport_for(emulator) as (transport, _):
        with pytest.raises(AnythingLLMNotFoundError) as info:
            await transport.request("GET", "/v1/workspace/missing", subject=Subject("workspace 'missing'"))
    generated = info.value.trace_id
    assert generated
    assert emulator.emulator.faults.requests[-1].request_id == generated
    ours = [r for r in caplog.records if r.name.startswith("anythingllm_bridge.client")]
    assert ours
    assert {getattr(r, "trace_id", None) for r in ours} == {generated}


# ---------------------------------------------------------------- streams


async def test_a_stream_cut_by_the_server_raises_instead_of_ending_quietly(emulator: RunningEmulator) -> None:
    async with transport_for(emulator) as (transport, _):
        created = await transport.request("POST", "/v1/workspace/new", json={"name": "Cut"})
        slug = created.data["workspace"]["slug"]
        path = f"/v1/workspace/{slug}/stream-chat"
        emulator.emulator.faults.add("POST", f"/api{path}", cut_stream_after=2)
        seen: list[dict[str, Any]] = []
        with pytest.raises(AnythingLLMStreamError):
            await collect(transport, path, {"message": "hi", "mode": "chat"}, seen)
    assert len(seen) == 2


async def test_a_stream_to_a_missing_workspace_is_not_found(emulator: RunningEmulator) -> None:
    async with transport_for(emulator) as (transport, sleep):
        with pytest.raises(AnythingLLMNotFoundError):
            await collect(transport, "/v1/workspace/nope/stream-chat", {"message": "x"}, [])
    assert sleep.waits == []
