"""FileValidator: is this file something AnythingLLM should be sent?

In order, without reading content until the last step:

1. the path exists, is a regular file and not a symlink (``lstat``);
2. it is not empty and not larger than ``max_file_size``;
3. its extension names an allowed type (``htm`` → ``html``, ``jpeg`` → ``jpg``, ...);
4. its content fits that type (see :mod:`._content` and :mod:`._zip`).

Step 4 reads a bounded sample: a file no larger than ``read_budget`` (64 KiB) is read whole (and
JSON is parsed); a larger one is judged by its first 16 KiB and last 4 KiB. A ZIP-based document
(docx, xlsx, pptx, epub, odt, odp, ods) may also read its end-of-archive record and its central
directory, up to ``DIRECTORY_BUDGET`` (1 MiB) more; one whose directory needs more is refused. So
no file costs more than ``read_budget`` bytes of reading, a ZIP-based document no more than
``read_budget + DIRECTORY_BUDGET``, whatever its size. The file is opened with ``O_NOFOLLOW``, so
a symlink swapped in after step 1 is refused too.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from anythingllm_bridge.errors import FileValidationError
from anythingllm_bridge.validation._content import (
    MEDIA_KINDS,
    Sample,
    check_csv,
    check_json,
    check_mbox,
    check_media,
    check_pdf,
    check_text,
    magic_says,
)
from anythingllm_bridge.validation._reader import HEAD_BYTES, TAIL_BYTES, BoundedFile
from anythingllm_bridge.validation._zip import DIRECTORY_BUDGET, MIMETYPES, OOXML_PARTS, check_zip

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings

__all__ = ["KNOWN_TYPES", "NOT_REGULAR", "FileValidator", "FileVerdict"]

KIB = 1024
MIB = 1024 * KIB
READ_BUDGET = 64 * KIB

_SYMLINK = "is a symbolic link; give the path of the file it points to"
#: Why an entry that is neither a file nor a folder (a device, a pipe, a socket) is refused.
NOT_REGULAR = "is not a regular file (a device, pipe or socket)"
_ALIASES = {"htm": "html", "markdown": "md", "jpeg": "jpg", "oga": "ogg", "mpg": "mpeg", "text": "txt"}
_TEXT_TYPES = ("txt", "md", "org", "adoc", "rst", "html")
KNOWN_TYPES: frozenset[str] = frozenset(
    {"pdf", "json", "csv", "mbox", *_TEXT_TYPES, *OOXML_PARTS, *MIMETYPES, *MEDIA_KINDS}
)
"""Types with a dedicated content check. Any other allowed type passes if its magic bytes name it
(``doc``, ``zip``, ``gz``... as the ``filetype`` package knows them), else it is checked as text."""


def canonical_type(name: str) -> str:
    """``".HTM"`` → ``"html"``: lower case, no dot, aliases folded."""
    name = name.strip().lower().lstrip(".")
    return _ALIASES.get(name, name)


def _size(n: int) -> str:
    """``"1 byte"``, ``"900 bytes"``, ``"4,194,305 bytes (4.0 MiB)"``: exact, and readable when large."""
    if n < KIB:
        return "1 byte" if n == 1 else f"{n:,} bytes"
    unit, name = (MIB, "MiB") if n >= MIB else (KIB, "KiB")
    return f"{n:,} bytes ({n / unit:.1f} {name})"


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """The outcome for one file: its claimed ``file_type``, the ``reason`` it was refused (``None``
    when valid), and how many bytes of it were read to decide."""

    path: Path
    file_type: str
    reason: str | None
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        """True when the file was accepted (no ``reason``)."""
        return self.reason is None

    @property
    def error(self) -> str | None:
        """The reason with the file's name in front, or ``None``."""
        return None if self.reason is None else f"{self.path.name}: {self.reason}"


_ZIP_TYPES = frozenset({*OOXML_PARTS, *MIMETYPES})


