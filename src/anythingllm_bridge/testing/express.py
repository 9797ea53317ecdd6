"""The request side of an Express server: body parsers, API-key check, catch-all route, error handling.

Middleware order matches the real server: body parsing is global and comes before routing (so malformed
JSON gets Express's HTML 400 page even on a route that does not exist or with a bad key), the API key is
checked per route, and a path no route answers falls through to the web UI's index page (200 HTML).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from anythingllm_bridge.testing.faults.injector import FaultInjector
from anythingllm_bridge.testing.latency import ServerTime
from anythingllm_bridge.testing.state import Store
from anythingllm_bridge.testing.wire import express_error_page, json_answer, spa_index, status_answer
from anythingllm_bridge.tracing import get_logger

__all__ = [
    "API_KEY",
    "BODY",
    "FAULTS",
    "LATENCY",
    "STORE",
    "BadBody",
    "Handler",
    "body_parser",
    "check_api_key",
    "express_route",
    "public",
    "req_body",
    "spa_fallback",
]

logger = get_logger("anythingllm_bridge.testing.emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_H = TypeVar("_H", bound=Handler)

STORE = web.AppKey("store", Store)
FAULTS = web.AppKey("faults", FaultInjector)
API_KEY = web.AppKey("api_key", str)
LATENCY = web.AppKey("latency", ServerTime)
BODY: web.RequestKey[Any] = web.RequestKey("body", object)


class BadBody(Exception):
    """``reqBody()`` could not parse a text body as JSON (the handler's own catch answers)."""


def public(handler: _H) -> _H:
    """Mark a route that needs no API key (``/api/ping``, ``/v1/system/env-dump``)."""
    handler.__dict__["_public"] = True
    return handler


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


@web.middleware
async def spa_fallback(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path (or method) no route answers gets the web UI's index page with 200, as in production."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.match_info.http_exception is None:
            raise
        return spa_index()


@web.middleware
async def body_parser(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``express.text()``, ``.json()``, ``.urlencoded()``: parse the body into ``request[BODY]``.

    Malformed JSON (or JSON whose top level is not an object or array: body-parser's strict mode) is
    refused with Express's HTML 400 page before any route runs. Other bodies are left unread (``{}``).
    """
    content_type = request.content_type
    body: Any = {}
    parsed = ("text/plain", "application/x-www-form-urlencoded")
    if request.body_exists and (_is_json(content_type) or content_type in parsed):
        raw = await request.read()
        text = raw.decode("utf-8", "replace")
        if _is_json(content_type):
            if text.strip():
                try:
                    body = json.loads(text)
                except ValueError:
                    return express_error_page(400)
                if not isinstance(body, dict | list):
                    return express_error_page(400)
        elif content_type == "text/plain":
            body = text
        else:
            body = dict(parse_qsl(text, keep_blank_values=True))
    request[BODY] = body
    return await handler(request)


@web.middleware
async def check_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``validApiKey``: ``Authorization: <anything> <key>``, split on a space; element 1 must be the key."""
    match = request.match_info
    if match.http_exception is None and not getattr(match.handler, "_public", False):
        header = request.headers.get("Authorization", "")
        parts = header.split(" ")
        if len(parts) < 2 or parts[1] != request.app[API_KEY]:
            return json_answer({"error": "No valid api key found."}, 403)
    return await handler(request)


def req_body(request: web.Request) -> dict[str, Any]:
    """The server's ``reqBody()``: the parsed body; a text body is ``JSON.parse``d (else :class:`BadBody`).

    Destructuring a non-object in JavaScript yields nothing, so an array body reads as ``{}``.
    """
    body = request.get(BODY, {})
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise BadBody(str(exc)) from None
    return body if isinstance(body, dict) else {}


def express_route(
    on_error: Callable[[web.Request, Exception], web.StreamResponse] | None = None,
) -> Callable[[Handler], Handler]:
    """Wrap a handler in the server's ``try { ... } catch (e) { ... }``: by default a plain 500."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as exc:  # the server's catch-all: log and answer like the route does
                logger.info("%s %s failed: %r", request.method, request.path, exc)
                if on_error is not None:
                    return on_error(request, exc)
                return status_answer(500)

        return wrapped

    return decorate
