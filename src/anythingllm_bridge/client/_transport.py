"""The single request path of the client: every call to AnythingLLM goes through :class:`Transport`.

The transport is the policy around each attempt (:mod:`._attempt` sends one): the trace id, the
circuit breaker's guard, the concurrency limit, the retry loop with backoff, the call's overall
deadline (``ClientConfig.timeout``) and logging. What is particular to a call is declared by the
resource method that makes it: whether it may be sent twice (``idempotent``; by default GET, HEAD,
OPTIONS, PUT and DELETE are, POST is not), what it names (``subject``, for not-found answers) and
whether it waits out an open breaker (``breaker_wait``).

A call first waits for one of the client's slots (one transport talks to one host, so at most
``min(max_concurrency, max_connections_per_host)`` calls are in flight, and a call holding a slot
never waits for the connection pool); the breaker is checked again after such a wait. The call's
timeout covers that wait too: a caller's deadline is the whole call, queued or not. A stream keeps
its slot until it is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as jsonlib
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from anythingllm_bridge.client._attempt import (
    ApiResponse,
    Connector,
    Failure,
    OpenStream,
    Sender,
)
from anythingllm_bridge.client._errors import Expect, Subject, abort_error
from anythingllm_bridge.client._sse import SSEDecodeError, SSEDecoder
from anythingllm_bridge.client_config import ClientConfig, normalise_url
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMRateLimitError,
    AnythingLLMSessionError,
    AnythingLLMStreamError,
    AnythingLLMTimeoutError,
    ConfigurationError,
)
from anythingllm_bridge.resilience.breaker import BreakerEvent, CircuitBreaker
from anythingllm_bridge.resilience.retry import describe, retry_delay, should_retry
from anythingllm_bridge.resilience.transient import is_transient
from anythingllm_bridge.tracing import _current as _current_trace
from anythingllm_bridge.tracing import current_trace_id, get_logger, new_trace_id, trace_id

if TYPE_CHECKING:
    from pydantic import SecretStr

    from anythingllm_bridge.resilience.breaker_wait import BreakerWait

__all__ = ["ApiResponse", "ClientConfig", "Transport"]

logger = get_logger(__name__)

_USER_AGENT = "anythingllm-bridge/0.1"
# Node's keep-alive timeout is 5 s: stop reusing idle connections before the server drops them.
_KEEPALIVE_TIMEOUT = 4.0
# Bodies up to asyncio's write-buffer high-water mark are handed to the socket without waiting, so
# such a request is sent as soon as it has a connection; larger ones get read_timeout as the silence
# allowed once the body is sent (ClientConfig).
_SMALL_BODY = 64 * 1024
# Sending these twice ends in the same state as sending them once.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _counts_against_server(error: AnythingLLMError) -> bool:
    """Whether a failed attempt counts toward opening the breaker: a transient failure, except 429 —
    a server that answers 429 is up, and its ``Retry-After`` (not the breaker) governs the wait."""
    return is_transient(error) and not isinstance(error, AnythingLLMRateLimitError)


class Transport:
    """The one path every request takes. Open with :meth:`open`, close with :meth:`close`.

    ``sleep`` is awaited between retries (inject a recorder in tests); ``clock`` (monotonic seconds)
    drives the breaker's recovery timeout and the calls' deadlines; ``rng`` the backoff jitter;
    ``on_breaker_change`` receives each breaker event.
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
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.breaker = CircuitBreaker(
            failure_threshold=self.config.failure_threshold,
            recovery_timeout=self.config.recovery_timeout,
            clock=clock,
            on_change=on_breaker_change,
        )
        self._sender = Sender(self.base_url, self.config)
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, open={self.is_open})"

    # ------------------------------------------------------------------ session

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close` (the HTTP session exists and is not closed)."""
        return self._session is not None and not self._session.closed

    async def open(self) -> None:
        """Create the HTTP session (idempotent)."""
        if self.is_open:
            return
        cfg = self.config
        connector = Connector(
            limit=max(100, cfg.max_connections_per_host),
            limit_per_host=cfg.max_connections_per_host,
            keepalive_timeout=_KEEPALIVE_TIMEOUT,
            ssl=self._ssl_context(),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._session_headers,
            raise_for_status=False,
        )
        # aiohttp silently re-sends an idempotent request once when a pooled connection drops; the
        # retry loop below decides (and logs, and counts) every repeat, so switch that off.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        self._session = session
        # every call goes to the same host, so calls beyond the connection limit would only queue
        # in aiohttp's pool (where the breaker is not rechecked): they queue here instead
        self._slots = asyncio.Semaphore(cfg.calls_at_once)

    async def close(self) -> None:
        """Close the HTTP session (idempotent). Calls in flight fail with a connection error;
        calls still waiting for a slot with ``AnythingLLMSessionError`` (nothing was sent)."""
        session, self._session = self._session, None
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

    def _require_open(self, method: str, path: str) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
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
        breaker_wait: BreakerWait | None = None,
    ) -> ApiResponse:
        """Send one call (with retries) and return its answer, or raise the mapped error.

        ``path`` is relative to ``<base>/api``; ``json`` or ``form`` (a factory: a fresh form per
        attempt) is the body; ``expect`` what a success must look like (``"json"``, ``"text"``,
        ``"any"``). ``idempotent``: sending the call twice is harmless, so it may be retried after
        its request was sent (default: by the HTTP method). ``subject``: what the call names, so the
        server's ways of saying it does not exist raise ``AnythingLLMNotFoundError`` naming it.
        ``breaker_wait``: when the breaker is open, wait it out within that budget instead of
        failing with ``AnythingLLMCircuitOpenError``; it is also told of each backoff wait
        between attempts (``BreakerWait.retrying``), for a progress display.
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
                method, path, tid, json, params, form, expect, idempotent, subject, breaker_wait, False
            )
        else:  # a generated id is also the context's while the call runs (breaker logs carry it)
            tid = new_trace_id()
            token = _current_trace.set(tid)
            try:
                result = await self._call(
                    method, path, tid, json, params, form, expect, idempotent, subject, breaker_wait, False
                )
            finally:
                _current_trace.reset(token)
        assert isinstance(result, ApiResponse)
        return result

    async def probe(self, method: str, path: str) -> ApiResponse:
        """One attempt of a JSON call, outside the resilience policy: no retries, and the circuit
        breaker neither consulted nor told (a health check must see the server as it is now, and
        its failure is not the application's). Bounded by the call's ``timeout``."""
        method = method.upper()
        session, slots = self._require_open(method, path)
        tid = current_trace_id() or new_trace_id()
        if slots.locked():
            await self._wait_for_slot(slots, self.config.timeout, method, path, tid, 1)
        else:
            await slots.acquire()
        try:
            outcome = await self._sender.send(
                session,
                method,
                self._api + path,
                data=None,
                headers={"X-Request-ID": tid},
                params=None,
                plain=True,
                stream=False,
                within=self.config.timeout,
                deadline=True,
                expect="json",
                subject=None,
                path=path,
                trace_id=tid,
            )
        finally:
            slots.release()
        if isinstance(outcome, Failure):
            error = outcome.error
            error.method, error.path, error.trace_id, error.attempts = method, path, tid, 1
            raise error
        assert isinstance(outcome, ApiResponse)
        return outcome

    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        subject: Subject | None = None,
        breaker_wait: BreakerWait | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield each server-sent event's JSON object as it arrives.

        An error answer before the stream starts raises its mapped error (retried like any call;
        the call's ``timeout`` bounds getting the stream started); an ``abort`` event raises
        AnythingLLMChatError (or NotFound); ``read_timeout`` without data raises
        AnythingLLMTimeoutError; a connection broken mid-stream raises AnythingLLMStreamError.
        Whether the stream was complete is the caller's business. Close the iterator (``aclosing``)
        when stopping early, so the connection and the concurrency slot are given back at once.
        For the breaker, a stream succeeds when its event stream starts (status 200); what happens
        later in the stream is the chat's outcome, not the server's health.
        """
        method = method.upper()
        self._require_open(method, path)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        # the caller's id, or a generated one that is the context's while the stream starts
        # (breaker logs carry it); request() inlines the same for one frame less per call
        with trace_id(current_trace_id()) as tid:
            result = await self._call(
                method, path, tid, json, None, None, "json", idempotent, subject, breaker_wait, True
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
            if result.slot is not None:
                result.slot.release()

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
        breaker_wait: BreakerWait | None,
        stream: bool,
    ) -> ApiResponse | OpenStream:
        """Attempts until one succeeds, or the failure is final: not worth a retry, retries spent,
        or the call's deadline reached (or a backoff wait would pass it)."""
        body: bytes | None = None
        if json is None:
            headers = {"X-Request-ID": tid}
        else:
            body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            headers = {"X-Request-ID": tid, "Content-Type": "application/json"}
        plain = not stream and form is None and (body is None or len(body) <= _SMALL_BODY)
        url = self._api + path
        cfg, clock, breaker = self.config, self._clock, self.breaker
        read_timeout = cfg.read_timeout
        debug = logger.isEnabledFor(logging.DEBUG)
        deadline = clock() + cfg.timeout
        attempt = 1
        lost_answer = False  # an attempt was sent and its answer never came
        while True:
            session, slots = self._session, self._slots
            if session is None or slots is None or session.closed:
                session, slots = self._require_open(method, path)  # raises
            # the breaker's guard
            try:
                permit = breaker.acquire()
            except AnythingLLMCircuitOpenError as exc:
                deadline += await self._wait_out(exc, breaker_wait, method, path, tid, attempt)
                continue
            handed_over = False
            try:
                # the concurrency limit, within the call's deadline
                if slots.locked():
                    await self._wait_for_slot(slots, deadline - clock(), method, path, tid, attempt)
                else:
                    await slots.acquire()  # free: returns at once
                if self._session is not session:  # disconnected (or reconnected) meanwhile
                    slots.release()
                    if not self.is_open:
                        raise AnythingLLMSessionError(
                            "the client disconnected while this call waited for a free connection "
                            "slot; nothing was sent",
                            method=method,
                            path=path,
                            trace_id=tid,
                            attempts=attempt,
                        )
                    continue  # take a slot of the new session
                # the breaker may have opened while this call waited
                try:
                    permit.recheck(method=method, path=path, trace_id=tid, attempts=attempt)
                except AnythingLLMCircuitOpenError as exc:
                    slots.release()
                    deadline += await self._wait_out(exc, breaker_wait, method, path, tid, attempt)
                    continue
                try:
                    # one attempt, with what is left of the deadline
                    left = deadline - clock()
                    started = time.perf_counter() if debug else 0.0
                    outcome: ApiResponse | OpenStream | Failure
                    if left <= 0:  # a backoff sleep overran the deadline: nothing is sent
                        outcome = self._sender.timed_out(0.0, deadline=True, sent=False)
                    else:
                        by_deadline = not (plain and read_timeout < left)
                        outcome = await self._sender.send(
                            session,
                            method,
                            url,
                            data=form() if form is not None else body,
                            headers=headers,
                            params=params,
                            plain=plain,
                            stream=stream,
                            within=left if by_deadline else read_timeout,
                            deadline=by_deadline,
                            expect=expect,
                            subject=subject,
                            path=path,
                            trace_id=tid,
                        )
                        if isinstance(outcome, Failure) and _counts_against_server(outcome.error):
                            permit.failure(describe(outcome.error))
                        else:
                            permit.success()
                            if isinstance(outcome, OpenStream):
                                outcome.slot, handed_over = slots, True
                    if debug:
                        result = describe(outcome.error) if isinstance(outcome, Failure) else "ok"
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
            if not isinstance(outcome, Failure):
                if attempt > 1:
                    outcome = dataclasses.replace(outcome, attempts=attempt)
                return outcome
            if lost_answer and method == "DELETE" and isinstance(outcome.error, AnythingLLMNotFoundError):
                # the attempt whose answer was lost deleted it: the call did what it was asked
                logger.info(
                    "%s %s attempt %d: not found, so the earlier attempt whose answer was lost "
                    "deleted it; done",
                    method,
                    path,
                    attempt,
                    extra={"trace_id": tid, "attempt": attempt},
                )
                return ApiResponse(outcome.error.status or 404, "", {}, None, tid, attempt)
            lost_answer = lost_answer or (
                outcome.sent and isinstance(outcome.error, AnythingLLMConnectionError)
            )
            wait = self._retry_wait(outcome, method, path, tid, attempt, idempotent, deadline)
            if breaker_wait is not None:
                breaker_wait.retrying(f"{method} {path}", wait, describe(outcome.error))
            await self._sleep(wait)
            attempt += 1

    async def _wait_for_slot(
        self, slots: asyncio.Semaphore, left: float, method: str, path: str, tid: str, attempt: int
    ) -> None:
        """Take a slot within ``left`` seconds, or raise AnythingLLMTimeoutError naming the limits
        that made the call wait (the breaker is not told: the server was never asked)."""
        try:
            async with asyncio.timeout(max(left, 0.0)):
                await slots.acquire()
        except TimeoutError:
            cfg = self.config
            raise AnythingLLMTimeoutError(
                f"waited for a free connection slot until the call's timeout ({cfg.timeout:g} s) ran "
                f"out; all are busy (max_concurrency={cfg.max_concurrency}, "
                f"max_connections_per_host={cfg.max_connections_per_host}): raise them, or make "
                "fewer calls at once (a stream holds its slot until it is closed); nothing was sent",
                method=method,
                path=path,
                trace_id=tid,
                attempts=attempt,
            ) from None

    async def _wait_out(
        self,
        refusal: AnythingLLMCircuitOpenError,
        breaker_wait: BreakerWait | None,
        method: str,
        path: str,
        tid: str,
        attempt: int,
    ) -> float:
        """The seconds waited for the open breaker (within ``breaker_wait``), or raise its refusal."""
        refusal.method, refusal.path, refusal.trace_id, refusal.attempts = method, path, tid, attempt
        if breaker_wait is None:
            raise refusal
        waited = await breaker_wait.wait(self.breaker, f"{method} {path}")
        if waited is None:  # the budget is spent, or what is left would not cover this wait
            budget, left = breaker_wait.budget, breaker_wait.left
            refusal.message += (
                f"; the {budget:g} s allowed for waiting out the breaker are spent"
                if left < 1
                else f"; waiting {refusal.retry_in:.0f} s for it would pass the {budget:g} s allowed for "
                f"waiting out the breaker ({left:.0f} s left)"
            )
            raise refusal
        return waited

    def _retry_wait(
        self,
        failure: Failure,
        method: str,
        path: str,
        tid: str,
        attempt: int,
        idempotent: bool,
        deadline: float,
    ) -> float:
        """The wait before the next attempt (logged), or raise the failure's error (final)."""
        cfg = self.config
        error = failure.error
        error.method, error.path, error.trace_id, error.attempts = method, path, tid, attempt
        reason = describe(error)
        wait = None
        if (
            not failure.final
            and attempt <= cfg.max_retries
            and should_retry(error, idempotent=idempotent, sent=failure.sent)
        ):
            wait = retry_delay(
                error, attempt, base_delay=cfg.base_delay, max_delay=cfg.max_delay, rng=self._rng
            )
            if wait is None:
                asked = error.retry_after if isinstance(error, AnythingLLMAPIError) else None
                error.message += (
                    f"; the server asked to wait {asked:g} s, more than max_delay ({cfg.max_delay:g} s), "
                    "so the call was not retried"
                )
            elif self._clock() + wait >= deadline:
                error.message += (
                    f"; not retried: waiting {wait:.3g} s would pass the call's timeout ({cfg.timeout:g} s)"
                )
                wait = None
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
