"""Atomic local file writes: a temporary file in the destination folder, renamed into place.

Every file-system call runs in a worker thread, never on the event loop. A write that fails or is
cancelled removes its temporary file and leaves whatever was under the name before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TypeVar

import aiofiles

from anythingllm_bridge.checksum import READ_SIZE, Checksum
from anythingllm_bridge.errors import StorageError, StorageFileNotFoundError, StoragePermissionError
from anythingllm_bridge.storage._chunks import Chunk, prepend

__all__ = [
    "TMP_PREFIX",
    "ErrorMap",
    "copy_atomically",
    "destination_errors",
    "read_file",
    "source_errors",
    "write_atomically",
    "write_download",
]

TMP_PREFIX = ".allm-tmp-"
"""Name prefix of temporary files; listings skip them and keys may not use it."""

ErrorMap = Callable[[], AbstractContextManager[None]]
"""A context manager factory that turns ``OSError`` into the right :class:`StorageError`."""

_T = TypeVar("_T")


class _Stopped(Exception):
    """A copy stopped because its caller was cancelled."""


class _AtomicFile:
    """A temporary file in ``folder`` that becomes ``folder/name`` on :meth:`commit`.

    Blocking: each method runs in a worker thread, one at a time. With ``checksum``, every byte
    written is also hashed, so the checksum is that of the bytes stored. With ``fsync``, the file and
    then the folder are flushed to disk before :meth:`commit` returns: the new file survives a power
    cut. Without it the rename still replaces the old file in one step.
    """

    def __init__(self, folder: str, name: str, *, fsync: bool, checksum: Checksum | None) -> None:
        self._folder = folder
        self._name = name
        self._fsync = fsync
        self._checksum = checksum
        self._path = os.path.join(folder, f"{TMP_PREFIX}{secrets.token_hex(8)}")
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        os.makedirs(self._folder, exist_ok=True)
        self._file = open(self._path, "xb")  # noqa: SIM115 - closed by commit() or discard()

    def write(self, chunk: Chunk) -> None:
        assert self._file is not None, "open() first"
        self._file.write(chunk)
        if self._checksum is not None:
            self._checksum.update(chunk)

    def commit(self) -> None:
        assert self._file is not None, "open() first"
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._path, os.path.join(self._folder, self._name))
        if self._fsync:
            _fsync_folder(self._folder)

    def discard(self) -> None:
        """Remove the temporary file (a no-op once it is committed, or if it was never opened)."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._path)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _in_thread(function: Callable[..., _T], *args: object, stop: threading.Event | None = None) -> _T:
    """``function(*args)`` in a worker thread.

    If the caller is cancelled meanwhile, ``stop`` is set and the caller still waits for ``function``
    to return before the cancellation goes on, so the caller's cleanup never runs beside it and
    nothing it does happens after the cancelled call is over.
    """
    job = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        await asyncio.wait([job])
        if not job.cancelled():
            job.exception()  # its failure, if any, no longer matters
        raise


async def write_atomically(
    folder: str,
    name: str,
    chunks: AsyncIterator[Chunk],
    *,
    errors: ErrorMap,
    fsync: bool,
    checksum: Checksum | None = None,
) -> None:
    """Write ``chunks`` to ``folder/name`` through a temporary file (see :class:`_AtomicFile`).

    ``errors()`` wraps every file-system call; what ``chunks`` raises is the caller's and passes
    unchanged. Each chunk is written (and hashed into ``checksum``) in a worker thread.
    """
    out = _AtomicFile(folder, name, fsync=fsync, checksum=checksum)
    try:
        with errors():
            await _in_thread(out.open)
        async for chunk in chunks:
            with errors():
                await _in_thread(out.write, chunk)
        with errors():
            await _in_thread(out.commit)
    except BaseException:
        await _in_thread(out.discard)
        raise


