"""Every AnythingLLM answer → data or an error, in one pure function (:func:`interpret_response`).

AnythingLLM reports failure in many shapes: ``{"error": ...}`` or ``{"message": ...}``, the text
``Bad Request`` for a missing workspace, ``{"workspace": []}`` with status 200, an ``abort`` chat
envelope with status 200, 400 or 404, an empty 401 for an unknown OpenAI "model", and the web UI's
HTML page (status 200) for any unknown route. The transport hands every response here — successes
too — and raises what comes back. Nothing here reads the URL: what is particular to a route is
declared by the resource method that calls it, as a :class:`Subject` (what the call names, and how
its route says that it does not exist).

Mapping (first match wins):

======================================================  =====================================
answer                                                  error
======================================================  =====================================
3xx                                                     AnythingLLMProtocolError (redirect)
429                                                     AnythingLLMRateLimitError(retry_after)
5xx                                                     AnythingLLMServerError
the subject's ``bare`` status with no words of its own  AnythingLLMNotFoundError (the subject)
(empty, or only its reason phrase as plain text)
401, 403 ``No valid api key found.`` / empty            AnythingLLMAuthenticationError
other 403 (e.g. deletion blocked by the admin)          AnythingLLMAPIError
404                                                     AnythingLLMNotFoundError
abort body / event saying "not a valid workspace",
"not found" or "... or thread ... is not valid"         AnythingLLMNotFoundError
200 ``data: {abort}`` line when the subject ``crashes``  AnythingLLMNotFoundError (the subject)
abort body / event (200 or 4xx)                         AnythingLLMChatError
4xx message "... not a valid workspace" / "not found"   AnythingLLMNotFoundError
400, 409, 413, 415, 422                                 AnythingLLMValidationError
other 4xx                                               AnythingLLMAPIError
200 ``{"workspace": []}`` for a call with a subject     AnythingLLMNotFoundError (the subject)
200 that is not JSON where JSON was due (HTML page)     AnythingLLMProtocolError
======================================================  =====================================
"""

from __future__ import annotations

import email.utils
import functools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
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
    "Subject",
    "abort_error",
    "interpret_response",
    "parse_content_type",
    "parse_retry_after",
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
_HTML_TEXT = tuple(
    re.compile(rf"<{tag}[^>]*>(.*?)</{tag}>", re.IGNORECASE | re.DOTALL) for tag in ("pre", "h1", "title")
)
_WRONG_ROUTE_HINT = (
    "the base URL is probably wrong (give the server root, e.g. http://host:3001, where the API is "
    "under /api) or the server is too old for this endpoint"
)


@dataclass(frozen=True, slots=True)
class Subject:
    """What one call names, declared by the resource method making it, so that every way its route
    has of saying "no such thing" becomes ``AnythingLLMNotFoundError`` naming it.

    ``name`` reads as the subject of "... does not exist" (``"workspace 'docs'"``). ``bare``: a
    status (besides 404) that the route answers, with no words of its own, when the subject does not
    exist — 400 for the workspace routes that answer ``Bad Request``, 401 for the OpenAI chat's
    unknown model. ``crashes``: the route crashes on a missing subject, answering 200 with one
    ``data:`` abort line (a thread's stream-chat does, for an unknown workspace). A 200
    ``{"workspace": []}`` says the subject does not exist whatever the route.
    """

    name: str
    bare: int = 404
    crashes: bool = False


class Interpretation(NamedTuple):
    """What a response means: the decoded ``data`` (JSON value or text) and the ``error``, if any."""

    data: Any
    error: AnythingLLMError | None


