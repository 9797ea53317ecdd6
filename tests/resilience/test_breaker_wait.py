"""Waiting out an open circuit breaker within a budget: a call carrying a BreakerWait is made once
the breaker lets it through instead of failing with AnythingLLMCircuitOpenError, and all the calls
carrying one budget wait at most that long in all. Real HTTP against the emulator; the breaker's
clock is a fake one that moves only when the BreakerWait sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import AnythingLLMCircuitOpenError, AnythingLLMServerError
from anythingllm_bridge.resilience import BreakerWait, CircuitBreaker, CircuitState
from anythingllm_bridge.testing import RunningEmulator
from support import FakeClock, no_sleep

WORKSPACES = "/api/v1/workspaces"


class Waiting:
    """A BreakerWait's sleep that moves the fake clock, and what it was told."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []
        self.told: list[tuple[str, float]] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.now += seconds

    def budget(self, seconds: float) -> BreakerWait:
        return BreakerWait(seconds, sleep=self.sleep, on_wait=lambda what, s: self.told.append((what, s)))


@asynccontextmanager
async def breaking(emulator: RunningEmulator, clock: FakeClock, **config: Any) -> AsyncIterator[Transport]:
    """A transport that opens its breaker after 2 failures for 30 s, and does not retry."""
    limits = {"max_retries": 0, "failure_threshold": 2, "recovery_timeout": 30, **config}
    transport = Transport(emulator.url, emulator.api_key, ClientConfig(**limits), sleep=no_sleep, clock=clock)
    await transport.open()
    try:
        yield transport
    finally:
        await transport.close()


async def open_breaker(transport: Transport, emulator: RunningEmulator) -> None:
    emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=2)
    for _ in range(2):
        with pytest.raises(AnythingLLMServerError):
            await transport.request("GET", "/v1/workspaces")
    assert transport.breaker.state is CircuitState.OPEN


async def test_a_call_with_a_breaker_wait_is_made_once_the_breaker_lets_it(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    waiting = Waiting(clock)
    async with breaking(emulator, clock) as transport:
        await open_breaker(transport, emulator)
        budget = waiting.budget(100)
        answer = await transport.request("GET", "/v1/workspaces", breaker_wait=budget)
    assert answer.status == 200
    assert answer.attempts == 1  # a refusal sends nothing: it is no attempt
    assert waiting.slept == [30.0]
    assert waiting.told == [("GET /v1/workspaces", 30.0)]
    assert (budget.spent, budget.left) == (30.0, 70.0)
    assert transport.breaker.state is CircuitState.CLOSED  # the call was the probe


async def test_without_enough_budget_the_call_fails_at_once(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    waiting = Waiting(clock)
    async with breaking(emulator, clock) as transport:
        await open_breaker(transport, emulator)
        budget = waiting.budget(20)
        with pytest.raises(AnythingLLMCircuitOpenError, match="the 20 s allowed for waiting") as info:
            await transport.request("GET", "/v1/workspaces", breaker_wait=budget)
        with pytest.raises(AnythingLLMCircuitOpenError) as plain:  # no budget: fails at once as ever
            await transport.request("GET", "/v1/workspaces")
    assert waiting.slept == []
    assert budget.spent == 0
    assert info.value.retry_in == 30.0
    assert "allowed for waiting" not in str(plain.value)


async def test_a_refused_wait_is_told_to_on_refuse_with_the_time_the_breaker_still_needs(
    emulator: RunningEmulator,
) -> None:
    clock = FakeClock()
    waiting = Waiting(clock)
    refused: list[float] = []
    async with breaking(emulator, clock) as transport:
        await open_breaker(transport, emulator)
        budget = BreakerWait(20, sleep=waiting.sleep, on_refuse=refused.append)
        with pytest.raises(AnythingLLMCircuitOpenError):
            await transport.request("GET", "/v1/workspaces", breaker_wait=budget)
        fitting = BreakerWait(40, sleep=waiting.sleep, on_refuse=refused.append)
        assert (await transport.request("GET", "/v1/workspaces", breaker_wait=fitting)).status == 200
    assert refused == [30.0]  # told once, by the budget too small; the one that waited was not


async def test_calls_sharing_a_budget_wait_for_one_recovery_together(emulator: RunningEmulator) -> None:
    # the breaker on the real clock, open for 50 ms: one call waits that out and probes, the others
    # look again every PROBE_POLL until the probe has closed the breaker
    transport = Transport(
        emulator.url,
        emulator.api_key,
        ClientConfig(max_retries=0, failure_threshold=2, recovery_timeout=0.05),
        sleep=no_sleep,
    )
    await transport.open()
    try:
        await open_breaker(transport, emulator)
        budget = BreakerWait(5)
        answers = await asyncio.gather(
            *(transport.request("GET", "/v1/workspaces", breaker_wait=budget) for _ in range(5))
        )
    finally:
        await transport.close()
    assert [a.status for a in answers] == [200] * 5
    assert 0 < budget.spent < 5
    assert transport.breaker.state is CircuitState.CLOSED


async def test_the_wait_does_not_count_toward_the_calls_timeout(emulator: RunningEmulator) -> None:
    clock = FakeClock()
    waiting = Waiting(clock)
    async with breaking(emulator, clock, timeout=5) as transport:
        await open_breaker(transport, emulator)
        answer = await transport.request("GET", "/v1/workspaces", breaker_wait=waiting.budget(60))
    assert answer.status == 200  # waited 30 s for the breaker, with a 5 s timeout


async def test_a_client_view_carries_the_budget_and_shares_everything_else(emulator: RunningEmulator) -> None:
    # the breaker on the real clock, open for 50 ms; the view's budget really waits that out
    client = AnythingLLMClient(
        emulator.url,
        emulator.api_key,
        max_retries=0,
        failure_threshold=2,
        recovery_timeout=0.05,
        sleep=no_sleep,
    )
    budget = BreakerWait(5)
    patient = client.with_options(breaker_wait=budget)
    assert patient.transport is client.transport
    assert patient.breaker is client.breaker
    async with client:
        assert patient.is_connected
        emulator.emulator.faults.add("GET", WORKSPACES, status=503, times=2)
        for _ in range(2):
            with pytest.raises(AnythingLLMServerError):
                await client.list_workspaces()
        with pytest.raises(AnythingLLMCircuitOpenError):
            await client.list_workspaces()  # the client itself still fails at once
        assert await patient.list_workspaces() == []
    assert not patient.is_connected
    assert 0 < budget.spent <= 0.05


def test_a_budget_must_be_seconds() -> None:
    for bad in (-1, float("nan"), "10", True):
        with pytest.raises(ValueError, match="budget"):
            BreakerWait(bad)  # type: ignore[arg-type]


async def test_a_closed_or_ready_breaker_needs_no_wait() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10, clock=clock)
    budget = BreakerWait(5, sleep=no_sleep)
    assert await budget.wait(breaker, "GET /x") == 0.0
    breaker.acquire().failure("503")
    assert await budget.wait(breaker, "GET /x") is None  # 10 s > 5 s
    clock.now += 10
    assert await budget.wait(breaker, "GET /x") == 0.0  # a probe may go now
    assert budget.spent == 0
