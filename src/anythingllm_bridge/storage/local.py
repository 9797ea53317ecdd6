"""Local-folder storage: one file per key under ``base_path``.

* Writes go to a hidden temporary file (``.allm-tmp-*``) in the destination folder, are flushed
  and (by default) ``fsync``-ed, then renamed over the key: readers see the old object or the new
  one, never a half-written file, and a failed, cancelled or interrupted write leaves nothing under
  the key. (A process killed mid-write can leave a ``.allm-tmp-*`` file behind; listings never
  show them.)
* ``upload_file`` copies in one pass in a worker thread: each block read from the source is
  written and hashed (SHA-256), so the checksum is that of the bytes stored. Every write, ``fsync``
  and rename runs in a worker thread, off the event loop.
* Keys are checked by :func:`~anythingllm_bridge.storage.keys.validate_key`, then resolved with
  symlinks followed: a key whose path leads outside ``base_path`` (through a symlink planted inside)
  is refused with :class:`StorageKeyError` before any file is opened or created. Writing or deleting
  a key whose last segment is a symlink acts on the link itself, never on the file it points to.
  (The check and the use are separate steps: someone who can create symlinks inside ``base_path``
  *while* a call runs can race it. Keep the folder writable by this process only.)
* Folders are created on demand and are not removed when they become empty. Listing does not
  descend into symlinked folders.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from anythingllm_bridge.checksum import Checksum
from anythingllm_bridge.errors import (
    StorageConfigError,
    StorageError,
    StorageFileNotFoundError,
    StorageKeyError,
    StoragePermissionError,
)
from anythingllm_bridge.storage._chunks import Chunks, aiter_chunks
from anythingllm_bridge.storage._files import (
    TMP_PREFIX,
    copy_atomically,
    destination_errors,
    source_errors,
    write_atomically,
)
from anythingllm_bridge.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    StorageClient,
    StoredObject,
    check_chunk_size,
    check_expires_in,
)
from anythingllm_bridge.storage.keys import validate_key, validate_prefix

__all__ = ["LocalStorageClient"]


@dataclass(frozen=True, slots=True)
class _Target:
    key: str
    folder: str  # real (symlink-free) folder the object lives in
    name: str  # last key segment
    real: str  # the object's real path, symlinks followed (for reading)

    @property
    def path(self) -> str:
        """The object's own path (a symlink stays a symlink)."""
        return os.path.join(self.folder, self.name)


