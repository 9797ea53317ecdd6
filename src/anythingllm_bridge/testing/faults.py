"""Fault injection for the emulator: make it fail the way a real server and network do.

A :class:`FaultInjector` sits in front of every emulator handler as an aiohttp middleware. It can

- answer a chosen status (with an optional ``Retry-After`` header and body) to requests matching a method
  and an ``fnmatch`` path glob, for the next ``times`` requests or until cleared;
- add latency before handling;
- drop the connection *before the headers* (the request body is read, then the TCP connection is closed
  with no answer: clients see a server disconnect) or *after the headers* (status line and headers with a
  Content-Length larger than what follows, part of the body, then close: clients see a payload error);
- cut a server-sent-event stream after K events (``request["cut_stream_after"] = K``; the SSE handler
  sends K events and then calls :func:`drop_connection`);
- make every ``/api`` request answer 503 for a time window (:meth:`FaultInjector.outage`);
- answer 200 to uploads with ``addToWorkspaces`` while leaving the document out of the workspace, as the
  real server does under concurrent uploads (:meth:`FaultInjector.lose_embeddings`).

It also records every request that reaches the server (:attr:`FaultInjector.requests`). Everything is
reachable from Python and from the control endpoints under ``/_emulator/`` (no API key; see
``docs/faults.md``). Rule counters are exact under concurrency and across threads: matching and counting
happen under one lock with no ``await`` in between.
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import json
import logging
import math
import random
import threading
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Set
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, NoReturn, cast

from aiohttp import web

__all__ = [
    "CONTROL_PREFIX",
    "CUT_STREAM_AFTER",
    "ConnectionDropped",
    "DropKind",
    "FaultInjector",
    "RecordedRequest",
    "drop_connection",
]

logger = logging.getLogger("anythingllm_bridge.testing.faults")

CONTROL_PREFIX = "/_emulator/"
#: request key an SSE handler reads: send this many events, then call drop_connection(request)
CUT_STREAM_AFTER = "cut_stream_after"
DropKind = Literal["before_headers", "after_headers"]
_DROP_KINDS: tuple[str, ...] = ("before_headers", "after_headers")
_OUTAGE_ID = "outage"
_LOSS_ID = "embedding-loss"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FaultList = list[dict[str, Any]]  # `list` is shadowed by FaultInjector.list inside the class


class ConnectionDropped(asyncio.CancelledError):
    """Raised from a handler after closing the transport on purpose.

    aiohttp treats a ``CancelledError`` from a handler like a client that went away: no response, no
    traceback, no access-log line. Subclassing it keeps the intent readable in tracebacks of our own.
    """


def drop_connection(request: web.BaseRequest) -> NoReturn:
    """Close the request's TCP connection now (buffered bytes are flushed first) and stop handling.

    SSE handlers call this after sending ``request["cut_stream_after"]`` events.
    """
    transport = request.transport
    if transport is not None:
        transport.close()
    raise ConnectionDropped


def _set_cut_stream_after(request: web.Request, events: int) -> None:
    # The contract names a plain string key; aiohttp 3.14 warns once about str keys (NotAppKeyWarning).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request[CUT_STREAM_AFTER] = events


async def _discard_body(request: web.BaseRequest) -> None:
    # Closing a socket with unread request bytes makes the kernel send RST instead of FIN, and the client
    # would see "connection reset" instead of a clean server disconnect; so read the body to the end.
    async for _ in request.content.iter_any():
        pass


@dataclass(frozen=True)
class RecordedRequest:
    """One request that reached the emulator (control endpoints excluded).

    ``at`` is the injector's clock (monotonic by default) when the request arrived; ``fault`` names the
    fault applied to it (a rule id or ``"outage"``), or ``None``.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    request_id: str | None
    at: float
    fault: str | None = None

    def redacted_headers(self) -> dict[str, str]:
        """The headers with the API key masked (``Authorization: Bearer ***``)."""
        return {
            k: (_mask_authorization(v) if k.lower() == "authorization" else v)
            for k, v in self.headers.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": self.redacted_headers(),
            "request_id": self.request_id,
            "at": self.at,
            "fault": self.fault,
        }

    def __repr__(self) -> str:
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, query={self.query!r}, "
            f"headers={self.redacted_headers()!r}, request_id={self.request_id!r}, at={self.at!r}, "
            f"fault={self.fault!r})"
        )


