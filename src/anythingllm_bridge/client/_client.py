"""``AnythingLLMClient``: the resource mixins over one ``Transport``, plus session handling and
``health_check``."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from anythingllm_bridge.client._options import AnythingLLMConfig, client_options
from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.client.models import BreakerInfo, HealthStatus
from anythingllm_bridge.client.resources.chat import ChatMixin
from anythingllm_bridge.client.resources.embeddings import EmbeddingsMixin
from anythingllm_bridge.client.resources.openai import OpenAIMixin
from anythingllm_bridge.client.resources.system import SystemMixin
from anythingllm_bridge.client.resources.threads import ThreadsMixin
from anythingllm_bridge.client.resources.workspaces import WorkspacesMixin
from anythingllm_bridge.errors import (
    AnythingLLMAuthenticationError,
    AnythingLLMCircuitOpenError,
    AnythingLLMError,
)

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings
    from anythingllm_bridge.resilience import CircuitBreaker

__all__ = ["AnythingLLMClient", "create_anythingllm_client"]


class AnythingLLMClient(EmbeddingsMixin, WorkspacesMixin, ChatMixin, ThreadsMixin, SystemMixin, OpenAIMixin):
    """Async client for the AnythingLLM developer API.

    Use it inside ``async with client:`` (or between ``await client.connect()`` and
    ``await client.disconnect()``): that opens and closes one HTTP session. A call outside a
    session raises ``AnythingLLMSessionError``.

    ``base_url`` is the server root (``http://localhost:3001``; a trailing ``/api`` is fine), or
    a settings object that carries the server, the key and the options: our ``Settings``
    (``AnythingLLMClient(get_settings())``) or ALM-001's ``AnythingLLMConfig`` (then the object's
    values replace the keyword arguments; ``create_anythingllm_client(obj, **overrides)``
    overrides them instead). The keyword arguments tune timeouts (seconds), retries and the
    circuit breaker; their defaults match ``Settings``. ``sleep`` replaces ``asyncio.sleep`` for
    retry waits (tests), ``on_breaker_change`` is called on every breaker state change.
    """

    def __init__(
        self,
        base_url: str | Settings | AnythingLLMConfig,
        api_key: str | SecretStr | None = None,
        *,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        failure_threshold: int = 5,
        recovery_timeout: float = 60.0,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        max_concurrency: int = 10,
        max_connections_per_host: int = 5,
        verify_ssl: bool = True,
        ca_bundle: str | os.PathLike[str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_breaker_change: Callable[[Any], None] | None = None,
    ) -> None:
        from_object: dict[str, Any] = {}
        if not isinstance(base_url, str):
            base_url, api_key, from_object = client_options(base_url)
        if not base_url.strip().startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.strip().rstrip("/")
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
        if from_object:
            self.config = dataclasses.replace(self.config, **from_object)
        self._transport = Transport(
            self.base_url, api_key, self.config, sleep=sleep, on_breaker_change=on_breaker_change
        )

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
        """Is the server reachable, is the key accepted? Never raises.

        Works outside a session too (a temporary one is opened). ``reason`` says what is wrong;
        ``latency_ms`` is the round trip of ``/api/ping``; ``breaker`` is the breaker's state.
        """
        reachable = authenticated = False
        reason: str | None = None
        latency_ms: float | None = None
        temporary = not self._transport.is_open
        try:
            if temporary:
                await self._transport.open()
            started = time.perf_counter()
            online = await self.ping()
            latency_ms = round((time.perf_counter() - started) * 1000, 3)
            reachable = True
            if not online:
                reason = "the server answered /api/ping but does not say it is online"
            authenticated = await self.check_auth()
            if not authenticated and reason is None:
                reason = "the server did not confirm the API key"
        except AnythingLLMAuthenticationError as exc:
            reason = f"the API key was not accepted: {exc.server_message or exc.message}"
        except AnythingLLMCircuitOpenError as exc:
            reason = f"the circuit breaker is open; the next probe in {exc.retry_in:.1f} s"
        except AnythingLLMError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # health_check must answer, whatever went wrong
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            if temporary:
                try:
                    await self._transport.close()
                except Exception as exc:
                    reason = reason or f"closing the temporary session failed: {exc}"
        return HealthStatus(
            reachable=reachable,
            authenticated=authenticated,
            reason=reason,
            latency_ms=latency_ms,
            base_url=self.base_url,
            breaker=_breaker_info(self._transport),
        )


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
