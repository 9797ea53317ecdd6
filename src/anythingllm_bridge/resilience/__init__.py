"""Resilience building blocks: the per-client circuit breaker and the retry policy."""

from anythingllm_bridge.resilience.breaker import (
    BreakerEvent,
    BreakerFailure,
    BreakerPermit,
    BreakerSnapshot,
    CircuitBreaker,
    CircuitState,
)
from anythingllm_bridge.resilience.retry import backoff, is_retry_safe, retry_delay, should_retry

__all__ = [
    "BreakerEvent",
    "BreakerFailure",
    "BreakerPermit",
    "BreakerSnapshot",
    "CircuitBreaker",
    "CircuitState",
    "backoff",
    "is_retry_safe",
    "retry_delay",
    "should_retry",
]
