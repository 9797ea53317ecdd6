"""Retry policy as pure functions: whether a failed attempt may be made again, and how long to wait.
The transport's one retry loop asks these; nothing else decides.

* :func:`should_retry` — a transient failure (:func:`~anythingllm_bridge.resilience.transient.is_transient`)
  of a call that is safe to repeat after what happened: the call is idempotent (the resource method
  making it declares so), or the request never left, or the server refused it before acting.
* :func:`backoff` — exponential backoff with full jitter.
* :func:`retry_delay` — the wait before the next attempt: the server's ``Retry-After`` when it is
  within ``max_delay``, else backoff; ``None`` means "do not wait that long: fail now".
"""

from __future__ import annotations

import random

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMTimeoutError,
)
from anythingllm_bridge.resilience.transient import NOT_ONLINE_MARKER, is_not_online, is_transient

__all__ = [
    "NOT_ONLINE_MARKER",
    "backoff",
    "describe",
    "is_not_online",
    "refused_before_acting",
    "retry_delay",
    "should_retry",
]

_REFUSALS = frozenset({429, 503})  # the server refused before doing anything


def refused_before_acting(error: AnythingLLMError) -> bool:
    """An answer saying the request had no effect: 429, 503, or the "not online" 500."""
    return isinstance(error, AnythingLLMAPIError) and (error.status in _REFUSALS or is_not_online(error))


def should_retry(error: AnythingLLMError, *, idempotent: bool, sent: bool) -> bool:
    """Whether a failed attempt may be made again.

    ``idempotent``: sending the call twice is harmless (reads, deletes, updates that set fields).
    ``sent`` is False only when the request certainly never left (the connection could not be
    made). Retried: transient failures (:func:`is_transient`) of idempotent calls; of any call, a
    request that never left and an answer saying it had no effect (429, 503, the "not online" 500).
    Never: an open breaker (waited out, not retried) and an unknown outcome (final).
    """
    if isinstance(error, AnythingLLMCircuitOpenError | AnythingLLMOutcomeUnknownError):
        return False
    if not is_transient(error):
        return False
    if isinstance(error, AnythingLLMAPIError):  # an answer: the request certainly arrived
        return idempotent or refused_before_acting(error)
    return idempotent or not sent


def backoff(attempt: int, base_delay: float, max_delay: float, rng: random.Random) -> float:
    """Full jitter: a uniform wait in ``[0, min(max_delay, base_delay * 2**(attempt-1))]``.

    ``attempt`` is the number of the retry (1 for the first)."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    ceiling = min(max_delay, base_delay * 2.0 ** min(attempt - 1, 64))
    return rng.uniform(0.0, max(0.0, ceiling))


def retry_delay(
    error: AnythingLLMError,
    attempt: int,
    *,
    base_delay: float,
    max_delay: float,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before retry number ``attempt``; ``None`` when the server asked for a wait
    longer than ``max_delay`` (the call should fail now, the wait is on the error)."""
    asked = error.retry_after if isinstance(error, AnythingLLMAPIError) else None
    if asked is not None:
        return asked if asked <= max_delay else None
    return backoff(attempt, base_delay, max_delay, rng)


def describe(error: AnythingLLMError) -> str:
    """A short reason for logs and breaker records: ``503 server error``, ``timeout``, ..."""
    if isinstance(error, AnythingLLMAPIError):
        said = f": {error.server_message[:80]}" if error.server_message else ""
        return f"{error.status}{said}"
    if isinstance(error, AnythingLLMTimeoutError):
        return f"timeout: {error.message}"
    return error.message
