"""Expected failures as one line: what failed, why, and what to do about it; and the exit codes.

Exit codes: 0 success, 1 a failure (the server, a file, a setting), 2 a usage error (the command
line itself is wrong), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMBridgeError,
    AnythingLLMChatError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
    AnythingLLMValidationError,
    os_reason,
)

if TYPE_CHECKING:
    from anythingllm_bridge.client.models import HealthStatus
    from anythingllm_bridge.config import Settings

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_USAGE", "CliError", "describe", "explain", "one_line"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command line reports in one line (``error: <message>``) and exits with ``code``.

    ``usage_of`` names the command (``allm ask``) when the command line itself is wrong: the line
    then ends with where its help is.
    """

    def __init__(self, message: str, *, code: int = EXIT_FAILURE, usage_of: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.usage_of = usage_of

    def line(self) -> str:
        """The whole line, without the ``error:`` prefix."""
        if self.usage_of:
            return f"{one_line(self.message)} (see: {self.usage_of} --help)"
        return one_line(self.message)


def explain(exc: BaseException, conf: Settings | None) -> str:
    """The line for a command that failed with ``exc``, talking to the server of ``conf``.

    When the failure could mean the URL points at something that is not AnythingLLM (an odd error
    answer, a refused connection or TLS handshake), ``/api/ping`` is asked once first, and its answer
    names the real problem: ``... is not an AnythingLLM server``, ``... does not speak TLS``.
    """
    if conf is not None and _worth_a_ping(exc):
        status = _health_of(conf)
        if isinstance(exc, AnythingLLMConnectionError) and status.reachable and not status.answering:
            return status.reason or f"{conf.anythingllm_url} does not answer as AnythingLLM"
        if status.not_anythingllm:
            return f"{status.reason}; check ANYTHINGLLM_URL or --url"
    url = conf.anythingllm_url if conf else "the server"
    return describe(exc, url=url, key_set=bool(conf and conf.anythingllm_api_key))


def _worth_a_ping(exc: BaseException) -> bool:
    """Could ``exc`` (or what it wraps: sync reports a missing workspace as its own error) come from a
    server that is not AnythingLLM? A timeout, an answer lost after sending, a 429 or a refused chat
    could not: asking again would only repeat them."""
    for error in (exc, exc.__cause__):
        if isinstance(
            error,
            AnythingLLMTimeoutError
            | AnythingLLMOutcomeUnknownError
            | AnythingLLMRateLimitError
            | AnythingLLMChatError,
        ):
            return False
        if isinstance(error, AnythingLLMConnectionError | AnythingLLMAPIError | AnythingLLMProtocolError):
            return True
    return False


def _health_of(conf: Settings) -> HealthStatus:
    """One health check of ``conf``'s server, without retries."""
    import asyncio

    from anythingllm_bridge.client import create_anythingllm_client

    async def check() -> HealthStatus:
        return await create_anythingllm_client(conf, max_retries=0).health_check()

    return asyncio.run(check())


def describe(exc: BaseException, *, url: str, key_set: bool) -> str:
    """One line for an expected exception (no traceback, no class name, never the API key)."""
    trace_id = getattr(exc, "trace_id", None)
    trace = f" (trace id {trace_id})" if trace_id else ""
    if isinstance(exc, AnythingLLMAuthenticationError):
        if not key_set:
            return f"{url} needs an API key: set ANYTHINGLLM_API_KEY or pass --api-key"
        return (
            f"{url} refused the API key ({_server_words(exc) or 'No valid api key found.'}): "
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
        return f"the server failed ({exc.status}): {_server_words(exc)}; try again later{trace}"
    if isinstance(exc, AnythingLLMAPIError):
        return f"{_server_words(exc)}{trace}"
    if isinstance(exc, AnythingLLMStreamError):
        return f"the answer stopped in the middle: the connection to {url} broke; ask again{trace}"
    if isinstance(exc, AnythingLLMProtocolError):
        return f"{_plain(exc)}; is {url} really an AnythingLLM server (check ANYTHINGLLM_URL)?{trace}"
    if isinstance(exc, OSError) and exc.filename is not None:  # a file that changed under us
        return f"{exc.filename}: {os_reason(exc)}; fix it (or move it away) and run again"
    if isinstance(exc, AnythingLLMBridgeError | ValueError | OSError):  # validation, ingest, storage...
        return _plain(exc)
    return f"unexpected failure: {_plain(exc)} (run again with --verbose to see where; please report it)"


def one_line(text: str) -> str:
    """``text`` on one line, whatever the server sent (newlines and runs of spaces collapsed)."""
    return " ".join(str(text).split())


def _server_words(exc: AnythingLLMAPIError) -> str:
    return one_line(exc.server_message or exc.message or str(exc))


def _plain(exc: BaseException) -> str:
    return one_line(getattr(exc, "message", None) or str(exc) or "no details")
