"""Retry policy as pure functions: which calls may be repeated, which failures are worth it, how long
to wait. The transport's one retry loop asks these; nothing else decides.

* :func:`is_retry_safe` — the ONE place that knows which AnythingLLM calls can be sent twice
  without harm (reads, deletes, updates that set fields) and which create something (uploads, raw
  text, new workspace/thread, chats — a repeat would duplicate it).
* :func:`should_retry` — whether one failed attempt is worth another.
* :func:`backoff` — exponential backoff with full jitter.
* :func:`retry_delay` — the wait before the next attempt: the server's ``Retry-After`` when it is
  within ``max_delay``, else backoff; ``None`` means "do not wait that long: fail now".
"""

from __future__ import annotations

import random
import re

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMTimeoutError,
)

__all__ = [
    "NOT_ONLINE_MARKER",
    "backoff",
    "describe",
    "is_not_online",
    "is_retry_safe",
    "retry_delay",
    "should_retry",
]

_SEGMENT = r"[^/]+"
# POSTs that only read, or set fields to given values (sending them twice ends in the same state).
_SAFE_POSTS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"^/v1/workspace/{_SEGMENT}/vector-search$",
        rf"^/v1/workspace/{_SEGMENT}/update$",
        rf"^/v1/workspace/{_SEGMENT}/update-pin$",
        rf"^/v1/workspace/{_SEGMENT}/thread/{_SEGMENT}/update$",
        r"^/v1/openai/embeddings$",
    )
)
# Every DELETE of the API is idempotent too: a repeat finds the thing already gone.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: Answered (500) by uploads when the collector is down or overloaded; the server says the document
#: "will not be processed", so the request had no effect and may be sent again even if it creates.
NOT_ONLINE_MARKER = "document processing api is not online"

_ALWAYS_RETRIED = frozenset({429, 503})  # the server refused before doing anything
_RETRIED_WHEN_SAFE = frozenset({408, 502, 504})  # a proxy or the server gave up; it may have acted


def is_retry_safe(method: str, path: str) -> bool:
    """True when sending the call twice is harmless.

    GET/HEAD/OPTIONS/PUT and every DELETE are; of the POSTs only the read-only or field-setting
    ones (vector-search, workspace/thread update, update-pin, openai embeddings). Everything that
    creates — upload, upload/<folder>, upload-link, raw-text, workspace/new, thread/new, chat,
    stream-chat, thread chat, openai chat completions — and anything unknown is not.
    ``path`` is relative to ``<base>/api`` (a leading ``/api`` and a query string are ignored).
    """
    verb = method.upper()
    if verb in _SAFE_METHODS:
        return True
    if verb != "POST":
        return False
    route = path.split("?", 1)[0].rstrip("/")
    if route.startswith("/api/"):
        route = route[4:]
    return any(pattern.match(route) for pattern in _SAFE_POSTS)


def is_not_online(error: AnythingLLMError) -> bool:
    """The server's "Document processing API is not online" 500."""
    if not isinstance(error, AnythingLLMAPIError) or error.status != 500:
        return False
    said = error.server_message or ""
    return NOT_ONLINE_MARKER in said.lower()


def should_retry(error: AnythingLLMError, *, retry_safe: bool, sent: bool) -> bool:
    """Whether a failed attempt may be made again.

    ``sent`` is False only when the request certainly never left (the connection could not be
    made). Retried: connection failures before sending (any call); timeouts and broken
    connections after sending, 408, 502 and 504 (retry-safe calls only); 429 and 503 (any call:
    the server did nothing); the "Document processing API is not online" 500 (any call: the
    server says the document was not processed). Never: other 4xx and 5xx, protocol errors, an
    open breaker, an unknown outcome.
    """
    if isinstance(error, AnythingLLMCircuitOpenError | AnythingLLMOutcomeUnknownError):
        return False
    if isinstance(error, AnythingLLMConnectionError):  # timeouts included
        return not sent or retry_safe
    if isinstance(error, AnythingLLMAPIError):
        if error.status in _ALWAYS_RETRIED:
            return True
        if error.status in _RETRIED_WHEN_SAFE:
            return retry_safe
        return is_not_online(error)
    return False


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
