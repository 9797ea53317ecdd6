"""``AnythingLLMClient``: the resource mixins over one ``Transport``, plus session handling and
``health_check``."""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import functools
import os
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ParamSpec

from pydantic import SecretStr

from anythingllm_bridge.client._options import AnythingLLMConfig, client_options
from anythingllm_bridge.client._transport import Transport
from anythingllm_bridge.client.models import BreakerInfo, HealthStatus
from anythingllm_bridge.client.resources._base import KnownIds, json_object
from anythingllm_bridge.client.resources.chat import ChatMixin
from anythingllm_bridge.client.resources.openai import OpenAIMixin
from anythingllm_bridge.client.resources.system import SystemMixin
from anythingllm_bridge.client.resources.threads import ThreadsMixin
from anythingllm_bridge.client.resources.uploads import UploadsMixin
from anythingllm_bridge.client.resources.workspaces import WorkspacesMixin
from anythingllm_bridge.client_config import DEFAULTS, ClientConfig
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMTimeoutError,
)

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.resilience import BreakerWait, CircuitBreaker

__all__ = ["AnythingLLMClient", "create_anythingllm_client"]

P = ParamSpec("P")

# The keyword arguments the caller wrote while AnythingLLMClient.__init__ runs: they win over a
# settings object's values, while the defaults in the signature do not.
_explicit_options: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "anythingllm_bridge_explicit_options", default=frozenset()
)


def _noting_explicit_options(init: Callable[P, None]) -> Callable[P, None]:
    """``init`` with the names of the keyword arguments it was given in ``_explicit_options``."""

    @functools.wraps(init)
    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        token = _explicit_options.set(frozenset(kwargs))
        try:
            init(*args, **kwargs)
        finally:
            _explicit_options.reset(token)

    return call


