"""How a key (a file's path in its source) is written as text: exactly, for the markers and the
cache, and printably, for people.

A key is what the file system gave: a name that is not valid UTF-8 is held with surrogate escapes,
and a name may hold control characters (a newline, a terminal escape sequence). So:

* :func:`key_to_text` / :func:`key_from_text`: the exact form JSON can hold — the key itself, or,
  when it is not UTF-8, its bytes percent-encoded (and a flag saying so, so no name is mistaken
  for another); every key round-trips;
* :func:`display_key`: the form shown in reports, progress lines and errors — bytes that are not
  UTF-8 as ``\\xNN``, control characters (C0, DEL, C1) as ``\\n``, ``\\t``, ``\\x1b`` ..., so a name
  never moves the cursor or recolours a terminal; :func:`printable` does the same to any text that
  may carry a name (an error's reason);
* :func:`json_key`: the form of ``--json``: bytes that are not UTF-8 as ``\\xNN`` (JSON cannot hold
  them), everything else exact (JSON escapes control characters itself).
"""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes, unquote_to_bytes

__all__ = ["display_key", "json_key", "key_from_text", "key_to_text", "printable"]

#: C0 controls, DEL and C1 controls: what a terminal may act on instead of showing.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def key_to_text(key: str) -> tuple[str, bool]:
    """``key`` as JSON can hold it exactly, and whether it had to be turned into bytes (a name that
    is not UTF-8 becomes its bytes, percent-encoded, ``/`` kept)."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return quote_from_bytes(key.encode("utf-8", "surrogateescape"), safe="/"), True
    return key, False


def key_from_text(text: str, as_bytes: object) -> str:
    """The key :func:`key_to_text` wrote (``as_bytes`` is the flag it returned, ``True`` only)."""
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape") if as_bytes is True else text


def printable(text: str) -> str:
    """``text`` without anything a terminal would act on: control characters escaped (``\\n``,
    ``\\x1b``), lone surrogates (bytes that were not UTF-8) as ``\\xNN``."""
    text = json_key(text)
    return CONTROL.sub(lambda found: _NAMED.get(found[0], f"\\x{ord(found[0]):02x}"), text)


def display_key(key: str) -> str:
    """``key`` as printable text (see :func:`printable`)."""
    return printable(key)


def json_key(key: str) -> str:
    """``key`` as ``--json`` shows it: bytes that are not UTF-8 as ``\\xNN``, the rest exact."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
