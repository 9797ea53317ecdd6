"""The one content checksum of the package: SHA-256, as 64 lowercase hex digits.

Storage reports it for every object it stores (``StoredObject.checksum``, the same on every backend)
and sync records it in its manifest to tell a changed file from an unchanged one, so the two can be
compared. hashlib's SHA-256 is OpenSSL's, which uses the CPU's SHA instructions where it has them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os

__all__ = ["CHECKSUM_ALGORITHM", "READ_SIZE", "Checksum", "sha256_file"]

CHECKSUM_ALGORITHM = "sha256"
"""The name ``StoredObject.checksum_algorithm`` gives the checksum."""

READ_SIZE = 1024 * 1024
"""Bytes read from a file at a time while hashing or copying it."""

_HASH_IN_THREAD = 64 * 1024  # smaller chunks are hashed on the event loop: a thread hop costs more


class Checksum:
    """A running SHA-256 of some content, and the content's size in bytes."""

    algorithm = CHECKSUM_ALGORITHM

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk`` (blocking: for code in a worker thread, or small chunks)."""
        self._hash.update(chunk)
        self.size += len(chunk)

    async def update_async(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk`` from the event loop; a large chunk is hashed in a worker thread."""
        if len(chunk) >= _HASH_IN_THREAD:
            await asyncio.to_thread(self._hash.update, chunk)
        else:
            self._hash.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        """The checksum of everything added so far."""
        return self._hash.hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The checksum of the file at ``path``, read in ``READ_SIZE`` blocks (constant memory; blocking)."""
    checksum = Checksum()
    block = memoryview(bytearray(READ_SIZE))
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(block):
            checksum.update(block[:size])
    return checksum.hexdigest()