def _mask_authorization(value: str) -> str:
    scheme, _, secret = value.partition(" ")
    return f"{scheme} ***" if secret else "***"


@dataclass
class _Rule:
    id: str
    method: str
    path: str
    status: int | None
    remaining: int | None  # None: until cleared
    retry_after: str | None
    body: Any
    content_type: str | None
    latency: float
    drop: DropKind | None
    cut_stream_after: int | None
    hits: int = field(default=0)
    probability: float = 1.0
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and fnmatch.fnmatchcase(path, self.path)

    def draw(self) -> bool:
        """Does this matching request get the fault? Always, unless the rule has a probability."""
        return self.probability >= 1.0 or self.rng.random() < self.probability

    def error_response(self) -> web.Response:
        """The answer for ``status`` (used unless the connection is dropped before the headers)."""
        status = self.status if self.status is not None else 200
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else None
        body = self.body
        if body is None:
            body = {"error": HTTPStatus(status).phrase}
        if isinstance(body, bytes):
            return web.Response(
                status=status,
                body=body,
                headers=headers,
                content_type=self.content_type or "application/octet-stream",
            )
        if isinstance(body, str):
            return web.Response(
                status=status, text=body, headers=headers, content_type=self.content_type or "text/plain"
            )
        return web.Response(
            status=status,
            text=json.dumps(body),
            headers=headers,
            content_type=self.content_type or "application/json",
        )

    def to_dict(self) -> dict[str, Any]:
        body = self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else self.body
        chance = {"probability": self.probability, "seed": self.seed} if self.probability < 1.0 else {}
        return {
            "id": self.id,
            "kind": "rule",
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "times": self.remaining,
            "retry_after": self.retry_after,
            "body": body,
            "content_type": self.content_type,
            "latency": self.latency,
            "drop": self.drop,
            "cut_stream_after": self.cut_stream_after,
            "hits": self.hits,
            **chance,
        }


def _require_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _require_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return seconds


