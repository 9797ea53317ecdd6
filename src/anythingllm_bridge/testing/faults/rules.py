"""Fault rules: what one fault does (:class:`Fault`) and the engine that picks, for each request, the
first live rule that matches it (:class:`Rules`).

:class:`Fault` is the only description of a rule: ``FaultInjector.add`` builds one from its keyword
arguments, ``POST /_emulator/faults`` from its JSON body, and the listing of live rules is its fields
plus the rule's id and counters.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, field_serializer, model_validator

from anythingllm_bridge.testing.faults.setting import FaultSetting

__all__ = ["DropKind", "Fault", "Rules"]

DropKind = Literal["before_headers", "after_headers"]


def _header_text(value: object) -> object:
    # Retry-After is sent as written; a whole number of seconds may be given as an int (not a bool).
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Fault(FaultSetting):
    """One fault rule: the requests it matches, what it does to them and how many times.

    A request gets the fault when ``method`` and ``path`` match (and, with a ``probability``, when it is
    drawn). Then, in this order: wait ``latency``; drop the connection (``drop``); answer ``status``
    instead of handling the request; or let the real handler run and cut its event stream
    (``cut_stream_after``). A fault must do at least one of these.
    """

    method: Annotated[str, AfterValidator(str.upper)] = Field(
        "*", min_length=1, description='`fnmatch` glob on the HTTP method, case-insensitive; `"*"` = any'
    )
    path: str = Field(
        "*",
        min_length=1,
        description="`fnmatch` glob on the request path (no query string). `*` also matches `/`: "
        "`/api/v1/workspace/*` matches `/api/v1/workspace/a/chat`",
    )
    status: int | None = Field(
        None, ge=200, le=599, description="answer this status (200–599) instead of handling the request"
    )
    times: int | None = Field(
        1,
        ge=1,
        description="how many requests the fault is applied to (default 1); `None` (JSON `null`) = until "
        "removed. Listed, it is how many are left",
    )
    retry_after: Annotated[str | None, BeforeValidator(_header_text)] = Field(
        None,
        description='value of the `Retry-After` header, e.g. `"2"` (or `2`) or an HTTP date (needs `status`)',
    )
    body: str | bytes | dict[str, Any] | list[Any] | None = Field(
        None,
        description="the answer's body (needs `status`): a `str` is sent as `text/plain`, `bytes` as "
        '`application/octet-stream`, a dict or list as JSON. Default `{"error": "<reason phrase>"}`, '
        'e.g. `{"error": "Too Many Requests"}`',
    )
    content_type: str | None = Field(
        None,
        description="overrides the body's content type, e.g. `\"text/html\"` for a proxy's error page",
    )
    latency: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="seconds to wait before anything else; alone it delays a normal answer",
    )
    drop: DropKind | None = Field(
        None,
        description='`"before_headers"`: read the request (an upload to the end), then close the TCP '
        "connection without answering; the request is **not** handled, aiohttp clients see "
        '`ServerDisconnectedError`. `"after_headers"`: send the status line and headers with a '
        "`Content-Length` larger than what follows, part of the body, then close; clients see the "
        "status, then `ClientPayloadError` reading the body. Without `status` the real handler runs "
        "first: the server did the work and only the answer is lost (an upload is stored; a retry "
        "uploads it twice). On a streamed route no event is sent",
    )
    cut_stream_after: int | None = Field(
        None,
        ge=0,
        description="on stream-chat and streaming OpenAI chat: send this many events, then close the "
        "connection; clients see them, then `ClientPayloadError`",
    )
    probability: float = Field(
        1.0,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="each matching request gets the fault with this chance (0 < p ≤ 1, default 1); one "
        "that is not drawn falls through to the later rules, and `times` counts only those drawn",
    )
    seed: int | None = Field(
        None,
        description="seed of the rule's own `random.Random` (default: the rule's number, so rules draw "
        "independently): the same requests in the same order get the same faults on every run",
    )

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.status is None and self.drop is None and self.cut_stream_after is None and not self.latency:
            raise ValueError("a fault needs at least one of status, latency, drop or cut_stream_after")
        if self.drop == "before_headers" and (self.status is not None or self.body is not None):
            raise ValueError("drop='before_headers' sends no answer, so status and body cannot be given")
        if self.cut_stream_after is not None and (self.status is not None or self.drop is not None):
            raise ValueError(
                "cut_stream_after cuts the real stream; it cannot be combined with status or drop"
            )
        answer_shape = (self.retry_after, self.body, self.content_type)
        if self.status is None and any(part is not None for part in answer_shape):
            raise ValueError(
                "retry_after, body and content_type shape the answer of a status fault: give status"
            )
        return self

    @field_serializer("body", when_used="json")
    def _body_as_text(self, body: str | bytes | dict[str, Any] | list[Any] | None) -> Any:
        # JSON has no bytes; a body that is not UTF-8 is still listed, with replacement characters.
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else body


@dataclass
class _LiveRule:
    id: str
    fault: Fault  # its seed filled in
    remaining: int | None  # None: until removed
    rng: random.Random = field(repr=False)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.fault.method) and fnmatch.fnmatchcase(path, self.fault.path)

    def draw(self) -> bool:
        return self.fault.probability >= 1.0 or self.rng.random() < self.fault.probability

    def listed(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "rule",
            **self.fault.model_dump(mode="json"),
            "times": self.remaining,
            "hits": self.hits,
        }


class Rules:
    """The live rules in the order they were added; ids ``"f1"``, ``"f2"``, … Thread-safe.

    Matching and counting happen under one lock with no ``await`` in between, so with 100 concurrent
    requests a ``times=37`` rule is applied to exactly 37 of them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_LiveRule] = []
        self._numbers = itertools.count(1)

    def add(self, fault: Fault) -> dict[str, Any]:
        """Append a rule for ``fault``; returns it as :meth:`active` lists it (``"id"`` included)."""
        with self._lock:
            number = next(self._numbers)
            seed = number if fault.seed is None else fault.seed
            rule = _LiveRule(
                id=f"f{number}",
                fault=fault.model_copy(update={"seed": seed}),
                remaining=fault.times,
                rng=random.Random(seed),
            )
            self._rules.append(rule)
            return rule.listed()

    def take(self, method: str, path: str) -> tuple[str, Fault] | None:
        """The first live rule that matches (and is drawn for) this request, counted as applied."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and rule.draw():
                    rule.hits += 1
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.id, rule.fault
            return None

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; ``False`` if there was none with that id."""
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self, *, renumber: bool = False) -> None:
        """Remove every rule; with ``renumber`` the next one is ``"f1"`` again."""
        with self._lock:
            self._rules.clear()
            if renumber:
                self._numbers = itertools.count(1)

    def active(self) -> list[dict[str, Any]]:
        """The live rules, in the order they are tried: the :class:`Fault` fields plus ``id``,
        ``kind`` (``"rule"``), ``hits`` (requests it was applied to), ``times`` as what is left."""
        with self._lock:
            return [rule.listed() for rule in self._rules]
