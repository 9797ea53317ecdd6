"""Every exception anythingllm-bridge raises, in one tree.

::

    AnythingLLMBridgeError                      root of everything this package raises
    ├── ConfigurationError                      bad or missing settings (also a ``ValueError``)
    ├── AnythingLLMError                        talking to an AnythingLLM server
    │   ├── AnythingLLMConnectionError          no usable answer: refused, reset, DNS, TLS
    │   │   ├── AnythingLLMTimeoutError         connect / read / total / stream-idle timeout
    │   │   └── AnythingLLMOutcomeUnknownError  a non-idempotent request may have reached the server
    │   ├── AnythingLLMCircuitOpenError         the breaker is open; nothing was sent
    │   ├── AnythingLLMSessionError             a call outside ``async with client`` / ``connect()``
    │   ├── AnythingLLMProtocolError            HTML or other non-JSON where JSON was due; broken SSE
    │   │   └── AnythingLLMStreamError          a stream ended before its closing event
    │   ├── AnythingLLMEmbeddingError           documents missing from a workspace after embedding
    │   └── AnythingLLMAPIError                 the server answered with an error (status, body, ...)
    │       ├── AnythingLLMAuthenticationError  403 "No valid api key found."
    │       ├── AnythingLLMNotFoundError        {"workspace": []}, "Bad Request" for a missing slug, 404s
    │       ├── AnythingLLMValidationError      400 / 422 with the server's message
    │       ├── AnythingLLMRateLimitError       429 (``retry_after``)
    │       ├── AnythingLLMServerError          5xx
    │       └── AnythingLLMChatError            a chat answer of ``type: "abort"`` (200 or 400)
    ├── StorageError                            local or S3 storage
    │   ├── StorageFileNotFoundError            (also a ``FileNotFoundError``)
    │   ├── StorageKeyError                     a key that is unsafe or malformed
    │   ├── StoragePermissionError              (also a ``PermissionError``)
    │   └── StorageConfigError                  missing bucket, bad credentials, unknown storage type
    ├── FileValidationError                     a file that failed validation (also a ``ValueError``)
    └── IngestError                             the ingestion pipeline could not proceed

Errors never carry the API key: messages are built from method, path, status and the server's
own text, and the request headers are never stored.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnythingLLMAPIError",
    "AnythingLLMAuthenticationError",
    "AnythingLLMBridgeError",
    "AnythingLLMChatError",
    "AnythingLLMCircuitOpenError",
    "AnythingLLMConnectionError",
    "AnythingLLMEmbeddingError",
    "AnythingLLMError",
    "AnythingLLMNotFoundError",
    "AnythingLLMOutcomeUnknownError",
    "AnythingLLMProtocolError",
    "AnythingLLMRateLimitError",
    "AnythingLLMServerError",
    "AnythingLLMSessionError",
    "AnythingLLMStreamError",
    "AnythingLLMTimeoutError",
    "AnythingLLMValidationError",
    "ConfigurationError",
    "FileValidationError",
    "IngestError",
    "StorageConfigError",
    "StorageError",
    "StorageFileNotFoundError",
    "StorageKeyError",
    "StoragePermissionError",
]


class AnythingLLMBridgeError(Exception):
    """Root of every exception raised by anythingllm-bridge."""


class ConfigurationError(AnythingLLMBridgeError, ValueError):
    """Settings are missing or invalid (also a ``ValueError``: a bad value, like a bad argument)."""


# --------------------------------------------------------------------------- AnythingLLM


class AnythingLLMError(AnythingLLMBridgeError):
    """Something went wrong while talking to AnythingLLM.

    ``method``, ``path`` and ``trace_id`` say which call; ``attempts`` how many tries were made.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        trace_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.trace_id = trace_id
        self.attempts = attempts

    def __str__(self) -> str:
        parts = [self.message]
        if self.method and self.path:
            parts.append(f"[{self.method} {self.path}]")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        if self.trace_id:
            parts.append(f"(trace id {self.trace_id})")
        return " ".join(parts)


