"""One attempt of one call: send the request, read the answer, and say what came of it — an
:class:`ApiResponse`, an :class:`OpenStream` (an event stream that has started), or a
:class:`Failure` (the mapped error, and whether the request may have reached the server).

An attempt waits for its answer at most ``within`` seconds (``asyncio.timeout``); aiohttp's socket
timeouts limit connecting and, for bodies that take long to send and for streams, silence. Errors
that are the caller's (TLS setup, a malformed URL) are raised; cancellation passes through. The
retry loop, the breaker and the concurrency limit are the transport's (:mod:`._transport`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import hdrs
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from anythingllm_bridge.client._errors import Expect, Subject, interpret_response, parse_content_type
from anythingllm_bridge.client._sse import SSEDecodeError, decode_all
from anythingllm_bridge.client_config import ClientConfig
from anythingllm_bridge.errors import (
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
)

__all__ = ["ApiResponse", "Connector", "Failure", "OpenStream", "Sender"]


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """One successful answer: ``data`` is the decoded JSON (or text, per ``expect``)."""

    status: int
    content_type: str
    headers: Mapping[str, str] = field(repr=False)
    data: Any = field(repr=False)
    trace_id: str
    attempts: int = 1


@dataclass(slots=True)
class Failure:
    """An attempt that failed: ``sent`` is False only when the request certainly never left;
    ``final`` when the call's deadline ended it (no attempt may follow)."""

    error: AnythingLLMError
    sent: bool
    final: bool = False


@dataclass(slots=True)
class OpenStream:
    """An event stream whose answer (200, ``text/event-stream``) has started; the caller reads it
    and closes it."""

    response: aiohttp.ClientResponse
    attempts: int = 1
    # the concurrency slot the stream holds until it is closed (set by the transport that took it:
    # the client may have reconnected since, so it is not necessarily the current one's)
    slot: asyncio.Semaphore | None = None


class _Progress:
    """How far one attempt got: ``connected`` once it had a connection to the server (before that,
    nothing of the request can have been sent)."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


# The attempt the current task is making (set by Sender.send around its request).
_attempt: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "anythingllm_bridge_attempt", default=None
)


class Connector(aiohttp.TCPConnector):
    """aiohttp's connector, telling the attempt in progress when it has its connection (new or
    pooled), so a deadline that ends the attempt before then is known to have sent nothing. (An
    ``aiohttp.TraceConfig`` would tell the same at several times the cost per request.)"""

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
    ) -> Connection:
        """aiohttp's ``connect``; the attempt in progress is then marked connected."""
        connection = await super().connect(req, traces, timeout)
        progress = _attempt.get()
        if progress is not None:
            progress.connected = True
        return connection


