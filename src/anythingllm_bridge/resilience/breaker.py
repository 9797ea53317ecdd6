"""A small async-friendly circuit breaker, one per client (never process-global).

States: **closed** (calls go through; consecutive failures are counted), **open** (every call
fails at once with :class:`~anythingllm_bridge.errors.AnythingLLMCircuitOpenError`, which carries
``retry_in``), **half-open** (after ``recovery_timeout``: exactly one probe goes through, other
callers are rejected until it settles; success closes, failure re-opens).

The caller decides what a failure is and reports it on the permit it got from :meth:`acquire`::

    permit = breaker.acquire()          # raises AnythingLLMCircuitOpenError when open
    try:
        answer = await send()
        permit.failure("503") if transient(answer) else permit.success()
    finally:
        permit.release()                # no verdict (cancelled, outer timeout): neither

A permit settles once; a verdict given after the breaker changed state (a call that was already
in flight when the breaker opened) is ignored. Everything here runs without awaiting, so it is
atomic on one event loop. Written here rather than taken from ``circuitbreaker`` because that
package resets the count on any other exception (cancellation included), lets every caller
through in half-open, and does not check the state in ``call_async``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anythingllm_bridge.errors import AnythingLLMCircuitOpenError
from anythingllm_bridge.tracing import get_logger

__all__ = [
    "BreakerEvent",
    "BreakerFailure",
    "BreakerPermit",
    "BreakerSnapshot",
    "CircuitBreaker",
    "CircuitState",
]

logger = get_logger(__name__)


class CircuitState(enum.StrEnum):
    """Closed: calls go through. Open: calls are refused. Half-open: one probe call goes through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerFailure:
    """The last failure the breaker counted: when (UTC) and why."""

    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent reading of the breaker (what ``health_check()`` reports)."""

    name: str
    state: CircuitState
    failure_count: int
    failure_threshold: int
    recovery_timeout: float
    last_failure: BreakerFailure | None
    retry_in: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values."""
        last = self.last_failure
        return {
            "name": self.name,
            "state": self.state.value,
            "failure_count": self.failure_count,
            "failure_threshold": self.failure_threshold,
            "recovery_timeout": self.recovery_timeout,
            "last_failure": None if last is None else {"at": last.at.isoformat(), "reason": last.reason},
            "retry_in": self.retry_in,
        }


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """One state change, handed to the ``on_change`` hook."""

    name: str
    old_state: CircuitState
    new_state: CircuitState
    failure_count: int
    reason: str
    retry_in: float
    at: datetime


class BreakerPermit:
    """Leave to make one call; settle it with :meth:`success`, :meth:`failure` or :meth:`release`."""

    __slots__ = ("_breaker", "_generation", "_probe", "_settled")

    def __init__(self, breaker: CircuitBreaker, generation: int, probe: bool) -> None:
        self._breaker = breaker
        self._generation = generation
        self._probe = probe
        self._settled = False

    @property
    def is_probe(self) -> bool:
        """True for the single call let through in half-open state."""
        return self._probe

    def success(self) -> None:
        """The call succeeded (a probe's success closes the breaker)."""
        if not self._settled:
            self._settled = True
            self._breaker._on_success(self)

    def failure(self, reason: str) -> None:
        """The call failed in a way that counts toward opening the breaker; ``reason`` says how."""
        if not self._settled:
            self._settled = True
            self._breaker._on_failure(self, reason)

    def release(self) -> None:
        """Neither success nor failure (cancelled, abandoned, or a caller-side error)."""
        if not self._settled:
            self._settled = True
            self._breaker._on_release(self)

    def recheck(self, **context: Any) -> None:
        """Fail like :meth:`CircuitBreaker.acquire` if the breaker opened since this permit was given
        (for a caller that waited, e.g. for a concurrency slot, between acquiring and sending)."""
        breaker = self._breaker
        if self._generation != breaker._generation and breaker._state is not CircuitState.CLOSED:
            self._settled = True
            if self._probe:
                breaker._probe_out = False
            raise breaker._open_error(**context)


