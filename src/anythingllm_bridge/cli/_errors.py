"""Expected failures as one line: what failed, why, and what to do about it."""

from __future__ import annotations

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMBridgeError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMTimeoutError,
    AnythingLLMValidationError,
)

__all__ = ["CliError", "describe"]


class CliError(Exception):
    """A failure the command line reports in one line and exits with ``code``."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def describe(exc: BaseException, *, url: str, key_set: bool) -> str:
    """One line for an expected exception (no traceback, never the API key)."""
    trace_id = getattr(exc, "trace_id", None)
    trace = f" (trace id {trace_id})" if trace_id else ""
    if isinstance(exc, AnythingLLMAuthenticationError):
        if not key_set:
            return f"{url} needs an API key: set ANYTHINGLLM_API_KEY or pass --api-key"
        return (
            f"{url} refused the API key ({exc.server_message or 'No valid api key found.'}): "
            "check ANYTHINGLLM_API_KEY or --api-key"
        )
    if isinstance(exc, AnythingLLMCircuitOpenError):
        return (
            f"not sent: the circuit breaker is open after repeated failures at {url}; "
            f"retry in {exc.retry_in:.0f} s"
        )
    if isinstance(exc, AnythingLLMOutcomeUnknownError):
        return f"the connection to {url} broke after sending (check before resending): {_plain(exc)}"
    if isinstance(exc, AnythingLLMTimeoutError):
        return f"{url} did not answer in time: {_plain(exc)}; raise ANYTHINGLLM_TIMEOUT or check the server"
    if isinstance(exc, AnythingLLMConnectionError):
        return (
            f"cannot reach AnythingLLM at {url}: {_plain(exc)}; "
            "is the server running? (set ANYTHINGLLM_URL or pass --url)"
        )
    if isinstance(exc, AnythingLLMNotFoundError):
        return f"{_plain(exc)}{trace}"
    if isinstance(exc, AnythingLLMRateLimitError):
        wait = f"; retry in {exc.retry_after:.0f} s" if exc.retry_after else ""
        return f"{url} is rate limiting requests{wait}{trace}"
    if isinstance(exc, AnythingLLMValidationError):
        return f"the server refused the request: {_server_words(exc)}{trace}"
    if isinstance(exc, AnythingLLMServerError):
        return f"the server failed ({exc.status}): {_server_words(exc)}{trace}"
    if isinstance(exc, AnythingLLMAPIError):
        return f"{_server_words(exc)}{trace}"
    if isinstance(exc, AnythingLLMProtocolError):
        return f"{_plain(exc)}; is {url} really an AnythingLLM server (check ANYTHINGLLM_URL)?{trace}"
    if isinstance(exc, AnythingLLMBridgeError | ValueError):  # validation, ingest, storage, settings...
        return _plain(exc)
    return f"{type(exc).__name__}: {_plain(exc)}"


def _server_words(exc: AnythingLLMAPIError) -> str:
    return exc.server_message or exc.message or str(exc)


def _plain(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())  # one line, whatever the server sent
