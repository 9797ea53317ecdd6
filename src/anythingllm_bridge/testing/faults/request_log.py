"""The emulator's request log: every request that reached the server, faulted or not, so a test can
check what a client really sent (how many attempts, which ``X-Request-ID``, at what time)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request that reached the emulator (control endpoints excluded).

    ``at`` is the fault injector's clock (monotonic by default) when the request arrived; ``fault``
    names the fault applied to it (a rule id or ``"outage"``), or ``None``. ``repr`` and
    :meth:`to_dict` mask the API key.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    request_id: str | None
    at: float
    fault: str | None = None

    @classmethod
    def of(cls, request: web.BaseRequest, *, at: float, fault: str | None) -> RecordedRequest:
        """The record of ``request``."""
        return cls(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            request_id=request.headers.get("X-Request-ID"),
            at=at,
            fault=fault,
        )

    def redacted_headers(self) -> dict[str, str]:
        """The headers with the API key masked (``Authorization: Bearer ***``)."""
        return {
            k: (_mask_authorization(v) if k.lower() == "authorization" else v)
            for k, v in self.headers.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON (headers redacted), as ``GET /_emulator/requests`` lists it."""
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


class RequestLog:
    """The last ``max_entries`` recorded requests, oldest first (older ones are dropped). Thread-safe."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RecordedRequest] = deque(maxlen=max_entries)

    def record(self, entry: RecordedRequest) -> None:
        """Append one request."""
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[RecordedRequest]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        """Empty the log; returns how many entries it held."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count