@functools.lru_cache(maxsize=32)  # a server sends the same few values over and over
def parse_content_type(header: str) -> tuple[str, str | None]:
    """The media type (lower case, without parameters) and the charset of a Content-Type header
    ("" and None when there is none)."""
    mime, charset = header, None
    if ";" in header:
        mime, _, params = header.partition(";")
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"') or None
                break
    return mime.strip().lower(), charset


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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _is_bare(status: int, mime: str, said: str | None) -> bool:
    """The server gave only the status: no body, or its reason phrase as plain text
    (``res.sendStatus(400)`` sends ``Bad Request``)."""
    return said is None or (mime == "text/plain" and said == _phrase(status))


def _kept(body: Any) -> Any:
    return body[:_MAX_TEXT] if isinstance(body, str) else body


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
    subject: Subject | None = None,
    now: float | None = None,
) -> Interpretation:
    """Decode one response and decide whether it is an error.

    ``content_type`` may carry parameters; ``method``, ``path`` and ``trace_id`` only go onto the
    error; ``expect`` is what a success must look like: ``"json"``, ``"text"`` (plain text such as
    ``OK``; an HTML page is still refused) or ``"any"``; ``subject`` is what the call names (see
    :class:`Subject`). ``now`` (epoch seconds) only matters for a ``Retry-After`` given as an HTTP
    date.
    """
    mime = parse_content_type(content_type)[0]
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
            _success_error(status, mime, text, body, broken_json, method, path, trace_id, expect, subject),
        )
    return Interpretation(
        body, _failure_error(status, mime, headers, body, method, path, trace_id, subject, now)
    )


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
    subject: Subject | None,
) -> AnythingLLMError | None:
    if isinstance(body, dict):
        if body.get("type") == "abort":
            return abort_error(body, status=status, method=method, path=path, trace_id=trace_id)
        if subject is not None and body.get("workspace") == []:
            return AnythingLLMNotFoundError(
                f"{subject.name} does not exist",
                status=status,
                body=body,
                method=method,
                path=path,
                trace_id=trace_id,
            )
        return None
    problem: str | None = None
    if text.lstrip().startswith("data:"):
        # a stream route that crashed before streaming answers one "data: {...abort...}" line
        try:
            events = decode_all(text)
        except SSEDecodeError:
            events = []
        for event in events:
            if event.get("type") == "abort":
                error = abort_error(event, status=status, method=method, path=path, trace_id=trace_id)
                if (
                    subject is not None
                    and subject.crashes
                    and not isinstance(error, AnythingLLMNotFoundError)
                ):
                    return AnythingLLMNotFoundError(
                        f"{subject.name} does not exist (the server crashed on it: {error.server_message})",
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
    subject: Subject | None,
    now: float | None,
) -> AnythingLLMError:
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
    if subject is not None and status == subject.bare and _is_bare(status, mime, said):
        return AnythingLLMNotFoundError(
            f"{subject.name} does not exist (the server answered {status} {_phrase(status)})".rstrip(),
            **kwargs,
        )
    if status == 401 or (status == 403 and (said is None or "api key" in said.lower())):
        return AnythingLLMAuthenticationError(
            f"the API key was not accepted ({status}{detail}); check ANYTHINGLLM_API_KEY", **kwargs
        )
    if status == 403:
        return AnythingLLMAPIError(f"forbidden (403){detail}", **kwargs)
    if status == 404:
        missing = subject.name if subject is not None else "the requested item"
        return AnythingLLMNotFoundError(
            said if said and said != "Not Found" else f"{missing} does not exist", **kwargs
        )
    if isinstance(body, dict) and body.get("type") == "abort":
        return abort_error(body, status=status, method=method, path=path, trace_id=trace_id)
    if said and _NOT_FOUND.search(said):
        return AnythingLLMNotFoundError(f"not found: {said}", **kwargs)
    if status in (400, 409, 413, 415, 422):
        if mime == "text/html":
            detail = f": {said} (the server could not read the request body)" if said else ""
        return AnythingLLMValidationError(f"the server refused the request ({status}){detail}", **kwargs)
    return AnythingLLMAPIError(f"the server answered {status}{detail}", **kwargs)
