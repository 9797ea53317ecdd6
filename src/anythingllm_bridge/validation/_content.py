"""Content checks: does what was read of a file fit the type it claims? Pure functions, no I/O.

Each check takes a :class:`Sample` and the claimed type name (``"csv"``) and returns ``None`` when
the content fits, or a reason completing the sentence "the file ..." when it does not.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass

import filetype

__all__ = [
    "MEDIA_KINDS",
    "Sample",
    "check_csv",
    "check_json",
    "check_mbox",
    "check_media",
    "check_pdf",
    "check_text",
    "magic_says",
    "really",
]

UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # (UTF-32 LE starts like UTF-16 LE)
PDF_HEADER_WINDOW = 1024
"""``%PDF-`` may appear anywhere in the first 1024 bytes (PDF readers accept leading junk)."""
PDF_EOF_WINDOW = 4096
"""``%%EOF`` must appear in the last 4 KiB; a PDF without it is treated as truncated."""
CSV_ROWS = 50
"""How many leading rows of a CSV must agree on their number of columns."""
_CSV_DELIMITERS = (",", ";", "\t", "|")
_JSON_SPACE = b" \t\r\n"
_CONTROL_BYTES = bytes(set(range(32)) - set(b"\t\n\r\f\v\x1b"))  # controls ordinary text does not hold

_FRIENDLY = {
    "elf": "an ELF executable (Linux/Unix program)",
    "exe": "a Windows executable (.exe/.dll)",
    "zip": "a ZIP archive",
    "gz": "a gzip archive",
    "7z": "a 7-Zip archive",
    "rar": "a RAR archive",
    "tar": "a tar archive",
    "pdf": "a PDF document",
    "png": "a PNG image",
    "jpg": "a JPEG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "bmp": "a BMP image",
    "docx": "a Word document (DOCX)",
    "xlsx": "an Excel workbook (XLSX)",
    "pptx": "a PowerPoint presentation (PPTX)",
    "epub": "an EPUB book",
    "odt": "an OpenDocument text (ODT)",
    "odp": "an OpenDocument presentation (ODP)",
    "ods": "an OpenDocument spreadsheet (ODS)",
    "sqlite": "an SQLite database",
    "wasm": "a WebAssembly module",
}

MEDIA_KINDS: dict[str, frozenset[str]] = {
    "png": frozenset({"png", "apng"}),
    "jpg": frozenset({"jpg"}),
    "gif": frozenset({"gif"}),
    "webp": frozenset({"webp"}),
    "mp3": frozenset({"mp3"}),
    "wav": frozenset({"wav"}),
    "ogg": frozenset({"ogg"}),
    "opus": frozenset({"ogg"}),
    "m4a": frozenset({"m4a", "mp4"}),
    "mp4": frozenset({"mp4", "m4v", "m4a", "mov"}),
    "webm": frozenset({"webm", "mkv"}),
    "mpeg": frozenset({"mpg"}),
}
"""Image, audio and video types → what the ``filetype`` package may call content of that type."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What was read of a file: its ``head``, its ``tail`` and its ``size``.

    ``complete`` means the whole file was read: ``head`` is then the whole file.
    """

    head: bytes
    tail: bytes
    size: int
    complete: bool


def describe_binary(data: bytes) -> str | None:
    """What the magic bytes say ``data`` is, e.g. ``"a PNG image (image/png)"``; ``None`` if unknown."""
    kind = filetype.guess(data)
    if kind is None:
        return None
    return _FRIENDLY.get(kind.extension) or f"a {kind.extension.upper()} file ({kind.mime})"


def describe_kind(extension: str) -> str:
    """A readable name for a ``filetype`` extension: ``"xlsx"`` → ``"an Excel workbook (XLSX)"``."""
    return _FRIENDLY.get(extension, f"a {extension.upper()} file")


def really(sample: Sample, claimed: str, fallback: str) -> str:
    """What the magic bytes say the file really is ("is really ..., not a .csv file"), else ``fallback``."""
    found = describe_binary(sample.head)
    return f"is really {found}, not a .{claimed} file" if found else fallback


# ---------------------------------------------------------------------- text


def _utf8_problem(data: bytes, *, final: bool, offset: int) -> str | None:
    """Strict UTF-8 decoding; ``final=False`` lets ``data`` end inside a character."""
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=final)
    except UnicodeDecodeError as exc:
        return (
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02X} at offset {offset + exc.start}); "
            "save it as UTF-8"
        )
    return None


def check_text(sample: Sample, claimed: str) -> str | None:
    """Text (txt, md, html, ...): UTF-8 with an optional BOM, no NUL bytes, few control characters.

    Both the head and the tail are decoded: a file that turns binary or Latin-1 at its end is caught.
    """
    head, tail = sample.head, sample.tail
    if head.startswith(_UTF16_BOMS):
        return "is UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8"
    for part, start in ((head, 0), (tail, sample.size - len(tail))):
        nul = part.find(b"\x00")
        if nul < 0:
            continue
        if _looks_like_utf16(sample):
            fallback = "looks like UTF-16 text (NUL bytes between the characters); save it as UTF-8"
        else:
            fallback = f"is binary data, not a .{claimed} file (NUL byte at offset {start + nul})"
        return really(sample, claimed, fallback)
    body = head.removeprefix(UTF8_BOM)
    problem = _utf8_problem(body, final=sample.complete, offset=len(head) - len(body))
    if problem is None and not sample.complete:
        skip = 0
        while skip < min(3, len(tail)) and 0x80 <= tail[skip] <= 0xBF:  # the tail starts mid-character
            skip += 1
        problem = _utf8_problem(tail[skip:], final=True, offset=sample.size - len(tail) + skip)
    if problem is not None:
        return really(sample, claimed, problem)
    controls = len(body) - len(body.translate(None, _CONTROL_BYTES))  # (UTF-8 keeps them single bytes)
    if controls * 10 > len(body):
        return really(
            sample, claimed, f"is binary data, not a .{claimed} file ({controls} control characters)"
        )
    return None


def _looks_like_utf16(sample: Sample) -> bool:
    """UTF-16 text of Latin script: an even length, and NUL bytes in most of the odd places (big
    endian: the even ones) but few of the others. A run of zeros has them in both."""
    head = sample.head
    if len(head) < 2 or (sample.complete and len(head) % 2):
        return False
    pairs = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) * 2 > pairs and min(even, odd) * 8 < pairs


def check_mbox(sample: Sample, claimed: str = "mbox") -> str | None:
    """A mailbox: text that starts with a ``From`` line."""
    problem = check_text(sample, claimed)
    if problem is None and not sample.head.removeprefix(UTF8_BOM).startswith(b"From "):
        return "is not an mbox mailbox (it does not start with a 'From ' line)"
    return problem


# ---------------------------------------------------------------------- pdf / json / csv / media


def check_pdf(sample: Sample, claimed: str = "pdf") -> str | None:
    """``%PDF-`` within the first 1024 bytes, and ``%%EOF`` within the last 4 KiB (else: truncated)."""
    if b"%PDF-" not in sample.head[:PDF_HEADER_WINDOW]:
        return really(sample, claimed, "is not a PDF (no %PDF- header in its first 1024 bytes)")
    if b"%%EOF" not in sample.tail[-PDF_EOF_WINDOW:]:
        return "is a truncated PDF (no %%EOF marker near its end)"
    return None


def check_json(sample: Sample, claimed: str = "json") -> str | None:
    """An object or array: ``{`` or ``[`` first (after an optional BOM and white space).

    A file read whole is parsed (one nested deeper than the parser can follow, about a thousand
    levels, is refused); a larger one must be UTF-8 text that ends with the matching bracket.
    """
    head = sample.head.removeprefix(UTF8_BOM)
    body = head.lstrip(_JSON_SPACE)
    if not body:
        return (
            "holds no JSON value, only white space" if sample.complete else "starts with a run of white space"
        )
    problem = check_text(sample, claimed)
    if problem is not None:
        return problem
    opener = body[:1]
    if opener not in (b"{", b"["):
        start = body[:16].decode("utf-8", "replace")
        return really(sample, claimed, f"is not a JSON object or array (it starts with {start!r})")
    if sample.complete:
        try:
            json.loads(head.decode("utf-8"))
        except json.JSONDecodeError as exc:
            return f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        except RecursionError:  # the parser recurses once per level: about a thousand levels at most
            return "is JSON nested too deeply to check (about a thousand levels or more)"
        return None
    closer = sample.tail.rstrip(_JSON_SPACE)[-1:]
    if closer != (b"}" if opener == b"{" else b"]"):
        return (
            f"is truncated JSON (it opens with {opener.decode()} but ends with {closer.decode('latin-1')!r})"
        )
    return None


def check_csv(sample: Sample, claimed: str = "csv") -> str | None:
    """UTF-8 text without NUL bytes whose first rows agree on a number (≥ 2) of columns.

    The delimiter may be ``,`` ``;`` tab or ``|``. A one-column file cannot be told apart from
    plain text, so it is refused. Of a file not read whole only the records the head holds whole
    count (a quoted field may span lines); a first record longer than the head is judged by the
    part of it the head holds.
    """
    problem = check_text(sample, claimed)
    if problem is not None:
        return problem
    text = sample.head.removeprefix(UTF8_BOM).decode("utf-8", "ignore")  # (the head may cut a character)
    cut = not sample.complete
    for delimiter in _CSV_DELIMITERS:
        counts = _column_counts(text, delimiter, cut=cut)
        if counts and counts[0] >= 2 and all(count == counts[0] for count in counts):
            return None
    counts = _column_counts(text, ",", cut=cut)
    if not counts:
        return "has no CSV row, only blank lines"
    if all(count == 1 for count in counts):
        return "is not CSV: no row has a delimiter (one column is plain text: name it .txt)"
    shown = ", ".join(str(count) for count in counts[:8])
    return f"is not consistent CSV: its first rows have different numbers of columns ({shown}, ...)"


def _column_counts(text: str, delimiter: str, *, cut: bool) -> list[int]:
    """The number of columns of each of the first (non-blank) rows.

    When ``text`` is ``cut`` (the head of a larger file), the record that reaches its end may be
    incomplete: it is left out, unless it is the first one.
    """
    lines = io.StringIO(text, newline="").readlines()  # split where the csv module splits
    rows = csv.reader(lines, delimiter=delimiter)
    counts: list[int] = []
    for row in rows:
        if cut and rows.line_num == len(lines):
            if row and not counts:
                counts.append(len(row))
            break
        if row:
            counts.append(len(row))
            if len(counts) == CSV_ROWS:
                break
    return counts


def magic_says(sample: Sample, claimed: str) -> bool:
    """Whether the magic bytes name exactly the claimed type (a real .doc, .zip, .gz, ...)."""
    kind = filetype.guess(sample.head)
    return kind is not None and kind.extension == claimed


def check_media(sample: Sample, claimed: str) -> str | None:
    """An image, audio or video file whose magic bytes match its type."""
    kind = filetype.guess(sample.head)
    if kind is not None and kind.extension in MEDIA_KINDS[claimed]:
        return None
    return really(sample, claimed, f"is not a real .{claimed} file (its content is not recognised)")
