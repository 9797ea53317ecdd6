"""The storage interface every backend implements, and the record an upload returns.

Keys are relative, ``/``-separated names such as ``"reports/2024/q1.pdf"`` (see
:mod:`anythingllm_bridge.storage.keys`). Every method raises only :class:`StorageError` subclasses
(and ``ValueError`` / ``TypeError`` for arguments of the wrong kind):

* :class:`StorageFileNotFoundError` – the key (or the local source file) does not exist;
* :class:`StorageKeyError` – the key is unsafe or malformed; raised before anything is touched;
* :class:`StoragePermissionError` – the backend refused access;
* :class:`StorageConfigError` – the backend is misconfigured (missing bucket, bad credentials).
"""

from __future__ import annotations

import abc
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from anythingllm_bridge.checksum import CHECKSUM_ALGORITHM
from anythingllm_bridge.storage._chunks import Chunks
from anythingllm_bridge.storage._files import write_download

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_URL_EXPIRY",
    "Chunks",
    "ObjectInfo",
    "StorageClient",
    "StoredObject",
    "check_expires_in",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk yielded by ``open_read`` and read from local files."""

MAX_URL_EXPIRY = 7 * 24 * 3600
"""The longest lifetime of a URL: SigV4 presigned URLs cannot live longer than 7 days."""


def check_expires_in(expires_in: int) -> int:
    """Return ``expires_in`` if it is whole seconds in 1 s .. 7 days, else raise ``ValueError``."""
    whole = isinstance(expires_in, int) and not isinstance(expires_in, bool)
    if not whole or not 0 < expires_in <= MAX_URL_EXPIRY:
        raise ValueError(f"expires_in must be whole seconds from 1 to {MAX_URL_EXPIRY}, got {expires_in!r}")
    return expires_in


def check_chunk_size(chunk_size: int) -> int:
    """Return ``chunk_size`` if it is a positive number of bytes, else raise ``ValueError``."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size!r}")
    return chunk_size


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What was stored: the key, its size in bytes and the checksum (hex) of its content.

    ``checksum_algorithm`` names the checksum: ``"sha256"`` (SHA-256) on every backend, so the same
    bytes give the same checksum locally, on S3 and in the sync manifest. It is computed from the
    bytes as they were stored.
    """

    key: str
    size: int
    checksum: str
    checksum_algorithm: str = CHECKSUM_ALGORITHM


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """A listed object, described without reading it.

    ``size`` is in bytes. ``etag`` (S3: the object's ETag) and ``mtime_ns`` (local: the file's
    modification time) change whenever the object is written again, so a caller who recorded them can
    tell that an object is unchanged without reading it. A backend gives whichever it has; the other
    is ``None``.
    """

    key: str
    size: int
    etag: str | None = None
    mtime_ns: int | None = None


class StorageClient(abc.ABC):
    """An async key → bytes store. Use it as ``async with client:`` to release connections."""

    @abc.abstractmethod
    async def put_stream(self, key: str, chunks: Chunks) -> StoredObject:
        """Store the bytes of ``chunks`` (any iterable or async iterable of ``bytes``) under ``key``.

        Nothing is visible under ``key`` until the last chunk is stored; if ``chunks`` raises, the
        previous object (or no object) stays under the key, and the exception propagates.
        """

    @abc.abstractmethod
    async def upload_file(self, file_path: str | os.PathLike[str], key: str) -> StoredObject:
        """Store the local file ``file_path`` under ``key``."""

    @abc.abstractmethod
    def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncGenerator[bytes, None]:
        """Iterate over the object's bytes in chunks of at most ``chunk_size``.

        An unsafe key raises at once; a missing key raises on the first iteration.
        """

    @abc.abstractmethod
    async def delete_file(self, key: str) -> bool:
        """Delete the object; ``True`` if it existed, ``False`` if there was nothing to delete."""

    @abc.abstractmethod
    async def list_objects(
        self, prefix: str = "", *, refused: dict[str, str] | None = None
    ) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix, as in S3), sorted
        by key, with its size and its version stamp (see :class:`ObjectInfo`). An object whose
        key no call of this client may name (see :mod:`.keys`) is left out; given ``refused``,
        each such key is put there with the reason, so a caller can say what it did not list."""

    async def list_files(self, prefix: str = "") -> list[str]:
        """Every key that starts with ``prefix`` (a plain string prefix, as in S3), sorted."""
        return [item.key for item in await self.list_objects(prefix)]

    @abc.abstractmethod
    async def file_exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    async def get_file_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL to read the object: ``file://`` locally, a presigned GET on S3.

        Raises :class:`StorageFileNotFoundError` when the key does not exist.
        """

    async def download_file(self, key: str, destination: str | os.PathLike[str]) -> Path:
        """Write the object to ``destination`` (folders created) and return its absolute path.

        The file appears at ``destination`` only once it is complete; a missing key creates nothing.
        """
        return await write_download(self.open_read(key), destination)

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the client may be used again afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