class AnythingLLMConnectionError(AnythingLLMError):
    """No usable answer arrived: the connection was refused, reset, or failed TLS."""


class AnythingLLMTimeoutError(AnythingLLMConnectionError):
    """A connect, read, total or stream-idle timeout expired."""


class AnythingLLMOutcomeUnknownError(AnythingLLMConnectionError):
    """A request that creates something was sent, but no answer came: it may or may not have
    been processed, so it was not retried. Check the server's state before sending it again."""


class AnythingLLMCircuitOpenError(AnythingLLMError):
    """The client's circuit breaker is open: the call failed at once, nothing was sent.

    ``retry_in`` is the number of seconds until the breaker lets a probe through.
    """

    def __init__(self, message: str, *, retry_in: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_in = retry_in


class AnythingLLMSessionError(AnythingLLMError):
    """The client was used outside ``async with client:`` (or before ``connect()``)."""


class AnythingLLMProtocolError(AnythingLLMError):
    """The answer was not what the API promises (HTML instead of JSON, a broken event stream).

    Usually a wrong base URL (the web UI answers unknown routes with HTML) or a server too old
    for the endpoint.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        content_type: str | None = None,
        body: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.content_type = content_type
        self.body = body


class AnythingLLMStreamError(AnythingLLMProtocolError):
    """An event stream ended (or was cut) before its closing event."""


class AnythingLLMEmbeddingError(AnythingLLMError):
    """Documents are not in the workspace after embedding, even after a repair attempt."""

    def __init__(self, message: str, *, workspace: str, missing: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.workspace = workspace
        self.missing = missing


class AnythingLLMAPIError(AnythingLLMError):
    """The server answered with an error.

    ``status`` is the HTTP status, ``body`` the decoded body (dict, list or text), and
    ``server_message`` the server's own words, wherever in the body it put them.
    ``retry_after`` is the wait the server asked for (``Retry-After``), in seconds, if it did.
    """

    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        server_message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.body = body
        self.server_message = server_message


class AnythingLLMAuthenticationError(AnythingLLMAPIError):
    """The API key was missing or not accepted (403 ``No valid api key found.``)."""


class AnythingLLMNotFoundError(AnythingLLMAPIError):
    """A workspace, thread, document or folder does not exist, however the server said so."""


class AnythingLLMValidationError(AnythingLLMAPIError):
    """The server refused the request's content (400 / 422)."""


class AnythingLLMRateLimitError(AnythingLLMAPIError):
    """429 Too Many Requests; ``retry_after`` is the wait the server asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AnythingLLMServerError(AnythingLLMAPIError):
    """The server failed (5xx)."""


class AnythingLLMChatError(AnythingLLMAPIError):
    """A chat answered with ``type: "abort"``: the server's error text is ``server_message``."""


# --------------------------------------------------------------------------- storage


class StorageError(AnythingLLMBridgeError):
    """A storage backend failed; ``key`` names the object when there is one."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StorageFileNotFoundError(StorageError, FileNotFoundError):
    """The key (or local source file) does not exist."""


class StorageKeyError(StorageError, ValueError):
    """The key is unsafe or malformed (``..``, absolute, control characters, ...)."""


class StoragePermissionError(StorageError, PermissionError):
    """The backend refused access."""


class StorageConfigError(StorageError, ConfigurationError):
    """Storage settings are missing or wrong (bucket, credentials, storage type)."""


# --------------------------------------------------------------------------- validation / ingest


class FileValidationError(AnythingLLMBridgeError, ValueError):
    """A file failed validation; ``path`` and ``reason`` say which and why."""

    def __init__(self, message: str, *, path: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason or message


class IngestError(AnythingLLMBridgeError):
    """The ingestion pipeline could not proceed (bad source, unreadable manifest, ...)."""


def os_reason(exc: OSError) -> str:
    """An OS error's reason as it reads inside a sentence (``permission denied``, ``no space left
    on device``): its ``strerror`` with a lower-case first letter, else its message. The one
    phrasing of file-system failures, for the sync's per-file reasons and the command line's
    error lines alike."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