class AnythingLLMClient(UploadsMixin, WorkspacesMixin, ChatMixin, ThreadsMixin, SystemMixin, OpenAIMixin):
    """Async client for the AnythingLLM developer API.

    Use it inside ``async with client:`` (or between ``await client.connect()`` and
    ``await client.disconnect()``): that opens and closes one HTTP session. A call outside a
    session raises ``AnythingLLMSessionError``.

    ``base_url`` is the server root (``http://localhost:3001``; a trailing ``/api`` is fine;
    ``client.base_url`` is the root), or a settings object that carries the server, the key and
    the options: our ``Settings`` (``AnythingLLMClient(get_settings())``) or the integration
    specification's ``AnythingLLMConfig``. The object's values replace the defaults; an ``api_key`` or keyword
    argument passed as well wins over it (``AnythingLLMClient(settings, timeout=5)``). The keyword arguments
    tune timeouts (seconds), retries, the circuit breaker and limits; their defaults and meaning are
    those of :class:`~anythingllm_bridge.client_config.ClientConfig` (``client.config``). ``sleep``
    replaces ``asyncio.sleep`` for retry waits (tests), ``on_breaker_change`` is called on every
    breaker state change.
    """

    @_noting_explicit_options
    def __init__(
        self,
        base_url: str | Settings | AnythingLLMConfig,
        api_key: str | SecretStr | None = None,
        *,
        timeout: float = DEFAULTS.timeout,
        connect_timeout: float = DEFAULTS.connect_timeout,
        read_timeout: float = DEFAULTS.read_timeout,
        failure_threshold: int = DEFAULTS.failure_threshold,
        recovery_timeout: float = DEFAULTS.recovery_timeout,
        max_retries: int = DEFAULTS.max_retries,
        base_delay: float = DEFAULTS.base_delay,
        max_delay: float = DEFAULTS.max_delay,
        max_concurrency: int = DEFAULTS.max_concurrency,
        max_connections_per_host: int = DEFAULTS.max_connections_per_host,
        verify_ssl: bool = DEFAULTS.verify_ssl,
        ca_bundle: str | os.PathLike[str] | None = DEFAULTS.ca_bundle,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_breaker_change: Callable[[Any], None] | None = None,
    ) -> None:
        from_object: dict[str, Any] = {}
        if not isinstance(base_url, str):
            base_url, key_from_object, from_object = client_options(base_url)
            api_key = api_key if api_key is not None else key_from_object
        self.config = ClientConfig(
            timeout=timeout,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_retries=max_retries,
            base_delay=base_delay,
            max_delay=max_delay,
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            max_concurrency=max_concurrency,
            max_connections_per_host=max_connections_per_host,
            verify_ssl=verify_ssl,
            ca_bundle=os.fspath(ca_bundle) if ca_bundle is not None else None,
        )
        explicit = _explicit_options.get()
        from_object = {name: value for name, value in from_object.items() if name not in explicit}
        if from_object:
            self.config = dataclasses.replace(self.config, **from_object)
        self._transport = Transport(
            base_url, api_key, self.config, sleep=sleep, on_breaker_change=on_breaker_change
        )
        self.base_url = self._transport.base_url
        self._known_ids = KnownIds()

    def with_options(self, *, breaker_wait: BreakerWait | None) -> AnythingLLMClient:
        """A view of this client whose calls carry these options; it shares the session, the
        breaker and the limits (opening or closing either opens or closes both).

        ``breaker_wait``: a call the open breaker refuses waits it out, within that budget
        (shared by every call carrying it), and is made then, instead of failing at once with
        ``AnythingLLMCircuitOpenError``; ``None`` fails at once.
        """
        view = copy.copy(self)
        view._breaker_wait = breaker_wait
        return view

    def __repr__(self) -> str:
        state = "connected" if self.is_connected else "not connected"
        return f"AnythingLLMClient(base_url={self.base_url!r}, {state})"

    @property
    def transport(self) -> Transport:
        """The single request path (timeouts, retries, breaker, trace ids, error mapping)."""
        return self._transport

    @property
    def breaker(self) -> CircuitBreaker:
        """This client's circuit breaker (``.state``, ``.failure_count``, ``.snapshot()``)."""
        return self._transport.breaker

    @property
    def is_connected(self) -> bool:
        """True between ``connect()`` (or entering ``async with``) and ``disconnect()``."""
        return self._transport.is_open

    async def connect(self) -> AnythingLLMClient:
        """Open the HTTP session (``async with client`` does this for you)."""
        await self._transport.open()
        return self

    async def disconnect(self) -> None:
        """Close the HTTP session; safe to call twice."""
        await self._transport.close()

    async def __aenter__(self) -> AnythingLLMClient:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def health_check(self) -> HealthStatus:
        """Is the server reachable, is it an AnythingLLM answering, is the key accepted? Never raises.

        Three separate checks: ``GET /api/ping`` must get an HTTP answer (``reachable``), that answer
        must be AnythingLLM's ``{"online": true}`` (``answering``), and only then is the key checked
        with ``GET /api/v1/auth`` (``authenticated``; ``None`` when not checked). Works outside a
        session too (a temporary one is opened). ``reason`` says in words what is wrong;
        ``latency_ms`` is the round trip of ``/api/ping``; ``breaker`` (and
        ``health["circuit_breaker"]``) is the breaker's state, ``health["status"]`` ``"healthy"``
        or ``"unhealthy"``.

        Each check is one request (``Transport.probe``): no retries, and the circuit breaker is
        neither asked nor told — the check sees the server as it is now even while the breaker is
        open, and a failed check does not push the breaker toward opening.
        """
        reachable = answering = not_anythingllm = False
        authenticated: bool | None = None
        reason: str | None = None
        latency_ms: float | None = None
        temporary = not self._transport.is_open
        try:
            if temporary:
                await self._transport.open()
            started = time.perf_counter()
            try:
                ping = await self._transport.probe("GET", "/ping")
                online = bool(json_object(ping.data, "GET", "/ping").get("online"))
            except (AnythingLLMAPIError, AnythingLLMProtocolError) as exc:  # an answer, not AnythingLLM's
                not_anythingllm, reason = _ping_refused(self.base_url, exc)
            else:
                answering = online
                if not online:
                    not_anythingllm = True
                    reason = _not_anythingllm(self.base_url, 'JSON without "online": true')
            reachable = True
            latency_ms = round((time.perf_counter() - started) * 1000, 3)
            if answering:
                authenticated, reason = await self._auth_verdict()
        except AnythingLLMTimeoutError as exc:
            reason = f"{self.base_url} did not answer in time: {exc.message}"
        except AnythingLLMConnectionError as exc:
            if self.base_url.startswith("https://") and _speaks_no_tls(exc):
                reachable = True  # it answered, in plain HTTP
                plain = "http://" + self.base_url.removeprefix("https://")
                reason = f"the server at {self.base_url} does not speak TLS: use {plain}"
            elif self.base_url in exc.message:
                reason = exc.message
            else:
                reason = f"cannot reach {self.base_url}: {exc.message}"
        except AnythingLLMError as exc:
            reason = exc.message
        except Exception as exc:  # health_check must answer, whatever went wrong
            reason = f"unexpected error: {exc}"
        finally:
            if temporary:
                try:
                    await self._transport.close()
                except Exception as exc:
                    reason = reason or f"closing the temporary session failed: {exc}"
        return HealthStatus(
            reachable=reachable,
            answering=answering,
            authenticated=authenticated,
            not_anythingllm=not_anythingllm,
            reason=reason,
            latency_ms=latency_ms,
            base_url=self.base_url,
            breaker=_breaker_info(self._transport),
        )

    async def _auth_verdict(self) -> tuple[bool | None, str | None]:
        """``(authenticated, reason)`` from ``GET /api/v1/auth``; ``None`` when it could not tell."""
        try:
            answer = await self._transport.probe("GET", "/v1/auth")
            if json_object(answer.data, "GET", "/v1/auth").get("authenticated"):
                return True, None
            return False, "the server did not confirm the API key"
        except AnythingLLMAuthenticationError as exc:
            return False, f"the API key was not accepted: {exc.server_message or exc.message}"
        except AnythingLLMError as exc:
            return None, f"the API key could not be checked: {exc.message}"


