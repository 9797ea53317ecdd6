"""Key safety: what a storage key may look like, checked before any backend is touched.

A key is a relative, ``/``-separated name (``"reports/2024/q1.pdf"``). Rejected, with a
:class:`StorageKeyError` that says why:

* anything that is not a non-empty ``str``, or longer than 1024 bytes in UTF-8 (the S3 limit);
* absolute keys (``/etc/passwd``), Windows drive letters (``C:...``) and backslashes;
* NUL and every other control character (C0, DEL, C1), line/paragraph separators, lone surrogates;
* empty segments (``a//b``, a leading or trailing ``/``) and the segments ``.`` and ``..``.

The same rules hold for every backend, so a key accepted by local storage is accepted by S3 and the
other way round. Local storage adds its own check that symlinks do not lead outside its folder.
"""

from __future__ import annotations

import re
import unicodedata

from anythingllm_bridge.errors import StorageKeyError

__all__ = ["MAX_KEY_BYTES", "validate_key", "validate_prefix"]

MAX_KEY_BYTES = 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise StorageKeyError(f"{what} must be a str, not {type(value).__name__}")
    for index, char in enumerate(value):
        if unicodedata.category(char) in _BAD_CATEGORIES:
            raise StorageKeyError(
                f"{what} {value!r} contains the control character U+{ord(char):04X} at position {index}",
                key=value,
            )
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        raise StorageKeyError(f"{what} is longer than {MAX_KEY_BYTES} bytes in UTF-8", key=value)
    if "\\" in value:
        raise StorageKeyError(f"{what} {value!r} contains a backslash; use '/' between folders", key=value)
    if value.startswith("/"):
        raise StorageKeyError(f"{what} {value!r} is absolute; keys are relative to the root", key=value)
    if _DRIVE.match(value):
        raise StorageKeyError(f"{what} {value!r} starts with a drive letter", key=value)
    return value


def _check_segments(value: str, segments: list[str], what: str) -> None:
    for segment in segments:
        if segment == "":
            raise StorageKeyError(f"{what} {value!r} has an empty segment ('//' or '/' at an end)", key=value)
        if segment in (".", ".."):
            raise StorageKeyError(f"{what} {value!r} contains the segment {segment!r}", key=value)


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`StorageKeyError`."""
    value = _check_text(key, "key")
    if value == "":
        raise StorageKeyError("key is empty", key=value)
    _check_segments(value, value.split("/"), "key")
    return value


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a safe listing prefix (``""``, ``"docs/"``, ``"docs/re"``...)."""
    value = _check_text(prefix, "prefix")
    if value == "":
        return value
    segments = value.split("/")
    if segments[-1] == "":  # "docs/" lists a folder: the trailing slash is fine
        segments.pop()
    _check_segments(value, segments, "prefix")
    return value
