"""ZIP-based documents (docx, xlsx, pptx, epub, odt, odp, ods): the members :mod:`zipfile` lists.

:class:`zipfile.ZipFile` reads the end of the archive and its central directory (ZIP64 included)
through the validator's :class:`~._reader.BoundedFile`; member data is never read, except the few
bytes of an EPUB / OpenDocument ``mimetype`` member.

* OOXML (docx/xlsx/pptx): the directory must list ``[Content_Types].xml`` and the main part
  (``word/document.xml``, ``xl/workbook.xml``, ``ppt/presentation.xml``).
* EPUB / OpenDocument: the first member must be an uncompressed ``mimetype`` holding the right
  media type, as both standards require.
* No member may be encrypted: AnythingLLM could not read it.
* An archive without an end-of-archive record is a truncated download; one that ``zipfile`` cannot
  read is refused with what ``zipfile`` found wrong.
"""

from __future__ import annotations

import errno
import zipfile

from anythingllm_bridge.validation._content import Sample, describe_kind, really
from anythingllm_bridge.validation._reader import BoundedFile, ReadBudgetSpent

__all__ = ["DIRECTORY_BUDGET", "MIMETYPES", "OOXML_PARTS", "check_zip"]

OOXML_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}
MIMETYPES = {
    "epub": "application/epub+zip",
    "odt": "application/vnd.oasis.opendocument.text",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
DIRECTORY_BUDGET = 1024 * 1024
"""Bytes a ZIP-based document may cost beyond the validator's read budget: the end of the archive
(its comment included, up to 64 KiB) and the central directory. The directory grows with the number
of members, not with their size: 1 MiB lists about ten thousand members with ordinary names."""

_LOCAL_HEADER = b"PK\x03\x04"  # how every ZIP archive with a member starts
_NO_END_RECORD = "File is not a zip file"  # zipfile's words when no end-of-archive record is found
_ENCRYPTED = 0x1  # general purpose flag bit 0


def check_zip(sample: Sample, claimed: str, file: BoundedFile) -> str | None:
    """Whether the file is a ``claimed`` (docx, xlsx, pptx, epub, odt, odp, ods) container.

    ``file`` is read from only as far as its budget allows; an archive that needs more is refused.
    """
    if not sample.head.startswith(_LOCAL_HEADER):
        return really(sample, claimed, f"is not a real .{claimed} file (not a ZIP container)")
    try:
        with zipfile.ZipFile(file) as archive:
            return _check_members(archive, claimed)
    except ReadBudgetSpent as exc:
        return (
            f"is a ZIP container whose directory is too large to check "
            f"(more than {exc.budget // 1024:,} KiB would have to be read)"
        )
    except zipfile.BadZipFile as exc:
        if str(exc) == _NO_END_RECORD:
            return "is a truncated ZIP container (no end-of-archive record at its end)"
        return f"is a corrupt ZIP container ({_detail(exc)})"
    except (NotImplementedError, zipfile.LargeZipFile) as exc:
        return f"is a ZIP container using a feature that cannot be read ({_detail(exc)})"
    except EOFError:
        return "is a corrupt ZIP container (a member's data ends before its recorded size)"
    except UnicodeDecodeError:
        return "is a corrupt ZIP container (a member name flagged as UTF-8 is not UTF-8)"
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a real read error: the caller reports it
            raise
        return "is a corrupt ZIP container (an offset points before the start of the file)"


def _detail(exc: Exception) -> str:
    """What ``zipfile`` said, as the end of our sentence: lower case first, 100 characters at most."""
    text = str(exc) or type(exc).__name__
    text = text[:1].lower() + text[1:]
    return text if len(text) <= 100 else text[:99] + "…"


def _check_members(archive: zipfile.ZipFile, claimed: str) -> str | None:
    members = archive.infolist()
    locked = next((member.filename for member in members if member.flag_bits & _ENCRYPTED), None)
    if locked is not None:
        return f"is a password-protected ZIP container ({locked} is encrypted); it cannot be read"
    if claimed in MIMETYPES:
        return _check_mimetype(archive, members, claimed)
    names = {member.filename for member in members}
    required = ["[Content_Types].xml", OOXML_PARTS[claimed]]
    missing = [name for name in required if name not in names]
    if not missing:
        return None
    for other, part in OOXML_PARTS.items():
        if other != claimed and part in names:
            return f"is really {describe_kind(other)}, not a .{claimed} file"
    return f"is a ZIP archive but no .{claimed} file (no {missing[-1]} inside)"


def _check_mimetype(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], claimed: str) -> str | None:
    expected = MIMETYPES[claimed]
    first = min(members, key=lambda member: member.header_offset, default=None)
    if first is None or first.filename != "mimetype":
        return f"is a ZIP archive but no .{claimed} file (no {expected} mimetype first)"
    if first.compress_type != zipfile.ZIP_STORED:
        return f"is a ZIP archive but no .{claimed} file (its mimetype member is compressed, not stored)"
    with archive.open(first) as member:
        found = member.read(len(expected) + 64).strip().decode("ascii", "replace")
    if found == expected:
        return None
    for other, mimetype in MIMETYPES.items():
        if mimetype == found:
            return f"is really {describe_kind(other)}, not a .{claimed} file"
    return f"is a ZIP archive but no .{claimed} file (its mimetype is {found[:60]!r}, not {expected})"