def check_content(file_type: str, sample: Sample, file: BoundedFile) -> str | None:
    """Why ``sample`` is not a ``file_type`` file, or ``None`` when it is one.

    Only ZIP-based documents read more of ``file`` than ``sample`` holds.
    """
    if file_type == "pdf":
        return check_pdf(sample, file_type)
    if file_type == "json":
        return check_json(sample, file_type)
    if file_type == "csv":
        return check_csv(sample, file_type)
    if file_type == "mbox":
        return check_mbox(sample, file_type)
    if file_type in _ZIP_TYPES:
        return check_zip(sample, file_type, file)
    if file_type in MEDIA_KINDS:
        return check_media(sample, file_type)
    if magic_says(sample, file_type):  # another binary type the user allowed, and it is one
        return None
    return check_text(sample, file_type)


class FileValidator:
    """Checks files before they are uploaded: existence, size, allowed type, and content.

    ``allowed_file_types`` are extensions without the dot; ``read_budget`` caps the bytes read per
    file (at least 32 KiB; a ZIP-based document may read its directory beyond it, see the module
    documentation).
    """

    def __init__(
        self,
        max_file_size: int = 100 * MIB,
        allowed_file_types: Iterable[str] = ("pdf", "json", "csv"),
        *,
        read_budget: int = READ_BUDGET,
    ) -> None:
        if isinstance(allowed_file_types, str):
            allowed_file_types = allowed_file_types.replace(";", ",").split(",")
        types = tuple(dict.fromkeys(canonical_type(t) for t in allowed_file_types if t.strip()))
        if not types:
            raise ValueError("allowed_file_types is empty: no file could ever be valid")
        if max_file_size <= 0:
            raise ValueError(f"max_file_size must be positive, got {max_file_size}")
        if read_budget < HEAD_BYTES + TAIL_BYTES + 12 * KIB:
            raise ValueError(f"read_budget must be at least 32 KiB, got {read_budget}")
        self.max_file_size = max_file_size
        self.allowed_file_types = types
        self.read_budget = read_budget

    @classmethod
    def create_from_settings(cls, settings: Settings | None = None) -> FileValidator:
        """A validator with ``MAX_FILE_SIZE`` and ``ALLOWED_FILE_TYPES`` from the settings."""
        if settings is None:
            from anythingllm_bridge.config import get_settings

            settings = get_settings()
        return cls(settings.max_file_size, settings.allowed_file_types)

    def __repr__(self) -> str:
        return (
            f"FileValidator(max_file_size={self.max_file_size}, "
            f"allowed_file_types={list(self.allowed_file_types)!r})"
        )

    # ------------------------------------------------------------------ the checks

    @staticmethod
    def detect_type(path: str | os.PathLike[str]) -> str:
        """The type a file claims by its extension (``"html"`` for ``x.HTM``); ``"other"`` if none."""
        suffix = Path(path).suffix
        return canonical_type(suffix) if suffix else "other"

    def inspect(
        self, path: str | os.PathLike[str], *, check_size: bool = True, check_type: bool = True
    ) -> FileVerdict:
        """Examine one file and say why it is refused, if it is (see the module documentation)."""
        path = Path(path)
        file_type = self.detect_type(path)

        def refuse(reason: str, bytes_read: int = 0) -> FileVerdict:
            return FileVerdict(path, file_type, reason, bytes_read)

        try:
            info = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return refuse("does not exist")
        except PermissionError:
            return refuse("cannot be read: permission denied")
        except OSError as exc:
            return refuse(f"cannot be read: {exc.strerror or exc}")
        if stat.S_ISLNK(info.st_mode):
            return refuse(_SYMLINK)
        if stat.S_ISDIR(info.st_mode):
            return refuse("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            return refuse(NOT_REGULAR)
        reason = self._listed_reason(file_type, info.st_size, check_size=check_size, check_type=check_type)
        if reason is not None:
            return refuse(reason)
        if not check_type:
            return FileVerdict(path, file_type, None)
        return self._inspect_content(path, file_type)

    def check_listed(self, name: str, size: int) -> str | None:
        """Why a file of this name and size is refused, judged without touching it (empty, too
        large, a type not allowed), or ``None`` when only its content is left to check. For
        callers that know names and sizes from a listing (a folder scan, a bucket listing)."""
        return self._listed_reason(self.detect_type(name), size, check_size=True, check_type=True)

    def _listed_reason(self, file_type: str, size: int, *, check_size: bool, check_type: bool) -> str | None:
        if size == 0:
            return "is empty (0 bytes)"
        if check_size and size > self.max_file_size:
            return f"is {_size(size)}, more than the limit of {_size(self.max_file_size)}"
        if not check_type:
            return None
        allowed = ", ".join(self.allowed_file_types)
        if file_type == "other":
            return f"has no file extension, so its type is unknown (allowed: {allowed})"
        if file_type not in self.allowed_file_types:
            return f"is a .{file_type} file, a type not allowed here (allowed: {allowed})"
        return None

    def _inspect_content(self, path: Path, file_type: str) -> FileVerdict:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except PermissionError:
            return FileVerdict(path, file_type, "cannot be read: permission denied")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return FileVerdict(path, file_type, _SYMLINK)
            return FileVerdict(path, file_type, f"cannot be read: {exc.strerror or exc}")
        reader: BoundedFile | None = None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                return FileVerdict(path, file_type, "changed while it was being checked")
            budget = self.read_budget + (DIRECTORY_BUDGET if file_type in _ZIP_TYPES else 0)
            reader = BoundedFile(fd, info.st_size, budget)
            reason = check_content(file_type, reader.sample(whole_up_to=self.read_budget), reader)
        except OSError as exc:
            reason = f"cannot be read: {exc.strerror or exc}"
        finally:
            os.close(fd)
        return FileVerdict(path, file_type, reason, reader.bytes_read if reader else 0)

    # ------------------------------------------------------------------ inspect() reshaped

    def validate_file_size(self, path: str | os.PathLike[str]) -> tuple[bool, str | None]:
        """``(True, None)`` if the file exists, is a regular file, not empty, and within the limit."""
        verdict = self.inspect(path, check_type=False)
        return verdict.ok, verdict.error

    def validate_file_type(self, path: str | os.PathLike[str]) -> tuple[bool, str | None]:
        """``(True, None)`` if the file's type is allowed and its content fits it (size not checked)."""
        verdict = self.inspect(path, check_size=False)
        return verdict.ok, verdict.error

    def validate_file(self, path: str | os.PathLike[str]) -> tuple[bool, str | None]:
        """``(True, None)`` for a good file, else ``(False, "<name>: <reason>")``."""
        verdict = self.inspect(path)
        return verdict.ok, verdict.error

    def validate_file_strict(self, path: str | os.PathLike[str]) -> str:
        """The file's type if it is valid; raises :class:`FileValidationError` otherwise."""
        verdict = self.inspect(path)
        if verdict.reason is not None:
            raise FileValidationError(
                f"{verdict.path}: {verdict.reason}", path=str(verdict.path), reason=verdict.reason
            )
        return verdict.file_type

    def validate_multiple_files(
        self, paths: Iterable[str | os.PathLike[str]]
    ) -> tuple[list[Path], list[tuple[Path, str]]]:
        """``(valid, invalid)``: the good paths, and each refused path with its reason."""
        valid: list[Path] = []
        invalid: list[tuple[Path, str]] = []
        for path in paths:
            verdict = self.inspect(path)
            if verdict.reason is None:
                valid.append(verdict.path)
            else:
                invalid.append((verdict.path, verdict.reason))
        return valid, invalid

    def organize_files_by_type(self, paths: Iterable[str | os.PathLike[str]]) -> dict[str, list[Path]]:
        """The paths grouped by the type their extension claims (``"other"`` without one).

        Nothing is read: validate first to keep only good files.
        """
        groups: dict[str, list[Path]] = {}
        for path in paths:
            groups.setdefault(self.detect_type(path), []).append(Path(path))
        return groups
