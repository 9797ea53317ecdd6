"""Bounded reading: an open file read through a byte budget, with what was read kept for re-use.

The validator judges a file by a :class:`Sample` (its head and tail, or all of it when small) and,
for ZIP-based documents, lets :mod:`zipfile` read through the same :class:`BoundedFile`. Every
byte read counts against one budget, so no file costs more than that budget, whatever its size.
"""

from __future__ import annotations

import errno
import os

from anythingllm_bridge.validation._content import Sample

__all__ = ["HEAD_BYTES", "TAIL_BYTES", "BoundedFile", "ReadBudgetSpent"]

KIB = 1024
HEAD_BYTES = 16 * KIB
"""How much of the start of a file that is not read whole is sampled."""
TAIL_BYTES = 4 * KIB
"""How much of the end of a file that is not read whole is sampled."""


class ReadBudgetSpent(Exception):
    """A read would take the bytes read from one file past its budget. Nothing was read."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"reading more would pass the budget of {budget} bytes")
        self.budget = budget


class BoundedFile:
    """A read-only, seekable binary view of an open file descriptor, reading at most ``budget`` bytes.

    Ranges read before are served again without reading (nor counting); a read that would go past
    the budget raises :class:`ReadBudgetSpent` instead of reading. ``read``, ``seek``, ``tell`` and
    ``seekable`` are what :class:`zipfile.ZipFile` needs of a file.
    """

    def __init__(self, fd: int, size: int, budget: int) -> None:
        self._fd, self._size, self._budget = fd, size, budget
        self._seen: list[tuple[int, bytes]] = []
        self._position = 0
        self.bytes_read = 0

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        n = max(0, min(n, self._size - offset))
        if n == 0:
            return b""
        for start, data in self._seen:
            if start <= offset and offset + n <= start + len(data):
                return data[offset - start : offset - start + n]
        if self.bytes_read + n > self._budget:
            raise ReadBudgetSpent(self._budget)
        data = os.pread(self._fd, n, offset)
        self.bytes_read += len(data)
        self._seen.append((offset, data))
        return data

    def sample(self, whole_up_to: int) -> Sample:
        """The whole file if it is at most ``whole_up_to`` bytes, else its head and its tail."""
        if self._size <= whole_up_to:
            data = self.read_at(0, self._size)
            return Sample(head=data, tail=data[-TAIL_BYTES:], size=self._size, complete=True)
        head = self.read_at(0, HEAD_BYTES)
        tail = self.read_at(self._size - TAIL_BYTES, TAIL_BYTES)
        return Sample(head=head, tail=tail, size=self._size, complete=False)

    # ------------------------------------------------------------------ the file protocol

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes from the current position (``-1``: to the end), moving past them."""
        data = self.read_at(self._position, self._size if n < 0 else n)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        """Move to ``offset`` from the start, the current position or the end, as a file does."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "seek before the start of the file")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seekable(self) -> bool:
        """Always: the file is a regular file."""
        return True
