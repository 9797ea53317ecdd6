"""Breaking a connection on purpose: closing it with no answer, after part of an answer, or in the
middle of an event stream, the way a dying server or a proxy does."""

from __future__ import annotations

import asyncio
import warnings
from typing import NoReturn

from aiohttp import web

__all__ = [
    "CUT_STREAM_AFTER",
    "ConnectionDropped",
    "discard_body",
    "drop_connection",
    "send_partially",
    "set_cut_stream_after",
]

#: request key an SSE handler reads: send this many events, then call drop_connection(request)
CUT_STREAM_AFTER = "cut_stream_after"


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


def set_cut_stream_after(request: web.Request, events: int) -> None:
    """Tell the route's SSE handler to cut its stream after ``events`` events."""
    # Handlers read a plain string key; aiohttp 3.14 warns once about str keys (NotAppKeyWarning).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request[CUT_STREAM_AFTER] = events


async def discard_body(request: web.BaseRequest) -> None:
    """Read the request body to its end without keeping it."""
    # Closing a socket with unread request bytes makes the kernel send RST instead of FIN, and the client
    # would see "connection reset" instead of a clean server disconnect; so read the body to the end.
    async for _ in request.content.iter_any():
        pass


async def send_partially(request: web.Request, answer: web.StreamResponse) -> NoReturn:
    """Send ``answer``'s status line and headers with a ``Content-Length`` larger than what follows,
    half of its body, then close the connection: the client sees the status, then a payload error.

    An answer already sent (a stream its handler started, and should have cut) just loses its
    connection.
    """
    await discard_body(request)
    if answer.prepared:
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
