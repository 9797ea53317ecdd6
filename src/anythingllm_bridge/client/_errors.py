"""Every AnythingLLM answer → data or an error, in one pure function (:func:`interpret_response`).

AnythingLLM reports failure in many shapes (API.md §11): ``{"error": ...}`` or ``{"message": ...}``,
the text ``Bad Request`` for a missing workspace, ``{"workspace": []}`` with status 200, an
``abort`` chat envelope with status 200, 400 or 404, an empty 401 for an unknown OpenAI "model",
and the web UI's HTML page (status 200) for any unknown route. The transport hands every
response here — successes too — and raises what comes back.

Mapping (first match wins):

======================================================  =====================================
answer                                                  error
======================================================  =====================================
3xx                                                     AnythingLLMProtocolError (redirect)
429                                                     AnythingLLMRateLimitError(retry_after)
5xx                                                     AnythingLLMServerError
401 from ``/v1/openai/...`` (model is not a slug)       AnythingLLMNotFoundError
401, 403 ``No valid api key found.`` / empty            AnythingLLMAuthenticationError
other 403 (e.g. deletion blocked by the admin)          AnythingLLMAPIError
404                                                     AnythingLLMNotFoundError
abort body / event saying "not a valid workspace",
"not found" or "... or thread ... is not valid"         AnythingLLMNotFoundError
200 "data: {abort}" line from thread stream-chat        AnythingLLMNotFoundError (unknown workspace)
abort body / event (200 or 4xx)                         AnythingLLMChatError
4xx message "... not a valid workspace" / "not found"   AnythingLLMNotFoundError
400 text ``Bad Request`` on ``/v1/workspace/<slug>...``  AnythingLLMNotFoundError
400, 409, 413, 415, 422                                 AnythingLLMValidationError
other 4xx                                               AnythingLLMAPIError
200 ``{"workspace": []}`` from GET /v1/workspace/<slug>   AnythingLLMNotFoundError
200 that is not JSON where JSON was due (HTML page)     AnythingLLMProtocolError
======================================================  =====================================
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from anythingllm_bridge.client._sse import SSEDecodeError, decode_all
from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMChatError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMValidationError,
)

__all__ = [
    "Expect",
    "Interpretation",
    "abort_error",
    "interpret_response",
    "parse_retry_after",
    "route_of",
    "server_message",
]

Expect = Literal["json", "text", "any"]

_MAX_TEXT = 2000  # longest text body kept on an error
# "Workspace x is not a valid workspace.", "Thread x not found.", "Folder x does not exist", and the
# thread stream-chat's 400 "Workspace <slug> or thread <slug> is not valid." (but not "banana is not
# a valid mode.", a refused chat)
_NOT_FOUND = re.compile(
    r"not a valid workspace|\b(?:workspace|thread)\b.*\bis not valid\b|\bnot found\b|does not exist",
    re.IGNORECASE,
)
_WORKSPACE_ROUTE = re.compile(r"^/v1/workspace/(?P<slug>[^/]+)(?:/thread/(?P<thread>[^/]+))?")
_WORKSPACE_GET = re.compile(r"^/v1/workspace/[^/]+$")
_THREAD_STREAM = re.compile(r"^/v1/workspace/[^/]+/thread/[^/]+/stream-chat$")
_HTML_TEXT = tuple(
    re.compile(rf"<{tag}[^>]*>(.*?)</{tag}>", re.IGNORECASE | re.DOTALL) for tag in ("pre", "h1", "title")
)
_WRONG_ROUTE_HINT = (
    "the base URL is probably wrong (give the server root, e.g. http://host:3001, where the API is "
    "under /api) or the server is too old for this endpoint"
)


class Interpretation(NamedTuple):
    """What a response means: the decoded ``data`` (JSON value or text) and the ``error``, if any."""

    data: Any
    error: AnythingLLMError | None


def route_of(path: str) -> str:
    """``/api/v1/x?y=1`` and ``/v1/x`` both become ``/v1/x`` (paths relative to ``<base>/api``)."""
    path = path.split("?", 1)[0]
    if path.startswith("/api/"):
        path = path[4:]
    return path


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, item in headers.items():
        if key.lower() == lower:
            return item
    return None


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (seconds or an HTTP date)."""
    raw_ms = _header(headers, "retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            pass
        else:
            if ms >= 0 and ms == ms and ms != float("inf"):
                return ms / 1000.0
    raw = _header(headers, "retry-after")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds == float("inf"):
        return None
    return max(0.0, seconds)


def server_message(body: Any) -> str | None:
    """The server's own words: ``error`` or ``message`` of a JSON object, or the text of a page."""
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, dict):
                inner = value.get("message")
                if isinstance(inner, str) and inner.strip():
                    return inner.strip()
        return None
    if isinstance(body, str):
        text = body.strip()
        if not text:
            return None
        if text.startswith("<"):
            found = next((m for m in (p.search(text) for p in _HTML_TEXT) if m), None)
            if found is None:
                return None
            text = re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()
        return text[:300] or None
    return None


