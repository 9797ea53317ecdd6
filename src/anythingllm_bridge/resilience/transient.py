"""The one answer to "may another try, later, succeed?" — asked by the circuit breaker (what counts as
a failure of the server, 429 aside: a server answering it is up), by the retry loop (together with
whether repeating the call is safe) and by the ingestion pipeline (which files get another pass).

AnythingLLM answers 500 both when something broke and when it refuses a request in its own words
(``{"success": false, "error": "File extension .exe not supported for parsing ..."}``, ``{"success":
false, "message": "Folder by that name already exists"}``): the first may go away, the second is the
same answer every time. So a 500 in the application's error envelope is not transient, except the
collector's "Document processing API is not online", which is.
"""

from __future__ import annotations

from typing import Any

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMEmbeddingError,
)

__all__ = ["NOT_ONLINE_MARKER", "is_not_online", "is_refusal_envelope", "is_transient"]

#: Answered (500) by uploads when the collector is down or overloaded; the server says the document
#: "will not be processed", so the request had no effect and may be sent again even if it creates.
NOT_ONLINE_MARKER = "document processing api is not online"

# the server timed out waiting for the request, asks us to slow down, or a gateway in front of it
# could not reach it (or timed out)
_TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})


def is_not_online(error: BaseException) -> bool:
    """The server's "Document processing API is not online" 500."""
    if not isinstance(error, AnythingLLMAPIError) or error.status != 500:
        return False
    said = error.server_message or ""
    return NOT_ONLINE_MARKER in said.lower()


def is_refusal_envelope(body: Any) -> bool:
    """``body`` is AnythingLLM's own JSON error: ``{"success": false, "error"|"message": "<words>"}``
    (a proxy's HTML page, a crash's plain text or an empty body is not)."""
    if not isinstance(body, dict) or body.get("success") is not False:
        return False
    return any(isinstance(body.get(key), str) and body[key].strip() for key in ("error", "message"))


def is_transient(error: BaseException) -> bool:
    """True when the failure says nothing against the request itself, so that another try, later,
    may succeed: connection trouble and timeouts (an unknown outcome included), an open circuit
    breaker, 408, 429, 502, 503, 504, any other 5xx that is not the application's JSON refusal
    (:func:`is_refusal_envelope`) — and the "Document processing API is not online" refusal —, and
    documents the server left out of a workspace. False for the rest: other 4xx, the application's
    500 refusals ("Folder by that name already exists", "File extension .exe not supported"),
    answers that are not what the API promises, and anything that is not an AnythingLLM error (a
    bad file, storage, a bug)."""
    if isinstance(error, AnythingLLMAPIError):
        status = error.status
        if status in _TRANSIENT_STATUSES:
            return True
        if status >= 500:
            return not is_refusal_envelope(error.body) or is_not_online(error)
        return False
    return isinstance(
        error, AnythingLLMConnectionError | AnythingLLMCircuitOpenError | AnythingLLMEmbeddingError
    )
