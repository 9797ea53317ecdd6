"""Waiting out an open circuit breaker within a budget of seconds.

A call refused by the open breaker was not sent, so it can simply be made again once the breaker
lets a probe through. A :class:`BreakerWait` is the permission to wait for that, shared by every
call that carries it (``client.with_options(breaker_wait=...)``): together they wait at most
``budget`` seconds. The transport asks it each time its breaker refuses such a call; when the
budget cannot cover the wait the call fails with ``AnythingLLMCircuitOpenError`` as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from anythingllm_bridge.resilience.breaker import CircuitBreaker, CircuitState

__all__ = ["PROBE_POLL", "BreakerWait"]

#: seconds between looks at a half-open breaker whose one probe is still in flight
PROBE_POLL = 0.05


class BreakerWait:
    """A budget of seconds that calls may spend, in all, waiting for an open breaker.

    ``sleep`` is what waits (the breaker runs on its own clock, so a sleep that does not really
    wait would only spin until the breaker recovers); ``on_wait(what, seconds)`` is told before
    each wait (e.g. for a progress display: "server unavailable, trying again in 12 s").

    ``on_retry(what, seconds, reason)`` is told, before the client's backoff between two attempts
    of a call carrying this object, why the attempt failed and how long the client waits before
    the next one (those waits do not spend the budget): with ``on_wait`` it lets a progress
    display say what a call is waiting for whenever it waits.

    ``on_refuse(retry_in)`` is told when a wait is refused because it would take more than is
    left, with the seconds the breaker still needs (e.g. for a run to say why it stopped).
    """

    def __init__(
        self,
        budget: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_wait: Callable[[str, float], None] | None = None,
        on_retry: Callable[[str, float, str], None] | None = None,
        on_refuse: Callable[[float], None] | None = None,
    ) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget >= 0:
            raise ValueError(f"the breaker wait budget must be a number of seconds >= 0, got {budget!r}")
        self.budget = float(budget)
        self.spent = 0.0
        self._sleep = sleep
        self._on_wait = on_wait
        self._on_retry = on_retry
        self._on_refuse = on_refuse
        self._gate: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"BreakerWait(budget={self.budget:g}, spent={self.spent:g})"

    @property
    def left(self) -> float:
        """Seconds of the budget not yet spent."""
        return max(0.0, self.budget - self.spent)

    def retrying(self, what: str, seconds: float, reason: str) -> None:
        """The transport is about to wait ``seconds`` before attempting ``what`` again, after a
        failure described by ``reason``: tell ``on_retry``."""
        if self._on_retry is not None:
            self._on_retry(what, seconds, reason)

    async def wait(self, breaker: CircuitBreaker, what: str) -> float | None:
        """Wait until ``breaker`` may let a call through; the seconds waited (charged to the
        budget), or ``None`` when that would take more than is left (nothing is waited then).

        One caller waits at a time; the others queue behind it and then find the breaker ready.
        """
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            state = breaker.state
            if state is CircuitState.CLOSED:
                return 0.0
            wait = breaker.retry_in if state is CircuitState.OPEN else PROBE_POLL
            if wait <= 0:
                return 0.0
            if self.spent + wait > self.budget:
                if self._on_refuse is not None:
                    self._on_refuse(breaker.retry_in)
                return None
            self.spent += wait
            if self._on_wait is not None:
                self._on_wait(what, wait)
            await self._sleep(wait)
            return wait