async def copy_atomically(
    source: str,
    folder: str,
    name: str,
    *,
    source_errors: ErrorMap,
    errors: ErrorMap,
    fsync: bool,
    checksum: Checksum | None = None,
) -> None:
    """Copy the local file ``source`` to ``folder/name`` through a temporary file.

    One worker thread reads ``source`` block by block, writes each block and (with ``checksum``)
    hashes it: one pass, one buffer, so memory stays at ``READ_SIZE`` whatever the file size. A
    missing or unreadable source fails (through ``source_errors()``) before anything is created. A
    cancelled copy stops at its next block and removes its temporary file before the cancellation
    goes on.
    """
    stop = threading.Event()
    out = _AtomicFile(folder, name, fsync=fsync, checksum=checksum)
    await _in_thread(_copy, source, out, source_errors, errors, stop, stop=stop)


def _copy(
    source: str, out: _AtomicFile, source_errors: ErrorMap, errors: ErrorMap, stop: threading.Event
) -> None:
    with source_errors():
        src = open(source, "rb", buffering=0)  # noqa: SIM115 - closed below
    try:
        with errors():
            out.open()
        block = memoryview(bytearray(READ_SIZE))
        while True:
            with source_errors():
                size = src.readinto(block)
            if stop.is_set():
                raise _Stopped
            if not size:
                break
            with errors():
                out.write(block[:size])
        with errors():
            out.commit()
    except BaseException:
        out.discard()
        raise
    finally:
        src.close()


async def write_download(chunks: AsyncGenerator[bytes, None], destination: str | os.PathLike[str]) -> Path:
    """Write an object's ``chunks`` to ``destination`` atomically and return its absolute path.

    The first chunk is fetched before anything is created, so a missing key leaves no file behind.
    """
    dest = Path(os.path.abspath(destination))  # noqa: ASYNC240 - string work, no I/O wait
    try:
        first = await anext(chunks, None)
        everything = prepend([] if first is None else [first], chunks)
        await write_atomically(
            str(dest.parent), dest.name, everything, errors=lambda: destination_errors(dest), fsync=False
        )
    finally:
        await chunks.aclose()
    return dest


@contextlib.contextmanager
def destination_errors(dest: Path) -> Iterator[None]:
    """Turn an ``OSError`` about a download destination into a :class:`StorageError` naming it."""
    try:
        yield
    except StorageError:
        raise
    except PermissionError as exc:
        raise StoragePermissionError(f"cannot write {str(dest)!r}: permission denied") from exc
    except OSError as exc:
        raise StorageError(f"cannot write {str(dest)!r}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def source_errors(source: Path) -> Iterator[None]:
    """Turn an ``OSError`` about a local source file into a :class:`StorageError` naming it."""
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StorageFileNotFoundError(f"source file {str(source)!r} does not exist") from exc
    except PermissionError as exc:
        raise StoragePermissionError(f"cannot read source file {str(source)!r}: permission denied") from exc
    except IsADirectoryError as exc:
        raise StorageError(f"source {str(source)!r} is a folder, not a file") from exc
    except OSError as exc:
        raise StorageError(f"cannot read source file {str(source)!r}: {exc.strerror or exc}") from exc


async def read_file(source: Path, size: int) -> AsyncGenerator[bytearray, None]:
    """The local file ``source`` in fresh ``size``-byte blocks (errors name the file).

    Each block is allocated here, in the event loop's thread, and filled in place by ``readinto``
    in a worker thread: no copy, and big allocations do not spread over the threads' malloc arenas.
    """
    with source_errors(source):
        async with aiofiles.open(source, "rb", buffering=0) as handle:
            while True:
                block = bytearray(size)
                filled = 0
                while filled < size and (got := await handle.readinto(memoryview(block)[filled:])):
                    filled += got
                if not filled:
                    return
                # (a short last block is copied, not shrunk: a worker thread may still hold a view)
                yield block if filled == size else block[:filled]
