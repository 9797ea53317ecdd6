"""Resilience building blocks: the per-client circuit breaker, the one answer to "is this failure
transient?" and the retry policy."""

from anythingllm_bridge.resilience.breaker import (
    BreakerEvent,
    BreakerFailure,
    BreakerPermit,
    BreakerSnapshot,
    CircuitBreaker,
    CircuitState,
)
from anythingllm_bridge.resilience.retry import backoff, retry_delay, should_retry
from anythingllm_bridge.resilience.transient import is_transient

__all__ = [
    "BreakerEvent",
    "BreakerFailure",
    "BreakerPermit",
    "BreakerSnapshot",
    "CircuitBreaker",
    "CircuitState",
    "backoff",
    "is_transient",
    "retry_delay",
    "should_retry",
]
