"""An incremental server-sent-events decoder: bytes in, complete events out. Pure, no I/O.

AnythingLLM sends each event as one ``data: <JSON>`` line followed by a blank line, and an event
carrying sources can be megabytes long; aiohttp's line reader refuses lines over 512 KiB, so the
transport feeds raw chunks from ``resp.content.iter_any()`` here instead. Lines may end in ``\\n``,
``\\r\\n`` or ``\\r``; comment lines (``:...``) and fields other than ``data`` are ignored; several
``data`` lines of one event are joined with ``\\n``. Each event's data is decoded as JSON.

Chunk boundaries do not matter: feeding the same bytes in any split yields the same events.
There is no size limit; each byte is scanned once.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SSEDecodeError", "SSEDecoder", "decode_all"]


class SSEDecodeError(ValueError):
    """An event whose data is not a JSON object (``raw`` holds the first 200 characters)."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw[:200]


_CR = 0x0D
_LF = 0x0A
# Sentinels some servers send instead of an object; never an event of their own.
_IGNORED_DATA = frozenset({"[DONE]"})


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream for a final unterminated event."""

    __slots__ = ("_buf", "_data", "_pos", "_scan", "_skip_lf")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the current (incomplete) line in _buf
        self._scan = 0  # where to continue looking for a line end
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._data: list[str] = []  # data lines of the event being built

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the events completed by them (possibly none)."""
        if not chunk:
            return []
        buf = self._buf
        buf += chunk
        if self._skip_lf:
            self._skip_lf = False
            if buf[self._pos] == _LF:
                self._pos += 1
                self._scan = self._pos
        events: list[dict[str, Any]] = []
        pos = self._pos
        scan = self._scan
        end = len(buf)
        while scan < end:
            lf = buf.find(b"\n", scan)
            cr = buf.find(b"\r", scan, lf if lf >= 0 else end)
            if cr >= 0:
                eol, nxt = cr, cr + 1
                if nxt < end:
                    if buf[nxt] == _LF:
                        nxt += 1
                else:
                    self._skip_lf = True  # a CR at the end of the chunk: maybe a CRLF split in two
            elif lf >= 0:
                eol, nxt = lf, lf + 1
            else:
                scan = end
                break
            event = self._line(buf, pos, eol)
            if event is not None:
                events.append(event)
            pos = scan = nxt
        # drop consumed bytes once per chunk, so the buffer holds only the incomplete line
        if pos:
            del buf[:pos]
            scan -= pos
            pos = 0
        self._pos = pos
        self._scan = scan
        return events

    def close(self) -> list[dict[str, Any]]:
        """End of stream: a last event missing its blank line is still delivered."""
        events: list[dict[str, Any]] = []
        if self._pos < len(self._buf):
            event = self._line(self._buf, self._pos, len(self._buf))
            if event is not None:
                events.append(event)
        self._buf.clear()
        self._pos = self._scan = 0
        self._skip_lf = False
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, buf: bytearray, start: int, end: int) -> dict[str, Any] | None:
        if start == end:
            return self._dispatch()
        if buf[start] == 0x3A:  # ":" comment / heartbeat
            return None
        line = buf[start:end].decode("utf-8", errors="replace")
        name, _, value = line.partition(":")
        if name == "data":  # "data" alone is an empty data line
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None  # event:, id:, retry: and unknown fields are not used by AnythingLLM

    def _dispatch(self) -> dict[str, Any] | None:
        if not self._data:
            return None
        raw = "\n".join(self._data)
        self._data = []
        if raw.strip() in _IGNORED_DATA:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            raise SSEDecodeError("an event's data is not valid JSON", raw) from None
        if not isinstance(value, dict):
            raise SSEDecodeError(f"an event's data is JSON {type(value).__name__}, not an object", raw)
        return value


def decode_all(body: bytes | str) -> list[dict[str, Any]]:
    """Every event of a complete body (for responses read whole)."""
    decoder = SSEDecoder()
    data = body.encode("utf-8") if isinstance(body, str) else body
    return [*decoder.feed(data), *decoder.close()]
