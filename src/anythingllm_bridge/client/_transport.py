"""The single request path of the client: every call to AnythingLLM goes through :class:`Transport`.

Per attempt, in this order: the circuit breaker's guard, the concurrency limit, the timeouts, the
trace id header, the request, the error mapping (:mod:`._errors`), logging. Around the attempts:
the retry loop, asking :mod:`anythingllm_bridge.resilience.retry` whether and how long to wait.
Resource code says method, path and body, and declares what is particular to its call: whether
sending it twice is harmless (``idempotent``; by default GET, HEAD, OPTIONS, PUT and DELETE are,
POST is not) and what it names (``subject``, for the server's not-found answers).

Timeouts: see :class:`ClientConfig`. A call first waits for one of the client's slots (one
transport talks to one host, so at most ``min(max_concurrency, max_connections_per_host)`` calls
are in flight, and a call holding a slot never waits for the connection pool); no timeout runs
while it waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json as jsonlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import hdrs

from anythingllm_bridge.client._errors import Expect, Subject, abort_error, interpret_response
from anythingllm_bridge.client._sse import SSEDecodeError, SSEDecoder, decode_all
from anythingllm_bridge.client_config import ClientConfig, normalise_url
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMSessionError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
    ConfigurationError,
)
from anythingllm_bridge.resilience.breaker import BreakerEvent, CircuitBreaker
from anythingllm_bridge.resilience.retry import describe, retry_delay, should_retry
from anythingllm_bridge.resilience.transient import is_transient
from anythingllm_bridge.tracing import _current as _current_trace
from anythingllm_bridge.tracing import current_trace_id, get_logger, new_trace_id

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["ApiResponse", "ClientConfig", "Transport"]

logger = get_logger(__name__)
_current_task = asyncio.current_task

_USER_AGENT = "anythingllm-bridge/0.1"
# Node's keep-alive timeout is 5 s: stop reusing idle connections before the server drops them.
_KEEPALIVE_TIMEOUT = 4.0
# Bodies up to asyncio's write-buffer high-water mark are handed to the socket without waiting, so
# such a request is sent as soon as it has a connection; larger ones keep a read timeout that
# starts after the body is sent (ClientConfig).
_SMALL_BODY = 64 * 1024
# Sending these twice ends in the same state as sending them once.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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
class _Failure:
    error: AnythingLLMError
    sent: bool  # False only when the request certainly never left


@dataclass(slots=True)
class _OpenStream:
    response: aiohttp.ClientResponse  # holds a concurrency slot until released
    attempts: int = 1


class _Slots:
    """At most ``size`` holders at once; waiters are served first come, first served.

    Like ``asyncio.Semaphore``, except that taking a free slot is a plain call (its ``acquire`` is
    a coroutine even then) — the common case on the request path. A release hands the slot
    straight to the oldest waiter, so no newcomer can overtake it.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self._free:  # waiters queue only while nothing is free
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a slot (after :meth:`try_take` said no)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as it was cancelled: pass it on
            raise  # a cancelled waiter stays queued, done; release() skips it

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class _Deadlines:
    """The deadlines of the plain-request attempts in flight, each ``span`` seconds after its start.

    Equal spans expire in start order, so the attempts form a queue (a dict keeps insertion order)
    and one timer, set for the oldest, serves them all — instead of the two timers aiohttp would
    schedule and cancel per request (total, and a read timeout re-armed on every chunk). An
    attempt is keyed by its task (a task runs one attempt of a transport at a time). When the
    timer fires, each attempt past its deadline is marked expired and its task cancelled; the
    attempt turns that cancellation into a timeout, like ``asyncio.timeout`` does.
    """

    __slots__ = ("_expired", "_loop", "_queue", "_span", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, span: float) -> None:
        self._loop = loop
        self._span = span
        self._queue: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def start(self, task: asyncio.Task[Any]) -> None:
        when = self._loop.time() + self._span
        self._queue[task] = when
        if self._timer is None:
            self._timer = self._loop.call_at(when, self._expire)

    def stop(self, task: asyncio.Task[Any]) -> bool:
        """Forget the attempt; True when its deadline passed (its task was cancelled for it)."""
        if self._queue.pop(task, None) is not None:
            return False
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None  # a timer left for an attempt that ended early just finds a later one
        now = self._loop.time()
        queue = self._queue
        while queue:
            task = next(iter(queue))
            when = queue[task]
            if when > now:
                self._timer = self._loop.call_at(when, self._expire)
                return
            del queue[task]
            self._expired.add(task)
            task.cancel()