class Sender:
    """Sends attempts to one server with one client's timeouts (see ``ClientConfig``)."""

    __slots__ = ("_base_url", "_config", "_connect_only", "_with_silence")

    def __init__(self, base_url: str, config: ClientConfig) -> None:
        self._base_url = base_url
        self._config = config
        # A plain request's whole answer is bounded by the attempt's `within`; aiohttp only limits
        # connecting. A body that may take long to send, and a stream, may instead go read_timeout
        # without data (aiohttp's sock_read, re-armed on every chunk).
        self._connect_only = aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout)
        self._with_silence = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
        )

    async def send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        data: bytes | aiohttp.FormData | None,
        headers: dict[str, str],
        params: Mapping[str, str | int] | None,
        plain: bool,
        stream: bool,
        within: float,
        deadline: bool,
        expect: Expect,
        subject: Subject | None,
        path: str,
        trace_id: str,
    ) -> ApiResponse | OpenStream | Failure:
        """One attempt. ``plain``: a request without a slow body — its whole answer must come
        within ``within`` seconds; otherwise ``within`` bounds the answer (a stream: its start)
        and ``read_timeout`` the silences. ``deadline``: ``within`` is what is left of the call's
        timeout (so an attempt it ends is the last), not the attempt's ``read_timeout``."""
        timeout = self._connect_only if plain else self._with_silence
        answered = False
        progress = _Progress()
        token = _attempt.set(progress)
        try:
            async with asyncio.timeout(within) as timer:
                response = await session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    params=params,
                    allow_redirects=False,
                    timeout=timeout,
                )
                answered = True
                try:
                    if stream and response.status == 200 and response.content_type == "text/event-stream":
                        return OpenStream(response)
                    raw = await response.read()
                except BaseException:
                    response.close()
                    raise
        except aiohttp.ClientSSLError as exc:  # configuration, not a transient failure
            raise AnythingLLMConnectionError(
                f"TLS with {self._base_url} failed ({exc}); check verify_ssl / ca_bundle",
                method=method,
                path=path,
                trace_id=trace_id,
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise AnythingLLMError(
                f"invalid URL {url!r}", method=method, path=path, trace_id=trace_id
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            if timer.expired():
                connected = progress.connected
                return self.timed_out(within, deadline=deadline, sent=connected, connected=connected)
            return self._connection_failure(exc, answered=answered)
        finally:
            _attempt.reset(token)
        response.release()
        return _interpret(response, raw, method, path, trace_id, expect, subject, stream)

    def timed_out(
        self, within: float, *, deadline: bool, sent: bool = True, connected: bool = True
    ) -> Failure:
        """The failure of an attempt that had no complete answer within ``within`` seconds: the
        call's deadline (final) or the attempt's ``read_timeout``. ``connected``: False when it
        never had a connection (so nothing was sent)."""
        if not connected:
            limit = f"{self._config.timeout:g} s (timeout)" if deadline else f"{within:g} s (read_timeout)"
            message = f"could not connect to {self._base_url} within {limit}; nothing was sent"
            return Failure(AnythingLLMTimeoutError(message), sent=False, final=deadline)
        if deadline:
            message = (
                f"no complete answer within {self._config.timeout:g} s "
                "(timeout: the whole call, its retries included)"
            )
            return Failure(AnythingLLMTimeoutError(message), sent=sent, final=True)
        message = f"no complete answer within {within:g} s (read_timeout)"
        return Failure(AnythingLLMTimeoutError(message), sent=sent)

    def _connection_failure(self, exc: BaseException, *, answered: bool) -> Failure:
        cfg = self._config
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            message = (
                f"could not connect to {self._base_url} within {cfg.connect_timeout:g} s (connect_timeout)"
            )
            return Failure(AnythingLLMTimeoutError(message), sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            message = f"cannot connect to {self._base_url}: {exc.strerror or exc}"
            return Failure(AnythingLLMConnectionError(message), sent=False)
        if isinstance(exc, aiohttp.SocketTimeoutError):
            message = f"no data from the server for {cfg.read_timeout:g} s (read_timeout)"
            return Failure(AnythingLLMTimeoutError(message), sent=True)
        if isinstance(exc, aiohttp.ClientPayloadError) or answered:
            message = "the connection broke while the answer was being read"
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            message = "the server closed the connection without answering"
        else:
            message = f"connection error: {type(exc).__name__}: {exc}"
        return Failure(AnythingLLMConnectionError(message), sent=True)


def _interpret(
    response: aiohttp.ClientResponse,
    raw: bytes,
    method: str,
    path: str,
    trace_id: str,
    expect: Expect,
    subject: Subject | None,
    stream: bool,
) -> ApiResponse | Failure:
    status = response.status
    headers = response.headers
    content_type, charset = parse_content_type(headers.get(hdrs.CONTENT_TYPE, ""))
    text = _decode(raw, charset)
    if stream and status == 200 and text.lstrip().startswith("data:"):
        expect = "any"  # a stream route answered with event lines but not as an event stream
    data, error = interpret_response(
        status,
        content_type,
        headers,
        text,
        method=method,
        path=path,
        trace_id=trace_id,
        expect=expect,
        subject=subject,
    )
    if error is not None:
        return Failure(error, sent=True)
    if stream:
        try:
            data = decode_all(text) if expect == "any" else [data]
        except SSEDecodeError as exc:
            broken = AnythingLLMStreamError(f"the event stream is broken: {exc}", status=status)
            return Failure(broken, sent=True)
    return ApiResponse(status, content_type, headers, data, trace_id)


def _decode(raw: bytes, charset: str | None) -> str:
    """The body as text. An unknown charset (``charset=nonsense``) is read as UTF-8: never raises."""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")