class CircuitBreaker:
    """Per-instance circuit breaker. ``clock`` (monotonic seconds) is injectable for tests."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = 60.0,
        name: str = "anythingllm",
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerEvent], None] | None = None,
    ) -> None:
        if (
            isinstance(failure_threshold, bool)
            or not isinstance(failure_threshold, int)
            or failure_threshold < 1
        ):
            raise ValueError(f"failure_threshold must be an integer >= 1, got {failure_threshold!r}")
        if not recovery_timeout >= 0:
            raise ValueError(f"recovery_timeout must be >= 0 seconds, got {recovery_timeout!r}")
        self.name = name
        self._threshold = failure_threshold
        self._recovery = float(recovery_timeout)
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._generation = 0  # bumped on every state change
        self._failures = 0
        self._last_failure: BreakerFailure | None = None
        self._opened_at = 0.0
        self._probe_out = False

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(name={self.name!r}, state={self._state.value}, "
            f"failures={self._failures}/{self._threshold})"
        )

    # ------------------------------------------------------------------ reading

    @property
    def state(self) -> CircuitState:
        """Closed, open or half-open."""
        return self._state

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    @property
    def failure_threshold(self) -> int:
        """Consecutive failures that open the breaker."""
        return self._threshold

    @property
    def recovery_timeout(self) -> float:
        """Seconds the breaker stays open before one probe may go through."""
        return self._recovery

    @property
    def last_failure(self) -> BreakerFailure | None:
        """The most recent counted failure (when and why), or ``None``."""
        return self._last_failure

    @property
    def retry_in(self) -> float:
        """Seconds until a probe may go through (0 unless open)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._recovery - self._clock())

    def snapshot(self) -> BreakerSnapshot:
        """State, counts, last failure and time to the next probe, read at one moment."""
        return BreakerSnapshot(
            name=self.name,
            state=self._state,
            failure_count=self._failures,
            failure_threshold=self._threshold,
            recovery_timeout=self._recovery,
            last_failure=self._last_failure,
            retry_in=self.retry_in,
        )

    # ------------------------------------------------------------------ using

    def acquire(self, **context: Any) -> BreakerPermit:
        """A permit for one call, or :class:`AnythingLLMCircuitOpenError` (``context`` — method,
        path, trace_id — goes onto that error)."""
        state = self._state
        if state is CircuitState.CLOSED:
            return BreakerPermit(self, self._generation, False)
        if state is CircuitState.OPEN:
            if self.retry_in > 0:
                raise self._open_error(**context)
            self._change(CircuitState.HALF_OPEN, "recovery timeout elapsed; letting one probe through")
        if self._probe_out:
            raise self._open_error(**context)
        self._probe_out = True
        return BreakerPermit(self, self._generation, True)

    def reset(self) -> None:
        """Close the breaker and forget failures (an operator's override)."""
        self._probe_out = False
        self._failures = 0
        if self._state is not CircuitState.CLOSED:
            self._change(CircuitState.CLOSED, "reset")

    # ------------------------------------------------------------------ internals

    def _open_error(self, **context: Any) -> AnythingLLMCircuitOpenError:
        last = f" (last: {self._last_failure.reason})" if self._last_failure else ""
        if self._state is CircuitState.OPEN:
            retry_in = self.retry_in
            message = (
                f"circuit breaker {self.name!r} is open after {self._failures} consecutive failures{last}; "
                f"next probe in {retry_in:.1f} s; nothing was sent"
            )
        else:
            retry_in = 0.0
            message = (
                f"circuit breaker {self.name!r} is half-open and its one probe request is still in "
                f"flight{last}; nothing was sent"
            )
        return AnythingLLMCircuitOpenError(message, retry_in=retry_in, **context)

    def _on_success(self, permit: BreakerPermit) -> None:
        if permit._generation != self._generation:
            return
        self._failures = 0
        if self._state is CircuitState.HALF_OPEN:
            self._probe_out = False
            self._change(CircuitState.CLOSED, "probe succeeded")

    def _on_failure(self, permit: BreakerPermit, reason: str) -> None:
        if permit._generation != self._generation:
            return
        self._failures += 1
        self._last_failure = BreakerFailure(datetime.now(UTC), reason)
        if self._state is CircuitState.HALF_OPEN:
            self._probe_out = False
            self._opened_at = self._clock()
            self._change(CircuitState.OPEN, f"probe failed: {reason}")
        elif self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._change(CircuitState.OPEN, f"{self._failures} consecutive failures, last: {reason}")

    def _on_release(self, permit: BreakerPermit) -> None:
        if permit._probe and permit._generation == self._generation:
            self._probe_out = False  # the next caller becomes the probe

    def _change(self, new: CircuitState, reason: str) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        event = BreakerEvent(
            name=self.name,
            old_state=old,
            new_state=new,
            failure_count=self._failures,
            reason=reason,
            retry_in=self.retry_in,
            at=datetime.now(UTC),
        )
        if new is CircuitState.OPEN:
            logger.warning(
                "circuit breaker %r opened: %s; next probe in %.1f s",
                self.name,
                reason,
                event.retry_in,
                extra={"breaker_event": event},
            )
        else:
            logger.info(
                "circuit breaker %r %s -> %s: %s",
                self.name,
                old.value,
                new.value,
                reason,
                extra={"breaker_event": event},
            )
        if self._on_change is not None:
            try:
                self._on_change(event)
            except Exception:  # a broken hook must not break the call that triggered it
                logger.exception("circuit breaker %r: the on_change hook raised", self.name)
