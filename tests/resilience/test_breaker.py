"""The circuit breaker's state machine, driven directly with a fake clock (no network here;
the over-HTTP acceptance tests are in test_resilience_acceptance.py)."""

from __future__ import annotations

import logging
from dataclasses import FrozenInstanceError

import pytest

from anythingllm_bridge.errors import AnythingLLMCircuitOpenError
from anythingllm_bridge.resilience import BreakerEvent, CircuitBreaker, CircuitState
from support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, events: list[BreakerEvent] | None = None, **kwargs: float) -> CircuitBreaker:
    on_change = events.append if events is not None else None
    return CircuitBreaker(
        failure_threshold=int(kwargs.get("failure_threshold", 3)),
        recovery_timeout=kwargs.get("recovery_timeout", 30.0),
        clock=clock,
        on_change=on_change,
    )


def fail(breaker: CircuitBreaker, times: int, reason: str = "503") -> None:
    for _ in range(times):
        breaker.acquire().failure(reason)


def test_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_count == 2
    fail(breaker, 1, "timeout")
    assert breaker.snapshot().state is CircuitState.OPEN
    assert breaker.last_failure is not None
    assert breaker.last_failure.reason == "timeout"
    with pytest.raises(AnythingLLMCircuitOpenError) as info:
        breaker.acquire(method="GET", path="/v1/workspaces", trace_id="t1")
    assert info.value.retry_in == 30.0
    assert info.value.trace_id == "t1"
    assert "next probe in 30.0 s" in str(info.value)
    assert "timeout" in str(info.value)


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    breaker.acquire().success()
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_count == 2


def test_retry_in_counts_down_with_the_clock(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 12.5
    assert breaker.retry_in == pytest.approx(17.5)
    assert breaker.snapshot().retry_in == pytest.approx(17.5)
    clock.now += 100
    assert breaker.retry_in == 0.0


def test_half_open_lets_exactly_one_probe_through(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 30
    probe = breaker.acquire()
    assert probe.is_probe
    assert breaker.state is CircuitState.HALF_OPEN
    for _ in range(19):
        with pytest.raises(AnythingLLMCircuitOpenError, match="probe") as info:
            breaker.acquire()
        assert info.value.retry_in == 0.0
    probe.success()
    assert breaker.snapshot().state is CircuitState.CLOSED
    assert breaker.failure_count == 0
    breaker.acquire().success()


def test_probe_failure_reopens_for_another_recovery_timeout(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 30
    breaker.acquire().failure("still 503")
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_in == 30.0
    with pytest.raises(AnythingLLMCircuitOpenError):
        breaker.acquire()


def test_a_released_probe_lets_the_next_caller_probe(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 30
    breaker.acquire().release()  # cancelled probe: neither success nor failure
    assert breaker.state is CircuitState.HALF_OPEN
    second = breaker.acquire()
    assert second.is_probe


def test_release_is_neither_success_nor_failure(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    for _ in range(10):
        breaker.acquire().release()
    assert breaker.failure_count == 2
    assert breaker.state is CircuitState.CLOSED


def test_a_permit_settles_once(clock: FakeClock) -> None:
    breaker = make(clock)
    permit = breaker.acquire()
    permit.failure("x")
    permit.failure("x")
    permit.success()
    permit.release()
    assert breaker.failure_count == 1


def test_late_verdicts_from_before_a_state_change_are_ignored(clock: FakeClock) -> None:
    breaker = make(clock)
    early = [breaker.acquire() for _ in range(5)]
    for permit in early[:3]:
        permit.failure("503")
    assert breaker.state is CircuitState.OPEN
    early[3].success()  # an in-flight call from before the opening does not close it
    early[4].failure("503")  # ... nor does a late failure push the probe time back
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_in == 30.0
    assert breaker.failure_count == 3


def test_recheck_rejects_a_permit_given_before_the_breaker_opened(clock: FakeClock) -> None:
    breaker = make(clock)
    waiting = breaker.acquire()
    fail(breaker, 3)
    with pytest.raises(AnythingLLMCircuitOpenError):
        waiting.recheck(method="GET", path="/v1/x")
    fresh = make(clock)
    permit = fresh.acquire()
    permit.recheck()  # unchanged: fine
    permit.success()


def test_events_go_to_the_hook_and_the_log(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="anythingllm_bridge")
    events: list[BreakerEvent] = []
    breaker = make(clock, events)
    fail(breaker, 3, "503 down")
    clock.now += 30
    breaker.acquire().success()
    assert [(e.old_state, e.new_state) for e in events] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]
    assert events[0].failure_count == 3
    assert "503 down" in events[0].reason
    assert events[0].retry_in == 30.0
    with pytest.raises(FrozenInstanceError):
        events[0].reason = "changed"  # type: ignore[misc]
    messages = [r.getMessage() for r in caplog.records]
    assert any("opened" in m and "503 down" in m for m in messages)
    assert any("half_open -> closed" in m for m in messages)
    assert caplog.records[0].levelno == logging.WARNING


def test_a_broken_hook_does_not_break_the_breaker(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    def hook(event: BreakerEvent) -> None:
        raise RuntimeError("hook bug")

    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=5, clock=clock, on_change=hook)
    breaker.acquire().failure("x")
    assert breaker.state is CircuitState.OPEN
    assert "on_change hook raised" in caplog.text


def test_snapshot_is_frozen_and_readable(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3, "connection refused")
    snap = breaker.snapshot()
    assert snap.state is CircuitState.OPEN
    assert snap.failure_count == 3
    assert snap.failure_threshold == 3
    assert snap.recovery_timeout == 30.0
    as_dict = snap.as_dict()
    assert as_dict["state"] == "open"
    assert as_dict["last_failure"]["reason"] == "connection refused"
    with pytest.raises(FrozenInstanceError):
        snap.failure_count = 0  # type: ignore[misc]


def test_instances_are_independent(clock: FakeClock) -> None:
    one, two = make(clock), make(clock)
    fail(one, 3)
    assert one.state is CircuitState.OPEN
    assert two.state is CircuitState.CLOSED


def test_reset_closes(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_count == 0


@pytest.mark.parametrize(("threshold", "recovery"), [(0, 1.0), (1.5, 1.0), (True, 1.0), (1, -1.0)])
def test_bad_settings_are_refused(threshold: object, recovery: float) -> None:
    with pytest.raises(ValueError, match=r"failure_threshold|recovery_timeout"):
        CircuitBreaker(failure_threshold=threshold, recovery_timeout=recovery)  # type: ignore[arg-type]
