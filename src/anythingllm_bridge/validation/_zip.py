"""ZIP-based documents (docx, xlsx, pptx, epub, odt, odp, ods), checked from the head and the tail.

Only the local header of the first entry (in the head), the end-of-archive record (in the tail)
and as much of the central directory as the read budget allows are read; member data never is.

* OOXML (docx/xlsx/pptx): the directory must list ``[Content_Types].xml`` and the main part
  (``word/document.xml``, ``xl/workbook.xml``, ``ppt/presentation.xml``).
* EPUB / OpenDocument: the first entry must be the uncompressed ``mimetype`` file with the right
  media type, as both standards require.
* Every container must end with an end-of-archive record whose directory lies inside the file:
  a missing record means a truncated download.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from anythingllm_bridge.validation._content import Sample, describe_kind, really

__all__ = ["MIMETYPES", "OOXML_PARTS", "ReadAt", "check_zip"]

ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, size)``: bytes of the file; fewer than asked once the read budget is spent."""

OOXML_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}
MIMETYPES = {
    "epub": "application/epub+zip",
    "odt": "application/vnd.oasis.opendocument.text",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"


def _directory(sample: Sample, read_at: ReadAt) -> tuple[int, int] | str:
    """(offset, size) of the central directory, from the end record; or why it cannot be found."""
    tail = sample.tail
    pos = tail.rfind(_END)
    if pos < 0 or len(tail) - pos < 22:
        return "is a truncated ZIP container (no end-of-archive record at its end)"
    entries, size, offset = struct.unpack("<HII", tail[pos + 10 : pos + 20])
    end_at = sample.size - len(tail) + pos
    if 0xFFFFFFFF in (size, offset) or entries == 0xFFFF:  # ZIP64: the real numbers are elsewhere
        locator = tail[pos - 20 : pos] if pos >= 20 else b""
        if not locator.startswith(_END64_LOCATOR):
            return "is a corrupt ZIP64 container (no ZIP64 end-record locator)"
        (record_at,) = struct.unpack("<Q", locator[8:16])
        record = read_at(record_at, 56)
        if len(record) < 56 or not record.startswith(_END64):
            return "is a corrupt ZIP64 container (no ZIP64 end record)"
        size, offset = struct.unpack("<QQ", record[40:56])
        end_at = record_at
    if offset + size > end_at:
        return "is a truncated or corrupt ZIP container (its directory points past its end)"
    return offset, size


def _names(read_at: ReadAt, offset: int, size: int) -> tuple[set[str], bool] | str:
    """Member names in the central directory (as much as the budget reads); and whether it was all."""
    data = read_at(offset, size)
    names: set[str] = set()
    i = 0
    while i + 46 <= len(data):
        if data[i : i + 4] != _CENTRAL:
            return "is a corrupt ZIP container (bad central directory entry)"
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[i + 28 : i + 34])
        if i + 46 + name_len > len(data):
            break
        names.add(data[i + 46 : i + 46 + name_len].decode("utf-8", "replace"))
        i += 46 + name_len + extra_len + comment_len
    return names, len(data) == size


def check_zip(sample: Sample, claimed: str, read_at: ReadAt) -> str | None:
    """Whether the file is a ``claimed`` (docx, xlsx, pptx, epub, odt, odp, ods) container."""
    head = sample.head
    if not head.startswith(_LOCAL):
        return really(sample, claimed, f"is not a real .{claimed} file (not a ZIP container)")
    directory = _directory(sample, read_at)
    if isinstance(directory, str):
        return directory
    if claimed in MIMETYPES:
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        start = 30 + name_len + extra_len
        expected = MIMETYPES[claimed].encode()
        if head[30 : 30 + name_len] != b"mimetype" or head[start : start + len(expected)] != expected:
            return f"is a ZIP archive but no .{claimed} file (no {MIMETYPES[claimed]} mimetype first)"
        return None
    found = _names(read_at, *directory)
    if isinstance(found, str):
        return found
    names, whole = found
    required = ["[Content_Types].xml", OOXML_PARTS[claimed]]
    missing = [name for name in required if name not in names]
    if not missing:
        return None
    for other, part in OOXML_PARTS.items():
        if other != claimed and part in names:
            return f"is really {describe_kind(other)}, not a .{claimed} file"
    where = "" if whole else " in the part of its directory read"
    return f"is a ZIP archive but no .{claimed} file (no {missing[-1]} inside{where})"