class FaultInjector:
    """Faults, an outage window, embedding loss and a request log for one emulator.

    ``clock`` (monotonic seconds) decides outage windows and stamps recorded requests; tests may replace
    it with a fake. ``max_recorded`` bounds the request log (oldest entries are dropped first).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_recorded: int = 10_000) -> None:
        self.clock: Callable[[], float] = clock
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._next_id = 1
        self._outage_until: float | None = None
        self._loss_fraction: float | None = None
        self._loss_seed = 0
        self._loss_rng = random.Random(0)
        self._loss_next_n = 0
        self._loss_on_update = False
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        #: how many uploads had their document left out of the workspace so far
        self.embeddings_lost = 0

    # ---------------------------------------------------------------- rules

    def add(
        self,
        method: str = "*",
        path: str = "*",
        *,
        status: int | None = None,
        times: int | None = 1,
        retry_after: str | int | None = None,
        body: Any = None,
        content_type: str | None = None,
        latency: float = 0.0,
        drop: DropKind | None = None,
        cut_stream_after: int | None = None,
        probability: float = 1.0,
        seed: int | None = None,
    ) -> str:
        """Add a rule and return its id. The first live rule matching a request is applied to it.

        ``method`` and ``path`` are ``fnmatch`` globs (``"*"`` also matches ``/``). ``body``: a str is
        sent as ``text/plain``, bytes as ``application/octet-stream``, anything else as JSON (override
        with ``content_type``); the default body is ``{"error": "<reason phrase>"}``.

        ``probability`` < 1: each matching request gets the fault with that chance, drawn from the
        rule's own ``random.Random(seed)`` (default seed: the rule's number), so the same requests in
        the same order get the same faults; a request not drawn falls through to the later rules.
        ``times`` counts only the requests the fault was applied to.
        """
        if not isinstance(method, str) or not method:
            raise ValueError(f"method must be an HTTP method or a glob such as '*', got {method!r}")
        if not isinstance(path, str) or not path:
            raise ValueError(f"path must be a glob on the request path such as '/api/v1/*', got {path!r}")
        if status is not None:
            status = _require_int("status", status, minimum=200)
            if status > 599:
                raise ValueError(f"status must be between 200 and 599, got {status}")
        if times is not None:
            times = _require_int("times", times, minimum=1)
        if retry_after is not None:
            if isinstance(retry_after, bool) or not isinstance(retry_after, str | int):
                raise TypeError(f"retry_after must be a str such as '2' or an HTTP date, got {retry_after!r}")
            retry_after = str(retry_after)
        if body is not None and not isinstance(body, str | bytes | dict | list):
            raise TypeError(f"body must be str, bytes, dict or list, got {type(body).__name__}")
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError(f"content_type must be a str, got {content_type!r}")
        latency = _require_seconds("latency", latency)
        if drop is not None and drop not in _DROP_KINDS:
            raise ValueError(f"drop must be one of {', '.join(_DROP_KINDS)}, got {drop!r}")
        if cut_stream_after is not None:
            cut_stream_after = _require_int("cut_stream_after", cut_stream_after, minimum=0)
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            raise TypeError(f"probability must be a number between 0 and 1, got {probability!r}")
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be > 0 and <= 1, got {probability!r}")
        if seed is not None:
            seed = _require_int("seed", seed, minimum=-(2**63))
        if status is None and drop is None and cut_stream_after is None and latency == 0:
            raise ValueError("a fault needs at least one of status, latency, drop or cut_stream_after")
        if drop == "before_headers" and (status is not None or body is not None):
            raise ValueError("drop='before_headers' sends no answer, so status and body cannot be given")
        if cut_stream_after is not None and (status is not None or drop is not None):
            raise ValueError(
                "cut_stream_after cuts the real stream; it cannot be combined with status or drop"
            )
        if (retry_after is not None or body is not None or content_type is not None) and status is None:
            raise ValueError(
                "retry_after, body and content_type shape the answer of a status fault: give status"
            )
        with self._lock:
            number = self._next_id
            rule_id = f"f{number}"
            self._next_id += 1
            seed = number if seed is None else seed
            self._rules.append(
                _Rule(
                    id=rule_id,
                    method=method.upper(),
                    path=path,
                    status=status,
                    remaining=times,
                    retry_after=retry_after,
                    body=body,
                    content_type=content_type,
                    latency=latency,
                    drop=drop,
                    cut_stream_after=cut_stream_after,
                    probability=float(probability),
                    seed=seed,
                    rng=random.Random(seed),
                )
            )
        return rule_id

    def remove(self, fault_id: str) -> bool:
        """Remove one fault by the id :meth:`list` shows (a rule, ``"outage"`` or ``"embedding-loss"``)."""
        with self._lock:
            if fault_id == _OUTAGE_ID:
                found = self._outage_active()
                self._outage_until = None
                return found
            if fault_id == _LOSS_ID:
                found = self._loss_active()
                self._loss_fraction, self._loss_next_n, self._loss_on_update = None, 0, False
                return found
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != fault_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule, end any outage and stop losing embeddings (the request log is kept)."""
        with self._lock:
            self._rules.clear()
            self._outage_until = None
            self._loss_fraction, self._loss_next_n, self._loss_on_update = None, 0, False

    def _take_rule(self, method: str, path: str) -> _Rule | None:
        # Called with the lock held; no await may happen between matching and counting.
        for rule in self._rules:
            if rule.matches(method, path) and rule.draw():
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                return rule
        return None

    # --------------------------------------------------------------- outage

    def outage(self, seconds: float) -> None:
        """Make every ``/api`` request (ping included) answer 503 for ``seconds``; 0 ends an outage."""
        seconds = _require_seconds("seconds", seconds)
        with self._lock:
            self._outage_until = self.clock() + seconds if seconds > 0 else None

    def _outage_active(self) -> bool:
        return self._outage_until is not None and self.clock() < self._outage_until

    # -------------------------------------------------------- embedding loss

    def lose_embeddings(
        self,
        *,
        fraction: float | None = None,
        next_n: int | None = None,
        seed: int = 0,
        update_embeddings: bool = False,
    ) -> None:
        """Leave documents out of their workspaces although the upload answers 200.

        Give exactly one of ``fraction`` (each upload with ``addToWorkspaces`` is lost with that
        probability, drawn from ``random.Random(seed)``: the same uploads in the same order lose the same
        documents) or ``next_n`` (the next n such uploads are lost, later ones are not). Replaces any
        earlier setting; ``next_n=0`` or ``fraction=0`` stops the loss. ``update_embeddings=True``
        also loses documents added by ``POST /v1/workspace/<slug>/update-embeddings`` (each added
        location is one draw), for clients that upload first and embed afterwards.
        """
        if (fraction is None) == (next_n is None):
            raise ValueError("give exactly one of fraction or next_n")
        seed = _require_int("seed", seed, minimum=-(2**63))
        if not isinstance(update_embeddings, bool):
            raise TypeError(f"update_embeddings must be True or False, got {update_embeddings!r}")
        with self._lock:
            if fraction is not None:
                if isinstance(fraction, bool) or not isinstance(fraction, int | float):
                    raise TypeError(f"fraction must be a number between 0 and 1, got {fraction!r}")
                if not 0.0 <= fraction <= 1.0:
                    raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
                self._loss_fraction, self._loss_next_n = float(fraction), 0
            else:
                self._loss_next_n = _require_int("next_n", next_n, minimum=0)
                self._loss_fraction = None
            self._loss_seed = seed
            self._loss_rng = random.Random(seed)
            self._loss_on_update = update_embeddings

    def take_embedding_loss(self) -> bool:
        """Asked by the upload handlers once per upload with ``addToWorkspaces``: lose this one?"""
        with self._lock:
            if self._loss_next_n > 0:
                self._loss_next_n -= 1
                lost = True
            elif self._loss_fraction is not None:
                lost = self._loss_rng.random() < self._loss_fraction
            else:
                lost = False
            if lost:
                self.embeddings_lost += 1
            return lost

    def take_update_embedding_loss(self) -> bool:
        """Asked by ``update-embeddings`` once per location it adds: lose this one? Only when
        :meth:`lose_embeddings` was given ``update_embeddings=True``."""
        return self._loss_on_update and self.take_embedding_loss()

    def _loss_active(self) -> bool:
        return self._loss_next_n > 0 or bool(self._loss_fraction)

    # ---------------------------------------------------------- request log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the server, oldest first (control endpoints excluded)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> int:
        """Empty the request log; returns how many entries it held."""
        with self._lock:
            count = len(self._requests)
            self._requests.clear()
            return count

    def _record(self, request: web.BaseRequest, fault: str | None) -> None:
        # Called with the lock held.
        self._requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                request_id=request.headers.get("X-Request-ID"),
                at=self.clock(),
                fault=fault,
            )
        )

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Serve the control endpoints, record the request, then apply the outage or the first rule."""
        path = request.path
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return await self._control(request)
        with self._lock:
            rule: _Rule | None = None
            in_outage = (path == "/api" or path.startswith("/api/")) and self._outage_active()
            if not in_outage:
                rule = self._take_rule(request.method, path)
            self._record(request, _OUTAGE_ID if in_outage else rule.id if rule else None)
        if in_outage:
            return web.json_response({"error": "Service Unavailable"}, status=503)
        if rule is None:
            return await handler(request)
        logger.info("fault %s applied to %s %s", rule.id, request.method, path)
        if rule.latency:
            await asyncio.sleep(rule.latency)
        if rule.drop == "before_headers":
            await _discard_body(request)
            drop_connection(request)
        if rule.drop == "after_headers":
            return await self._answer_partially(request, handler, rule)
        if rule.status is not None:
            return rule.error_response()
        if rule.cut_stream_after is not None:
            _set_cut_stream_after(request, rule.cut_stream_after)
        return await handler(request)

    async def _answer_partially(self, request: web.Request, handler: _Handler, rule: _Rule) -> NoReturn:
        """Send the status line, headers and part of the body, then close the connection.

        With a ``status`` the answer is the fault's own; without one the real handler runs (so the server
        did the work and only the answer is lost) and its answer is truncated. A streamed (SSE) answer is
        cut after 0 events via ``request["cut_stream_after"]``.
        """
        answer: web.StreamResponse
        if rule.status is not None:
            answer = rule.error_response()
        else:
            _set_cut_stream_after(request, 0)
            try:
                answer = await handler(request)
            except web.HTTPException as exc:
                answer = exc
        await _discard_body(request)
        if answer.prepared:  # a stream the handler already sent (and should have cut)
            drop_connection(request)
        body = answer.body if isinstance(answer, web.Response) else None
        payload = body if isinstance(body, bytes) else b""
        declared = max(len(payload), 2)
        partial = web.StreamResponse(status=answer.status, reason=answer.reason)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "content-encoding"):
                partial.headers.add(name, value)
        partial.content_length = declared
        await partial.prepare(request)
        await partial.write(payload[: declared // 2])
        drop_connection(request)

    def install(self, app: web.Application) -> None:
        """Put :attr:`middleware` first in ``app`` (before the app is started); a no-op if already there."""
        if self.middleware not in app.middlewares:
            app.middlewares.insert(0, self.middleware)

    # ---------------------------------------------------- control endpoints

    async def _control(self, request: web.Request) -> web.StreamResponse:
        name = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        method = request.method
        try:
            if name == "faults":
                if method == "GET":
                    return web.json_response({"faults": self.list()})
                if method == "POST":
                    kwargs = await _json_object(request)
                    _only_keys(kwargs, _ADD_KWARGS, kind="fault field")
                    return web.json_response({"id": self.add(**kwargs)})
                if method == "DELETE":
                    self.clear()
                    return web.json_response({"cleared": True})
            elif name.startswith("faults/"):
                if method == "DELETE":
                    fault_id = name.removeprefix("faults/")
                    if self.remove(fault_id):
                        return web.json_response({"removed": fault_id})
                    return web.json_response({"error": f"no fault with id {fault_id!r}"}, status=404)
            elif name == "outage":
                if method == "POST":
                    data = await _json_object(request)
                    _only_keys(data, {"seconds"}, required={"seconds"})
                    self.outage(data["seconds"])
                    return web.json_response({"outage": data["seconds"]})
            elif name == "embedding-loss":
                if method == "POST":
                    data = await _json_object(request)
                    _only_keys(data, {"fraction", "next_n", "seed", "update_embeddings"})
                    self.lose_embeddings(**data)
                    return web.json_response({"embedding_loss": data})
            elif name == "requests":
                if method == "GET":
                    return web.json_response({"requests": [r.to_dict() for r in self.requests]})
                if method == "DELETE":
                    return web.json_response({"cleared": self.clear_requests()})
            else:
                return web.json_response({"error": f"unknown control endpoint {request.path}"}, status=404)
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"error": f"{method} is not allowed on {request.path}"}, status=405)

    # ------------------------------------------------------------- listing

    def list(self) -> _FaultList:
        """The live faults: rules in the order they are tried, then the outage and embedding loss if on."""
        with self._lock:
            faults: _FaultList = [rule.to_dict() for rule in self._rules]
            if self._outage_active():
                assert self._outage_until is not None
                faults.append(
                    {
                        "id": _OUTAGE_ID,
                        "kind": "outage",
                        "remaining_seconds": self._outage_until - self.clock(),
                    }
                )
            if self._loss_active():
                faults.append(
                    {
                        "id": _LOSS_ID,
                        "kind": "embedding_loss",
                        "fraction": self._loss_fraction,
                        "next_n": self._loss_next_n or None,
                        "seed": self._loss_seed,
                        **({"update_embeddings": True} if self._loss_on_update else {}),
                    }
                )
            return faults


#: the fields ``POST /_emulator/faults`` accepts: the keyword arguments of :meth:`FaultInjector.add`
_ADD_KWARGS = frozenset(inspect.signature(FaultInjector.add).parameters) - {"self"}


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise ValueError(f"the request body must be a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the request body must be a JSON object, got {type(data).__name__}")
    return cast(dict[str, Any], data)


def _only_keys(
    data: dict[str, Any],
    allowed: Set[str],
    *,
    required: set[str] | None = None,
    kind: str = "field",
) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown {kind}(s): {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    missing = sorted((required or set()) - set(data))
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
