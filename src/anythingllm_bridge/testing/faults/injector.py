"""The fault injector: an aiohttp middleware in front of every emulator handler that records each
request and applies the live faults to it (an outage window, else the first matching rule).

:class:`FaultInjector` is also the one object tests hold: it adds and lists faults
(:mod:`~anythingllm_bridge.testing.faults.rules`), starts outages, sets the embedding loss
(:mod:`~anythingllm_bridge.testing.faults.embedding_loss`) and reads the request log
(:mod:`~anythingllm_bridge.testing.faults.request_log`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, overload

from aiohttp import web
from pydantic import Field

from anythingllm_bridge.testing.faults.drops import (
    discard_body,
    drop_connection,
    send_partially,
    set_cut_stream_after,
)
from anythingllm_bridge.testing.faults.embedding_loss import LOSS_ID, EmbeddingLoss, EmbeddingLossInjector
from anythingllm_bridge.testing.faults.request_log import RecordedRequest, RequestLog
from anythingllm_bridge.testing.faults.rules import Fault, Rules
from anythingllm_bridge.testing.faults.setting import FaultSetting
from anythingllm_bridge.tracing import get_logger

__all__ = ["OUTAGE_ID", "FaultInjector", "Outage"]

logger = get_logger("anythingllm_bridge.testing.faults")

#: the id an outage is listed and removed by
OUTAGE_ID = "outage"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Outage(FaultSetting):
    """Every request under ``/api`` (ping included) answers ``503 {"error": "Service Unavailable"}``."""

    seconds: float = Field(
        ge=0,
        allow_inf_nan=False,
        description="how long, on the injector's clock; 0 ends an outage. Rules are not used up meanwhile",
    )


class FaultInjector:
    """Fault rules, an outage window, embedding loss and a request log for one emulator.

    ``clock`` (monotonic seconds) decides outage windows and stamps recorded requests; tests may replace
    it with a fake (``faults.clock = fake``). ``max_recorded`` bounds the request log (oldest entries are
    dropped first). ``rules``, ``embedding_loss`` and ``log`` are the parts; the methods below are what
    tests use.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_recorded: int = 10_000) -> None:
        self.clock: Callable[[], float] = clock
        self._default_clock = clock
        self.rules = Rules()
        self.embedding_loss = EmbeddingLossInjector()
        self.log = RequestLog(max_recorded)
        self._lock = threading.Lock()
        self._outage_until: float | None = None

    # ---------------------------------------------------------------- rules

    @overload
    def add(self, fault: Fault, /) -> str: ...

    @overload
    def add(self, method: str = "*", path: str = "*", **fields: Any) -> str: ...

    def add(self, method: str | Fault = "*", path: str = "*", **fields: Any) -> str:
        """Add a rule and return its id (``"f1"``, ``"f2"``, …); the first live rule matching a request
        is applied to it.

        Give a :class:`Fault`, or its fields as arguments (``add("GET", "/api/ping", status=503)``):
        they are checked by the same model, and bad ones raise a ``ValueError`` naming each.
        """
        if isinstance(method, Fault):
            if path != "*" or fields:
                raise TypeError("give either a Fault or its fields, not both")
            fault = method
        else:
            fault = Fault(method=method, path=path, **fields)
        rule_id: str = self.rules.add(fault)["id"]
        return rule_id

    def remove(self, fault_id: str) -> bool:
        """Remove one fault by the id :meth:`active` shows (a rule, ``"outage"`` or ``"embedding-loss"``);
        ``False`` if there was none."""
        if fault_id == OUTAGE_ID:
            with self._lock:
                found = self._outage_active()
                self._outage_until = None
            return found
        if fault_id == LOSS_ID:
            return self.embedding_loss.clear()
        return self.rules.remove(fault_id)

    def clear(self) -> None:
        """Remove every rule, end any outage and stop losing embeddings (the request log is kept)."""
        self.rules.clear()
        self.embedding_loss.clear()
        with self._lock:
            self._outage_until = None

    def reset(self) -> None:
        """Back to a new injector's state: no faults, rule ids from ``"f1"``, an empty request log, no
        embeddings lost, the clock it was made with."""
        self.rules.clear(renumber=True)
        self.embedding_loss.reset()
        self.log.clear()
        with self._lock:
            self._outage_until = None
            self.clock = self._default_clock

    def active(self) -> list[dict[str, Any]]:
        """The live faults as JSON objects: rules in the order they are tried, then the outage and the
        embedding loss if on. Each has an ``id`` and a ``kind`` (``rule``, ``outage``, ``embedding_loss``)."""
        faults = self.rules.active()
        with self._lock:
            if self._outage_active():
                assert self._outage_until is not None
                remaining = self._outage_until - self.clock()
                faults.append({"id": OUTAGE_ID, "kind": "outage", "remaining_seconds": remaining})
        loss = self.embedding_loss.active()
        if loss is not None:
            faults.append(loss)
        return faults

    # --------------------------------------------------------------- outage

    def outage(self, seconds: float | Outage) -> None:
        """Make every ``/api`` request (ping included) answer 503 for ``seconds``; 0 ends an outage."""
        setting = seconds if isinstance(seconds, Outage) else Outage(seconds=seconds)
        with self._lock:
            self._outage_until = self.clock() + setting.seconds if setting.seconds > 0 else None

    def _outage_active(self) -> bool:
        return self._outage_until is not None and self.clock() < self._outage_until

    # -------------------------------------------------------- embedding loss

    def lose_embeddings(self, setting: EmbeddingLoss | None = None, /, **fields: Any) -> None:
        """Leave documents out of their workspaces although the upload answers 200: give an
        :class:`EmbeddingLoss` or its fields (``lose_embeddings(next_n=2)``). Replaces any earlier one."""
        if setting is not None and fields:
            raise TypeError("give either an EmbeddingLoss or its fields, not both")
        self.embedding_loss.set(setting if setting is not None else EmbeddingLoss(**fields))

    @property
    def embeddings_lost(self) -> int:
        """How many uploads had their document left out of the workspace so far."""
        return self.embedding_loss.lost

    # ---------------------------------------------------------- request log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the server, oldest first (control endpoints excluded)."""
        return self.log.entries

    def clear_requests(self) -> int:
        """Empty the request log; returns how many entries it held."""
        return self.log.clear()

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Record the request, then apply the outage or the first matching rule, if any."""
        path = request.path
        with self._lock:
            in_outage = (path == "/api" or path.startswith("/api/")) and self._outage_active()
            at = self.clock()
        taken = None if in_outage else self.rules.take(request.method, path)
        applied = OUTAGE_ID if in_outage else taken[0] if taken else None
        self.log.record(RecordedRequest.of(request, at=at, fault=applied))
        if in_outage:
            return web.json_response({"error": "Service Unavailable"}, status=503)
        if taken is None:
            return await handler(request)
        rule_id, fault = taken
        logger.info("fault %s applied to %s %s", rule_id, request.method, path)
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.drop == "before_headers":
            await discard_body(request)
            drop_connection(request)
        if fault.drop == "after_headers":
            await send_partially(request, await _answer_to_cut(request, handler, fault))
        if fault.status is not None:
            return _status_answer(fault)
        if fault.cut_stream_after is not None:
            set_cut_stream_after(request, fault.cut_stream_after)
        return await handler(request)


async def _answer_to_cut(request: web.Request, handler: _Handler, fault: Fault) -> web.StreamResponse:
    """The answer a ``drop="after_headers"`` fault cuts: its own with a ``status``; otherwise the real
    handler's (the server did the work, only the answer is lost), a stream cut after 0 events."""
    if fault.status is not None:
        return _status_answer(fault)
    set_cut_stream_after(request, 0)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return exc


def _status_answer(fault: Fault) -> web.Response:
    """The answer of a fault with a ``status``."""
    assert fault.status is not None
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    body = fault.body if fault.body is not None else {"error": _reason(fault.status)}
    if isinstance(body, bytes):
        content_type = fault.content_type or "application/octet-stream"
        return web.Response(status=fault.status, body=body, headers=headers, content_type=content_type)
    if isinstance(body, str):
        content_type = fault.content_type or "text/plain"
        return web.Response(status=fault.status, text=body, headers=headers, content_type=content_type)
    content_type = fault.content_type or "application/json"
    return web.Response(
        status=fault.status, text=json.dumps(body), headers=headers, content_type=content_type
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status with no standard name, such as 299
        return "Error"