def _kept(body: Any) -> Any:
    return body[:_MAX_TEXT] if isinstance(body, str) else body


def _what_is_missing(route: str) -> str:
    match = _WORKSPACE_ROUTE.match(route)
    if match is None:
        return "the requested item does not exist"
    if match["thread"]:
        return f"workspace {match['slug']!r} or its thread {match['thread']!r} does not exist"
    return f"workspace {match['slug']!r} does not exist"


def abort_error(
    payload: Mapping[str, Any],
    *,
    status: int,
    method: str,
    path: str,
    trace_id: str | None,
) -> AnythingLLMAPIError:
    """The error for a chat ``abort`` envelope or stream event (not-found wording → NotFound)."""
    said = server_message(payload) or "no reason given"
    kwargs: dict[str, Any] = {
        "status": status,
        "body": dict(payload),
        "server_message": said,
        "method": method,
        "path": path,
        "trace_id": trace_id,
    }
    if _NOT_FOUND.search(said):
        return AnythingLLMNotFoundError(f"not found: {said}", **kwargs)
    return AnythingLLMChatError(f"the chat was aborted by the server: {said}", **kwargs)


def interpret_response(
    status: int,
    content_type: str,
    headers: Mapping[str, str],
    text: str,
    *,
    method: str,
    path: str,
    trace_id: str | None,
    expect: Expect = "json",
    now: float | None = None,
) -> Interpretation:
    """Decode one response and decide whether it is an error.

    ``content_type`` may carry parameters; ``path`` is relative to ``<base>/api`` (a leading
    ``/api`` is tolerated); ``expect`` is what a success must look like: ``"json"``, ``"text"``
    (plain text such as ``OK``; an HTML page is still refused) or ``"any"``. ``now`` (epoch
    seconds) only matters for a ``Retry-After`` given as an HTTP date.
    """
    mime = _mime(content_type)
    body: Any = text
    broken_json = False
    if _is_json(mime) and text and not text.isspace():
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            broken_json = True

    if 200 <= status < 300:
        return Interpretation(
            body,
            _success_error(status, mime, text, body, broken_json, method, path, trace_id, expect),
        )
    return Interpretation(body, _failure_error(status, mime, headers, body, method, path, trace_id, now))