class LocalStorageClient(StorageClient):
    """Keys stored as files under ``base_path`` (created if missing).

    ``fsync`` (default ``True``) decides what a finished write survives:

    * ``True`` – durable: the file and then its folder are flushed to disk (``fsync``) before
      ``upload_file`` / ``put_stream`` return, so a stored object survives a power cut or a kernel
      crash. It costs the time to write the bytes to the disk (like ``cp`` followed by ``sync``).
    * ``False`` – atomic, not durable: the rename still guarantees that a crashed or killed
      *process* never leaves a half file under a key, but after a power cut or kernel crash the
      last writes may be missing (the old object, or none, is under the key). Faster: the kernel
      writes the bytes to disk later.

    Downloads (``download_file``) are never ``fsync``-ed: they write a copy the caller can make again.
    """

    def __init__(self, base_path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._base = Path(base_path)
        try:
            self._base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageConfigError(f"cannot use {str(self._base)!r} as the storage folder: {exc}") from exc
        self._real_base = os.path.realpath(self._base)
        self._fsync = fsync

    @property
    def base_path(self) -> Path:
        """The storage folder, as given."""
        return self._base

    def __repr__(self) -> str:
        return f"LocalStorageClient({str(self._base)!r})"

    # ------------------------------------------------------------------ key → path

    def _inside(self, path: str) -> bool:
        return os.path.commonpath([self._real_base, path]) == self._real_base

    def _target(self, key: str) -> _Target:
        validate_key(key)
        segments = key.split("/")
        if any(segment.startswith(TMP_PREFIX) for segment in segments):
            raise StorageKeyError(f"key {key!r} uses the reserved name prefix {TMP_PREFIX!r}", key=key)
        folder = os.path.realpath(os.path.join(self._real_base, *segments[:-1]))
        real = os.path.realpath(os.path.join(folder, segments[-1]))
        if not (self._inside(folder) and self._inside(real)):
            raise StorageKeyError(f"key {key!r} leads outside the storage folder through a symlink", key=key)
        return _Target(key=key, folder=folder, name=segments[-1], real=real)

    # ------------------------------------------------------------------ writing

    async def put_stream(self, key: str, chunks: Chunks) -> StoredObject:
        target = self._target(key)
        checksum = Checksum()
        await write_atomically(
            target.folder,
            target.name,
            aiter_chunks(chunks),
            errors=lambda: _errors(key, writing=True),
            fsync=self._fsync,
            checksum=checksum,
        )
        return StoredObject(key, checksum.size, checksum.hexdigest(), checksum.algorithm)

    async def upload_file(self, file_path: str | os.PathLike[str], key: str) -> StoredObject:
        target = self._target(key)
        source = Path(file_path)
        checksum = Checksum()
        await copy_atomically(
            str(source),
            target.folder,
            target.name,
            source_errors=lambda: source_errors(source),
            errors=lambda: _errors(key, writing=True),
            fsync=self._fsync,
            checksum=checksum,
        )
        return StoredObject(key, checksum.size, checksum.hexdigest(), checksum.algorithm)

    async def download_file(self, key: str, destination: str | os.PathLike[str]) -> Path:
        """Copy the object's file to ``destination``; see the base class."""
        target = self._target(key)
        dest = Path(os.path.abspath(destination))  # noqa: ASYNC240 - string work, no I/O wait
        await copy_atomically(
            target.real,
            str(dest.parent),
            dest.name,
            source_errors=lambda: _errors(key, writing=False),
            errors=lambda: destination_errors(dest),
            fsync=False,
        )
        return dest

    async def delete_file(self, key: str) -> bool:
        target = self._target(key)
        with _errors(key, writing=True):
            if await aiofiles.os.path.isdir(target.path):
                return False  # a folder of other keys, not an object
            try:
                await aiofiles.os.remove(target.path)
            except FileNotFoundError:
                return False
            return True

    # ------------------------------------------------------------------ reading

    def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncGenerator[bytes, None]:
        check_chunk_size(chunk_size)
        return self._read(self._target(key), chunk_size)

    async def _read(self, target: _Target, chunk_size: int) -> AsyncGenerator[bytes, None]:
        with _errors(target.key, writing=False):
            async with aiofiles.open(target.real, "rb") as handle:
                while chunk := await handle.read(chunk_size):
                    yield chunk

    async def file_exists(self, key: str) -> bool:
        return await aiofiles.os.path.isfile(self._target(key).real)

    async def get_file_url(self, key: str, expires_in: int = 3600) -> str:
        """A ``file://`` URL of the object (``expires_in`` is checked, but a file URL never expires)."""
        check_expires_in(expires_in)
        target = self._target(key)
        if not await aiofiles.os.path.isfile(target.real):
            raise StorageFileNotFoundError(f"no object under key {key!r}", key=key)
        return Path(target.real).as_uri()

    async def list_objects(
        self, prefix: str = "", *, refused: dict[str, str] | None = None
    ) -> list[ObjectInfo]:
        """Every file under ``prefix`` with its size and modification time (one ``lstat`` per
        file, one more ``stat`` per symlink)."""
        validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        start = os.path.realpath(os.path.join(self._real_base, *folder.split("/")))  # noqa: ASYNC240 - no I/O wait
        if not self._inside(start):
            raise StorageKeyError(f"prefix {prefix!r} leads outside the storage folder through a symlink")
        with _errors(prefix, writing=False):
            return await asyncio.to_thread(self._walk, start, folder, prefix, refused)

    def _walk(self, start: str, folder: str, prefix: str, refused: dict[str, str] | None) -> list[ObjectInfo]:
        objects: list[ObjectInfo] = []
        for root, _dirs, files in os.walk(start):
            rel_root = os.path.relpath(root, start).replace(os.sep, "/")
            for name in files:
                if name.startswith(TMP_PREFIX):
                    continue
                rel = name if rel_root == "." else f"{rel_root}/{name}"
                key = f"{folder}/{rel}" if folder else rel
                if not key.startswith(prefix):
                    continue
                try:
                    validate_key(key)
                except StorageKeyError as exc:  # a file no key can name (backslash, control character...)
                    if refused is not None:
                        refused[key] = str(exc)
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue  # deleted while listing
                if stat.S_ISLNK(st.st_mode):
                    linked = self._linked_file(path)
                    if linked is None:
                        continue  # a link leading outside, or to nothing
                    st = linked
                objects.append(ObjectInfo(key, st.st_size, mtime_ns=st.st_mtime_ns))
        objects.sort(key=lambda item: item.key)
        return objects

    def _linked_file(self, link: str) -> os.stat_result | None:
        """The ``stat`` of the file ``link`` leads to, if that is a regular file inside the folder."""
        if not self._inside(os.path.realpath(link)):
            return None
        try:
            st = os.stat(link)
        except (OSError, ValueError):
            return None
        return st if stat.S_ISREG(st.st_mode) else None


@contextlib.contextmanager
def _errors(key: str, *, writing: bool) -> Iterator[None]:
    """Turn an ``OSError`` about a key into the matching :class:`StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        if not writing:
            raise StorageFileNotFoundError(f"no object under key {key!r}", key=key) from exc
        if isinstance(exc, IsADirectoryError):
            raise StorageKeyError(f"key {key!r} is a folder holding other keys", key=key) from exc
        if isinstance(exc, NotADirectoryError | FileExistsError):
            raise StorageKeyError(f"a folder in key {key!r} is already an object", key=key) from exc
        raise StorageError(f"cannot store key {key!r}: {exc.strerror}", key=key) from exc
    except PermissionError as exc:
        raise StoragePermissionError(f"permission denied for key {key!r}: {exc.strerror}", key=key) from exc
    except OSError as exc:
        raise StorageError(f"storage failed for key {key!r}: {exc.strerror or exc}", key=key) from exc
