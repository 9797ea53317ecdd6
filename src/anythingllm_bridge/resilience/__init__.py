"""Resilience building blocks: the per-client circuit breaker, the one answer to "is this failure
transient?", the retry policy, and waiting out an open breaker within a budget."""

from anythingllm_bridge.resilience.breaker import (
    BreakerEvent,
    BreakerFailure,
    BreakerPermit,
    BreakerSnapshot,
    CircuitBreaker,
    CircuitState,
)
from anythingllm_bridge.resilience.breaker_wait import BreakerWait
from anythingllm_bridge.resilience.retry import backoff, retry_delay, should_retry
from anythingllm_bridge.resilience.transient import is_transient

__all__ = [
    "BreakerEvent",
    "BreakerFailure",
    "BreakerPermit",
    "BreakerSnapshot",
    "BreakerWait",
    "CircuitBreaker",
    "CircuitState",
    "backoff",
    "is_transient",
    "retry_delay",
    "should_retry",
]