def _success_error(
    status: int,
    mime: str,
    text: str,
    body: Any,
    broken_json: bool,
    method: str,
    path: str,
    trace_id: str | None,
    expect: Expect,
) -> AnythingLLMError | None:
    if isinstance(body, dict):
        if body.get("type") == "abort":
            return abort_error(body, status=status, method=method, path=path, trace_id=trace_id)
        if body.get("workspace") == [] and method == "GET" and _WORKSPACE_GET.match(route := route_of(path)):
            return AnythingLLMNotFoundError(
                _what_is_missing(route), status=status, body=body, method=method, path=path, trace_id=trace_id
            )
        return None
    problem: str | None = None
    if text.lstrip().startswith("data:"):
        # a stream route that crashed before streaming: one "data: {...abort...}" line (API.md §11)
        try:
            events = decode_all(text)
        except SSEDecodeError:
            events = []
        for event in events:
            if event.get("type") == "abort":
                error = abort_error(event, status=status, method=method, path=path, trace_id=trace_id)
                route = route_of(path)
                if _THREAD_STREAM.match(route) and not isinstance(error, AnythingLLMNotFoundError):
                    # 1.16.0 crashes this way (and only this way) on an unknown workspace
                    return AnythingLLMNotFoundError(
                        f"{_what_is_missing(route)} (the server crashed on it: {error.server_message})",
                        status=status,
                        body=error.body,
                        server_message=error.server_message,
                        method=method,
                        path=path,
                        trace_id=trace_id,
                    )
                return error
        if expect == "json":
            problem = "expected JSON but the server sent an event stream"
    elif broken_json:
        problem = f"the server sent {mime} that is not valid JSON"
    elif expect == "json":
        if not _is_json(mime):
            problem = (
                f"expected JSON but got {mime or 'no content type'} (status {status}): {_WRONG_ROUTE_HINT}"
            )
        elif not text.strip():
            problem = f"expected JSON but the body is empty (status {status})"
    elif expect == "text" and (
        mime == "text/html" or text.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))
    ):
        problem = f"expected a plain answer but got an HTML page (status {status}): {_WRONG_ROUTE_HINT}"
    if problem is None:
        return None
    return AnythingLLMProtocolError(
        problem,
        status=status,
        content_type=mime or None,
        body=text[:_MAX_TEXT],
        method=method,
        path=path,
        trace_id=trace_id,
    )


def _failure_error(
    status: int,
    mime: str,
    headers: Mapping[str, str],
    body: Any,
    method: str,
    path: str,
    trace_id: str | None,
    now: float | None,
) -> AnythingLLMError:
    route = route_of(path)
    said = server_message(body)
    kwargs: dict[str, Any] = {
        "status": status,
        "body": _kept(body),
        "server_message": said,
        "method": method,
        "path": path,
        "trace_id": trace_id,
    }
    detail = f": {said}" if said else ""

    if 300 <= status < 400:
        location = _header(headers, "location")
        to = f" to {location}" if location else ""
        return AnythingLLMProtocolError(
            f"the server redirected{to} (status {status}); use the final address as the base URL",
            status=status,
            content_type=mime or None,
            body=_kept(body) if isinstance(body, str) else None,
            method=method,
            path=path,
            trace_id=trace_id,
        )
    if status == 429:
        retry_after = parse_retry_after(headers, now=now)
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return AnythingLLMRateLimitError(
            f"rate limited (429){detail}{wait}", retry_after=retry_after, **kwargs
        )
    if status >= 500:
        error: AnythingLLMAPIError = AnythingLLMServerError(
            f"server error {status}{detail or ' (no details in the answer)'}", **kwargs
        )
        error.retry_after = parse_retry_after(headers, now=now)
        return error
    if status == 401 and route.startswith("/v1/openai/"):
        return AnythingLLMNotFoundError(
            "the model is not a workspace slug (AnythingLLM answers 401 for an unknown model)", **kwargs
        )
    if status == 401 or (status == 403 and (said is None or "api key" in said.lower())):
        return AnythingLLMAuthenticationError(
            f"the API key was not accepted ({status}{detail}); check ANYTHINGLLM_API_KEY", **kwargs
        )
    if status == 403:
        return AnythingLLMAPIError(f"forbidden (403){detail}", **kwargs)
    if status == 404:
        return AnythingLLMNotFoundError(
            said if said and said != "Not Found" else _what_is_missing(route), **kwargs
        )
    if isinstance(body, dict) and body.get("type") == "abort":
        return abort_error(body, status=status, method=method, path=path, trace_id=trace_id)
    if said and _NOT_FOUND.search(said):
        return AnythingLLMNotFoundError(f"not found: {said}", **kwargs)
    if status == 400 and mime == "text/plain" and said == "Bad Request" and _WORKSPACE_ROUTE.match(route):
        return AnythingLLMNotFoundError(
            f"{_what_is_missing(route)} (the server answered 400 Bad Request)", **kwargs
        )
    if status in (400, 409, 413, 415, 422):
        if mime == "text/html":
            detail = f": {said} (the server could not read the request body)" if said else ""
        return AnythingLLMValidationError(f"the server refused the request ({status}){detail}", **kwargs)
    return AnythingLLMAPIError(f"the server answered {status}{detail}", **kwargs)
