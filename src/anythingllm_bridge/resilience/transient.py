"""The one answer to "may another try, later, succeed?" — asked by the circuit breaker (what counts as
a failure of the server), by the retry loop (together with whether repeating the call is safe) and
by the ingestion pipeline (which files get another pass)."""

from __future__ import annotations

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMEmbeddingError,
)

__all__ = ["is_transient"]

_TRANSIENT_4XX = frozenset({408, 429})  # the server timed out waiting, or asks us to slow down


def is_transient(error: BaseException) -> bool:
    """True when the failure says nothing against the request itself, so that another try, later,
    may succeed: connection trouble and timeouts (an unknown outcome included), an open circuit
    breaker, 408, 429 and every 5xx, documents the server left out of a workspace. False for the
    rest: other 4xx, answers that are not what the API promises, and anything that is not an
    AnythingLLM error (a bad file, storage, a bug)."""
    if isinstance(error, AnythingLLMAPIError):
        status = error.status
        return status >= 500 or status in _TRANSIENT_4XX
    return isinstance(
        error, AnythingLLMConnectionError | AnythingLLMCircuitOpenError | AnythingLLMEmbeddingError
    )
