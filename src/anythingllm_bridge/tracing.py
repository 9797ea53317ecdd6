"""Trace ids: one id per logical call, carried by the request header, the logs and the errors.

A caller may name the id::

    from anythingllm_bridge import trace_id
    with trace_id("order-1234"):
        await client.list_workspaces()      # X-Request-ID: order-1234

Without one, the transport generates an id per call. Every log record of the
``anythingllm_bridge`` loggers obtained through :func:`get_logger` carries ``record.trace_id``
(``None`` outside a call), so a handler format such as ``"%(trace_id)s %(message)s"`` works.
The library configures no handlers: that is the application's business.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "LOGGER_NAME",
    "TraceIdFilter",
    "current_trace_id",
    "get_logger",
    "new_trace_id",
    "trace_id",
]

LOGGER_NAME = "anythingllm_bridge"
_MAX_LENGTH = 200

_current: ContextVar[str | None] = ContextVar("anythingllm_bridge_trace_id", default=None)


_ids = random.Random(secrets.randbits(128))  # ids correlate logs; they need not be unguessable


def new_trace_id() -> str:
    """A short random id: 16 hex characters."""
    return f"{_ids.getrandbits(64):016x}"


def _checked(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("a trace id must not be empty")
    if len(value) > _MAX_LENGTH:
        raise ValueError(f"a trace id must be at most {_MAX_LENGTH} characters, got {len(value)}")
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"a trace id must be printable ASCII (it is sent as a header), got {value!r}")
    return value


@contextmanager
def trace_id(value: str | None = None) -> Iterator[str]:
    """Use ``value`` (or a new random id) as the trace id of every call made inside the block."""
    tid = new_trace_id() if value is None else _checked(value)
    token = _current.set(tid)
    try:
        yield tid
    finally:
        _current.reset(token)


def current_trace_id() -> str | None:
    """The trace id set by the innermost :func:`trace_id` block (or the running call), if any."""
    return _current.get()


class TraceIdFilter(logging.Filter):
    """Stamps ``record.trace_id`` with the current trace id unless the record already has one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id = _current.get()
        return True


_FILTER = TraceIdFilter()


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """``logging.getLogger(name)`` with the trace-id filter installed (once).

    Logger filters apply only to records logged on that very logger, so each module of the
    package takes its logger from here rather than from ``logging.getLogger``.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


get_logger()  # the package logger itself stamps its records too