# OpenSSL's words when the other side of a TLS handshake answers in plain text (an http:// server)
_NOT_TLS = ("wrong version number", "record layer failure", "unknown protocol", "packet length too long")


def _speaks_no_tls(exc: BaseException) -> bool:
    """True when a connection failed because the server answered the TLS handshake in plain HTTP."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(words in str(seen).lower() for words in _NOT_TLS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ping_refused(base_url: str, exc: AnythingLLMAPIError | AnythingLLMProtocolError) -> tuple[bool, str]:
    """``(not_anythingllm, reason)`` for an error answer to ``GET /api/ping``, which AnythingLLM always
    answers with ``{"online": true}``: a 5xx or 429 may come from any server, anything else does not
    come from AnythingLLM."""
    status = exc.status
    if isinstance(exc, AnythingLLMRateLimitError):
        return False, f"{base_url} is rate limiting requests (429); try again later"
    if status is not None and status >= 500:
        return False, (
            f"{base_url} answered GET /api/ping with {_status_text(status)}: the server is up but "
            "failing; try again later"
        )
    if isinstance(exc, AnythingLLMProtocolError):
        kind = f", {exc.content_type}" if exc.content_type else ""
        what = f"{_status_text(status)}{kind}" if status is not None else "something that is not JSON"
    else:
        what = _status_text(status)
    return True, _not_anythingllm(base_url, f'{what}, not {{"online": true}}')


def _not_anythingllm(base_url: str, answer: str) -> str:
    return f"{base_url} is not an AnythingLLM server (or not its root URL): GET /api/ping answered {answer}"


def _status_text(status: int | None) -> str:
    if status is None:
        return "an error"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _breaker_info(transport: Transport) -> BreakerInfo:
    """The breaker's snapshot as a plain model (``state`` as its text)."""
    snapshot = transport.breaker.snapshot()
    return BreakerInfo.model_validate({**dataclasses.asdict(snapshot), "state": snapshot.state.value})


def create_anythingllm_client(
    settings: Settings | AnythingLLMConfig | None = None, **overrides: Any
) -> AnythingLLMClient:
    """A client configured from ``Settings`` (environment / ``.env``; default: ``get_settings()``)
    or from an ``AnythingLLMConfig``.

    Keyword ``overrides`` win over the object's values (e.g. ``sleep=...`` in tests).
    """
    if settings is None:
        from anythingllm_bridge.config import get_settings

        settings = get_settings()
    base_url, api_key, options = client_options(settings)
    options.update(overrides)
    return AnythingLLMClient(base_url, api_key, **options)