class Transport:
    """The one path every request takes. Open with :meth:`open`, close with :meth:`close`.

    ``sleep`` is awaited between retries (inject a recorder in tests); ``clock`` drives the breaker's
    recovery timeout; ``rng`` the backoff jitter; ``on_breaker_change`` receives each breaker event.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr | None,
        config: ClientConfig | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_breaker_change: Callable[[BreakerEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config if config is not None else ClientConfig()
        self.base_url = normalise_url(base_url, "base_url")
        self._api = self.base_url + "/api"
        self._session_headers = {"User-Agent": _USER_AGENT, "Accept": "application/json, text/event-stream"}
        key = api_key if api_key is None or isinstance(api_key, str) else api_key.get_secret_value()
        if key is not None:
            if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key.strip()):
                raise ConfigurationError("the API key must be a non-empty string without spaces")
            self._session_headers["Authorization"] = f"Bearer {key.strip()}"
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self.breaker = CircuitBreaker(
            failure_threshold=self.config.failure_threshold,
            recovery_timeout=self.config.recovery_timeout,
            clock=clock,
            on_change=on_breaker_change,
        )
        cfg = self.config
        # plain requests: aiohttp only limits connecting, the attempt's deadline is ours (_Deadlines)
        self._plain_timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout)
        self._deadline = min(cfg.read_timeout, cfg.timeout)
        self._deadline_knob = "read_timeout" if cfg.read_timeout <= cfg.timeout else "timeout"
        self._body_timeout = aiohttp.ClientTimeout(
            total=cfg.timeout, sock_connect=cfg.connect_timeout, sock_read=cfg.read_timeout
        )
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=cfg.connect_timeout, sock_read=cfg.read_timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._slots: _Slots | None = None
        self._deadlines: _Deadlines | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, open={self.is_open})"

    # ------------------------------------------------------------------ session

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def open(self) -> None:
        """Create the HTTP session (idempotent)."""
        if self.is_open:
            return
        cfg = self.config
        connector = aiohttp.TCPConnector(
            limit=max(100, cfg.max_connections_per_host),
            limit_per_host=cfg.max_connections_per_host,
            keepalive_timeout=_KEEPALIVE_TIMEOUT,
            ssl=self._ssl_context(),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._session_headers,
            timeout=self._body_timeout,
            raise_for_status=False,
        )
        # aiohttp silently re-sends an idempotent request once when a pooled connection drops; the
        # retry loop below decides (and logs, and counts) every repeat, so switch that off.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        self._session = session
        # every call goes to the same host, so calls beyond the connection limit would only queue
        # in aiohttp's pool (where timeouts would run and the breaker is not rechecked): wait here
        self._slots = _Slots(min(cfg.max_concurrency, cfg.max_connections_per_host))
        self._deadlines = _Deadlines(asyncio.get_running_loop(), self._deadline)

    async def close(self) -> None:
        session, self._session = self._session, None
        if self._deadlines is not None:
            self._deadlines.close()
        if session is not None:
            await session.close()

    def _ssl_context(self) -> ssl.SSLContext | bool:
        cfg = self.config
        if not cfg.verify_ssl:
            if self.base_url.startswith("https://"):
                logger.warning(
                    "TLS certificate verification is off (verify_ssl=False): the identity of %s is not "
                    "checked; prefer ca_bundle for a private CA",
                    self.base_url,
                )
            return False
        if cfg.ca_bundle is None:
            return True
        bundle = Path(cfg.ca_bundle)
        if not bundle.is_file():
            raise ConfigurationError(f"ca_bundle {str(bundle)!r} is not a readable file")
        try:
            return ssl.create_default_context(cafile=str(bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"ca_bundle {str(bundle)!r} is not a PEM certificate file: {exc}"
            ) from None

    def _require_open(self, method: str, path: str) -> tuple[aiohttp.ClientSession, _Slots]:
        if self._session is None or self._session.closed or self._slots is None:
            raise AnythingLLMSessionError(
                "the client is not connected: use `async with client:` or `await client.connect()` first",
                method=method,
                path=path,
            )
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', relative to <base>/api, got {path!r}")
        return self._session, self._slots

    # ------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        expect: Expect = "json",
        idempotent: bool | None = None,
        subject: Subject | None = None,
    ) -> ApiResponse:
        """Send one call (with retries) and return its answer, or raise the mapped error.

        ``path`` is relative to ``<base>/api``; ``json`` or ``form`` (a factory: a fresh form per
        attempt) is the body; ``expect`` what a success must look like (``"json"``, ``"text"``,
        ``"any"``). ``idempotent``: sending the call twice is harmless, so it may be retried after
        its request was sent (default: by the HTTP method). ``subject``: what the call names, so the
        server's ways of saying it does not exist raise ``AnythingLLMNotFoundError`` naming it.
        """
        method = method.upper()
        if self._session is None or path[:1] != "/":
            self._require_open(method, path)  # raises (a closed session is caught per attempt)
        if json is not None and form is not None:
            raise ValueError("give either json or form, not both")
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        tid = _current_trace.get()
        if tid is not None:
            result = await self._call(
                method, path, tid, json, params, form, expect, idempotent, subject, stream=False
            )
        else:  # a generated id is also the context's while the call runs (breaker logs carry it)
            tid = new_trace_id()
            token = _current_trace.set(tid)
            try:
                result = await self._call(
                    method, path, tid, json, params, form, expect, idempotent, subject, stream=False
                )
            finally:
                _current_trace.reset(token)
        assert isinstance(result, ApiResponse)
        return result

    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        subject: Subject | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield each server-sent event's JSON object as it arrives.

        An error answer before the stream starts raises its mapped error (retried like any call);
        an ``abort`` event raises AnythingLLMChatError (or NotFound); ``read_timeout`` without data
        raises AnythingLLMTimeoutError; a connection broken mid-stream raises AnythingLLMStreamError.
        Whether the stream was complete is the caller's business. Close the iterator (``aclosing``)
        when stopping early, so the connection and the concurrency slot are given back at once.
        For the breaker, a stream succeeds when its event stream starts (status 200); what happens
        later in the stream is the chat's outcome, not the server's health.
        """
        method = method.upper()
        _, slots = self._require_open(method, path)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        tid = current_trace_id() or new_trace_id()
        result = await self._call(
            method, path, tid, json, None, None, "json", idempotent, subject, stream=True
        )
        where: dict[str, Any] = {"method": method, "path": path, "trace_id": tid}
        if isinstance(result, ApiResponse):  # a 200 that was not an event stream, read whole
            events = result.data if isinstance(result.data, list) else [result.data]
            for event in events:
                yield event
            return
        response = result.response
        decoder = SSEDecoder()
        try:
            try:
                async for chunk in response.content.iter_any():
                    for event in decoder.feed(chunk):
                        if event.get("type") == "abort":
                            raise abort_error(event, status=response.status, **where)
                        yield event
                for event in decoder.close():
                    if event.get("type") == "abort":
                        raise abort_error(event, status=response.status, **where)
                    yield event
            except SSEDecodeError as exc:
                raise AnythingLLMStreamError(
                    f"the event stream is broken: {exc} (starts {exc.raw[:60]!r})",
                    status=response.status,
                    content_type=response.content_type,
                    attempts=result.attempts,
                    **where,
                ) from None
            except TimeoutError as exc:  # sock_read: nothing arrived for read_timeout seconds
                raise AnythingLLMTimeoutError(
                    f"no data on the event stream for {self.config.read_timeout:g} s (read_timeout)",
                    attempts=result.attempts,
                    **where,
                ) from exc
            except aiohttp.ClientError as exc:
                raise AnythingLLMStreamError(
                    f"the connection broke in the middle of the event stream ({type(exc).__name__})",
                    status=response.status,
                    content_type=response.content_type,
                    attempts=result.attempts,
                    **where,
                ) from exc
        finally:
            response.close()
            slots.release()

    # ------------------------------------------------------------------ the retry loop

    async def _call(
        self,
        method: str,
        path: str,
        tid: str,
        json: Any,
        params: Mapping[str, str | int] | None,
        form: Callable[[], aiohttp.FormData] | None,
        expect: Expect,
        idempotent: bool,
        subject: Subject | None,
        *,
        stream: bool,
    ) -> ApiResponse | _OpenStream:
        """The retry loop with each attempt written inline (one coroutine frame on the hot path)."""
        body: bytes | None = None
        if json is None:
            headers = {"X-Request-ID": tid}
        else:
            body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            headers = {"X-Request-ID": tid, "Content-Type": "application/json"}
        url = self._api + path
        plain = False
        if stream:
            timeout = self._stream_timeout
        elif form is not None or (body is not None and len(body) > _SMALL_BODY):
            timeout = self._body_timeout
        else:
            timeout = self._plain_timeout
            plain = True
        debug = logger.isEnabledFor(logging.DEBUG)
        for attempt in count(1):
            session, slots = self._session, self._slots
            if session is None or slots is None or session.closed:
                session, slots = self._require_open(method, path)  # raises
            # 1. the breaker's guard
            try:
                permit = self.breaker.acquire()
            except AnythingLLMCircuitOpenError as exc:
                exc.method, exc.path, exc.trace_id, exc.attempts = method, path, tid, attempt
                raise
            handed_over = False
            try:
                # 2. the concurrency limit
                if not slots.try_take():  # we wait for a slot: the breaker may open meanwhile
                    await slots.take()
                    try:
                        permit.recheck(method=method, path=path, trace_id=tid, attempts=attempt)
                    except BaseException:
                        slots.release()
                        raise
                started = time.perf_counter() if debug else 0.0
                try:
                    # 3-5. timeouts, trace id header, the request
                    outcome: ApiResponse | _OpenStream | _Failure
                    deadlines = self._deadlines if plain else None
                    task = _current_task() if deadlines is not None else None
                    if task is not None and deadlines is not None:
                        cancelling = task.cancelling()
                        deadlines.start(task)
                    try:
                        response = await session.request(
                            method,
                            url,
                            data=form() if form is not None else body,
                            headers=headers,
                            params=params,
                            allow_redirects=False,
                            timeout=timeout,
                        )
                    except aiohttp.ClientSSLError as exc:  # configuration, not a transient failure
                        raise AnythingLLMConnectionError(
                            f"TLS with {self.base_url} failed ({exc}); check verify_ssl / ca_bundle",
                            method=method,
                            path=path,
                            trace_id=tid,
                        ) from exc
                    except aiohttp.InvalidURL as exc:
                        raise AnythingLLMError(
                            f"invalid URL {url!r}", method=method, path=path, trace_id=tid
                        ) from exc
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        outcome = self._connection_failure(exc, before_answer=True)
                    except asyncio.CancelledError:
                        if task is None or deadlines is None or not deadlines.stop(task):
                            raise
                        if task.uncancel() > cancelling:  # cancelled from outside as well
                            raise
                        task = None
                        outcome = self._deadline_failure()
                    else:
                        try:
                            if (
                                stream
                                and response.status == 200
                                and response.content_type == "text/event-stream"
                            ):
                                permit.success()
                                handed_over = True
                                return _OpenStream(response, attempt)
                            raw = await response.read()
                        except (aiohttp.ClientError, TimeoutError) as exc:
                            response.close()
                            outcome = self._connection_failure(exc, before_answer=False)
                        except asyncio.CancelledError:
                            response.close()
                            if task is None or deadlines is None or not deadlines.stop(task):
                                raise
                            if task.uncancel() > cancelling:
                                raise
                            task = None
                            outcome = self._deadline_failure()
                        except BaseException:
                            response.close()
                            raise
                        else:
                            response.release()
                            # 6. error mapping
                            outcome = self._interpret(
                                response, raw, method, path, tid, expect, subject, stream
                            )
                    finally:
                        if task is not None and deadlines is not None and deadlines.stop(task):
                            task.uncancel()  # it expired, yet the answer came: the answer stands
                    if isinstance(outcome, _Failure) and is_transient(outcome.error):
                        permit.failure(describe(outcome.error))
                    else:
                        permit.success()
                    # 7. logging
                    if debug:
                        result = describe(outcome.error) if isinstance(outcome, _Failure) else "ok"
                        logger.debug(
                            "%s %s attempt %d: %s in %.1f ms",
                            method,
                            path,
                            attempt,
                            result,
                            (time.perf_counter() - started) * 1000,
                            extra={"trace_id": tid, "attempt": attempt},
                        )
                finally:
                    if not handed_over:
                        slots.release()
            finally:
                permit.release()  # no verdict given (cancelled, caller-side error): neither
            if not isinstance(outcome, _Failure):
                if attempt > 1:
                    outcome = dataclasses.replace(outcome, attempts=attempt)
                return outcome
            await self._sleep(self._retry_wait(outcome, method, path, tid, attempt, idempotent))
        raise AssertionError("unreachable")  # pragma: no cover

    def _deadline_failure(self) -> _Failure:
        message = f"no complete answer within {self._deadline:g} s ({self._deadline_knob})"
        return _Failure(AnythingLLMTimeoutError(message), sent=True)

    def _retry_wait(
        self, failure: _Failure, method: str, path: str, tid: str, attempt: int, idempotent: bool
    ) -> float:
        """The wait before the next attempt (logged), or raise the failure's error (final)."""
        cfg = self.config
        error = failure.error
        error.method, error.path, error.trace_id, error.attempts = method, path, tid, attempt
        reason = describe(error)
        wait = None
        if attempt <= cfg.max_retries and should_retry(error, idempotent=idempotent, sent=failure.sent):
            wait = retry_delay(
                error, attempt, base_delay=cfg.base_delay, max_delay=cfg.max_delay, rng=self._rng
            )
            if wait is None:
                asked = error.retry_after if isinstance(error, AnythingLLMAPIError) else None
                error.message += (
                    f"; the server asked to wait {asked:g} s, more than max_delay ({cfg.max_delay:g} s), "
                    "so the call was not retried"
                )
        extra = {"trace_id": tid, "attempt": attempt, "reason": reason}
        if wait is None:
            if failure.sent and not idempotent and isinstance(error, AnythingLLMConnectionError):
                logger.warning(
                    "%s %s: no answer after sending (%s); not retried, the outcome is unknown",
                    method,
                    path,
                    reason,
                    extra=extra,
                )
                raise self._outcome_unknown(error) from error
            if attempt > 1:
                logger.warning(
                    "%s %s failed after %d attempts: %s", method, path, attempt, reason, extra=extra
                )
            raise error
        logger.warning(
            "%s %s attempt %d/%d failed: %s; retrying in %.2f s",
            method,
            path,
            attempt,
            cfg.max_retries + 1,
            reason,
            wait,
            extra={**extra, "wait": wait},
        )
        return wait

    @staticmethod
    def _outcome_unknown(error: AnythingLLMError) -> AnythingLLMOutcomeUnknownError:
        return AnythingLLMOutcomeUnknownError(
            f"the outcome is unknown: the request was sent but no answer came back ({error.message}); "
            "it may or may not have been processed, so it was not retried — check the server before "
            "sending it again",
            method=error.method,
            path=error.path,
            trace_id=error.trace_id,
            attempts=error.attempts,
        )

    @staticmethod
    def _interpret(
        response: aiohttp.ClientResponse,
        raw: bytes,
        method: str,
        path: str,
        tid: str,
        expect: Expect,
        subject: Subject | None,
        stream: bool,
    ) -> ApiResponse | _Failure:
        status = response.status
        headers = response.headers
        content_type, charset = _content_type(headers.get(hdrs.CONTENT_TYPE, ""))
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
            trace_id=tid,
            expect=expect,
            subject=subject,
        )
        if error is not None:
            return _Failure(error, sent=True)
        if stream:
            try:
                data = decode_all(text) if expect == "any" else [data]
            except SSEDecodeError as exc:
                broken = AnythingLLMStreamError(f"the event stream is broken: {exc}", status=status)
                return _Failure(broken, sent=True)
        return ApiResponse(status, content_type, headers, data, tid)

    def _connection_failure(self, exc: BaseException, *, before_answer: bool) -> _Failure:
        cfg = self.config
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _Failure(
                AnythingLLMTimeoutError(
                    f"could not connect to {self.base_url} within {cfg.connect_timeout:g} s (connect_timeout)"
                ),
                sent=False,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            message = f"cannot connect to {self.base_url}: {exc.strerror or exc}"
            return _Failure(AnythingLLMConnectionError(message), sent=False)
        if isinstance(exc, aiohttp.SocketTimeoutError):
            message = f"no data from the server for {cfg.read_timeout:g} s (read_timeout)"
            return _Failure(AnythingLLMTimeoutError(message), sent=True)
        if isinstance(exc, TimeoutError):
            message = f"no complete answer within {cfg.timeout:g} s (timeout)"
            return _Failure(AnythingLLMTimeoutError(message), sent=True)
        if isinstance(exc, aiohttp.ClientPayloadError) or not before_answer:
            message = "the connection broke while the answer was being read"
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            message = "the server closed the connection without answering"
        else:
            message = f"connection error: {type(exc).__name__}: {exc}"
        return _Failure(AnythingLLMConnectionError(message), sent=True)


@functools.lru_cache(maxsize=32)  # a server sends the same few values over and over
def _content_type(header: str) -> tuple[str, str | None]:
    """The media type (lower case, without parameters) and the charset of a Content-Type header
    ("" and None when there is none)."""
    mime, charset = header, None
    if ";" in header:
        mime, _, params = header.partition(";")
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"') or None
                break
    return mime.strip().lower(), charset


def _decode(raw: bytes, charset: str | None) -> str:
    """The body as text. An unknown charset (``charset=nonsense``) is read as UTF-8: never raises."""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")
