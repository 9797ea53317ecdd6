"""Express-style answers, exactly as the real AnythingLLM server (Node + Express) puts them on the wire.

Content types carry ``; charset=utf-8`` like Express's; JSON is compact and formats numbers the
JavaScript way (``0`` not ``0.0``); ``sendStatus`` answers are the status texts (``OK``, ``Bad Request``);
body-parser's refusal of malformed JSON is Express's HTML error page, byte for byte; unknown routes get
the web UI's index page with 200, as a production build does.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from aiohttp import web

from anythingllm_bridge.testing.faults.drops import CUT_STREAM_AFTER, drop_connection

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
_EXPRESS_HEADERS = {"X-Powered-By": "Express", "Vary": "Origin"}

#: Node's default ``keepAliveTimeout`` in seconds: an idle kept-alive connection is closed after it.
KEEP_ALIVE_TIMEOUT = 5

#: Express (finalhandler) page for an error raised before any route, e.g. body-parser's 400.
EXPRESS_ERROR_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
    "</head>\n<body>\n<pre>{message}</pre>\n</body>\n</html>\n"
)

#: the web UI's index page: what a production server answers (200) for any unknown route.
SPA_INDEX_PAGE = """
       <!DOCTYPE html>
        <html lang="en">
          <head>
            <meta charset="UTF-8" />
            <meta name="viewport" content="width=device-width, initial-scale=1.0" />
            <link type="image/svg+xml" href="/favicon.png" >
<title >AnythingLLM | Your personal LLM trained on anything</title>
<meta name="title" content="AnythingLLM | Your personal LLM trained on anything" >
<meta description="title" content="AnythingLLM | Your personal LLM trained on anything" >
<meta property="og:type" content="website" >
<meta property="og:url" content="https://anythingllm.com" >
<meta property="og:title" content="AnythingLLM | Your personal LLM trained on anything" >
<meta property="og:description" content="AnythingLLM | Your personal LLM trained on anything" >
<meta property="og:image" content="{promo}" >
<meta property="twitter:card" content="summary_large_image" >
<meta property="twitter:url" content="https://anythingllm.com" >
<meta property="twitter:title" content="AnythingLLM | Your personal LLM trained on anything" >
<meta property="twitter:description" content="AnythingLLM | Your personal LLM trained on anything" >
<meta property="twitter:image" content="{promo}" >
<link rel="icon" href="/favicon.png" >
<link rel="apple-touch-icon" href="/favicon.png" >
<meta name="mobile-web-app-capable" content="yes" >
<meta name="apple-mobile-web-app-capable" content="yes" >
<meta name="apple-mobile-web-app-status-bar-style" content="black-translucent" >
<link rel="manifest" href="/manifest.json" >
            <script type="module" crossorigin src="/index.js"></script>
            <link rel="stylesheet" href="/index.css">
          </head>
          <body>
            <div id="root" class="h-screen"></div>
          </body>
        </html>""".format(
    promo="https://raw.githubusercontent.com/Mintplex-Labs/anything-llm/master/images/promo.png"
)

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
}


def js_value(value: Any) -> Any:
    """``value`` with numbers as JavaScript would print them: integral floats become ints, NaN null."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {k: js_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [js_value(v) for v in value]
    return value


def js_dumps(value: Any) -> str:
    """``JSON.stringify(value)``: compact, non-ASCII kept as is."""
    return json.dumps(js_value(value), separators=(",", ":"), ensure_ascii=False)


def json_answer(data: Any, status: int = 200) -> web.Response:
    """``response.status(status).json(data)``."""
    return web.Response(
        status=status, body=js_dumps(data).encode(), headers={**_EXPRESS_HEADERS, "Content-Type": JSON_TYPE}
    )


def status_answer(status: int) -> web.Response:
    """``response.sendStatus(status)``: the status text as ``text/plain``."""
    return web.Response(
        status=status,
        body=_STATUS_TEXT[status].encode(),
        headers={**_EXPRESS_HEADERS, "Content-Type": TEXT_TYPE},
    )


def empty_answer(status: int) -> web.Response:
    """``response.status(status).end()``: no body, no content type."""
    return web.Response(status=status, headers=_EXPRESS_HEADERS)


def html_answer(page: str, status: int = 200, *, error_page: bool = False) -> web.Response:
    headers = {**_EXPRESS_HEADERS, "Content-Type": HTML_TYPE}
    if error_page:
        headers |= {"Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff"}
    return web.Response(status=status, body=page.encode(), headers=headers)


def express_error_page(status: int = 400) -> web.Response:
    """Express's own error page (what body-parser's refusal of malformed JSON looks like)."""
    return html_answer(EXPRESS_ERROR_PAGE.format(message=_STATUS_TEXT[status]), status, error_page=True)


def spa_index() -> web.Response:
    """The 200 HTML a production server sends for any route it does not know."""
    return html_answer(SPA_INDEX_PAGE)


def abort_envelope(error: str, *, envelope_id: str | None = None) -> dict[str, Any]:
    """The chat endpoints' error object (``type: "abort"``)."""
    return {
        "id": envelope_id or str(uuid.uuid4()),
        "type": "abort",
        "textResponse": None,
        "sources": [],
        "close": True,
        "error": error,
    }


class EventStream:
    """A server-sent-event answer as the server writes it: ``data: <json>\\n\\n`` per event, nothing else.

    Honours the fault injector's ``request["cut_stream_after"]``: after that many events the connection
    is closed abruptly (no end of the chunked body), the way a dying server or proxy cuts a stream.
    """

    def __init__(self, request: web.Request, *, event_stream: bool = True) -> None:
        self._request = request
        self._response = web.StreamResponse(status=200, headers=dict(_EXPRESS_HEADERS))
        if event_stream:
            self._response.headers.update(
                {
                    "Cache-Control": "no-cache",
                    "Content-Type": "text/event-stream",
                    "Access-Control-Allow-Origin": "*",
                    "Connection": "keep-alive",
                }
            )
        cut = request.get(CUT_STREAM_AFTER)
        self._cut_after = cut if isinstance(cut, int) and not isinstance(cut, bool) else None
        self.sent = 0

    async def open(self) -> None:
        await self._response.prepare(self._request)

    async def _before_write(self) -> None:
        """Open the stream if it is not yet; once ``cut_stream_after`` events are sent, cut it instead."""
        if not self._response.prepared:
            await self.open()
        if self._cut_after is not None and self.sent >= self._cut_after:
            drop_connection(self._request)

    async def send(self, event: dict[str, Any]) -> None:
        await self._before_write()
        await self._response.write(f"data: {js_dumps(event)}\n\n".encode())
        self.sent += 1

    async def close(self) -> web.StreamResponse:
        await self._before_write()
        await self._response.write_eof()
        return self._response


async def node_connection_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Announce a kept-alive connection as Node does: ``Connection: keep-alive``, ``Keep-Alive: timeout=5``.

    An answer that names its own ``Connection`` (the event streams) gets no ``Keep-Alive``, and one on a
    connection that will close is left to say ``Connection: close`` -- both as with Node.
    """
    if "Connection" in response.headers or request.version < (1, 1):
        return
    keep_alive = response.keep_alive if response.keep_alive is not None else request.keep_alive
    if keep_alive:
        response.headers["Connection"] = "keep-alive"
        response.headers["Keep-Alive"] = f"timeout={KEEP_ALIVE_TIMEOUT}"
