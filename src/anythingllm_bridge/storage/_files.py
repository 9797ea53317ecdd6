"""Atomic local file writes: a temporary file in the destination folder, renamed into place."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import secrets
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncBufferedIOBase as Writer

from anythingllm_bridge.checksum import Checksum
from anythingllm_bridge.errors import StorageError, StorageFileNotFoundError, StoragePermissionError
from anythingllm_bridge.storage._chunks import prepend, read_ahead

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

COPY_BUFFER = 4 * 1024 * 1024
"""Size of each of the two buffers a file-to-file copy cycles through."""
_KERNEL_COPY = 64 * 1024 * 1024
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF})
_HASHED_COPY_STEP = 8 * 1024 * 1024
"""Bytes per kernel copy call when the copy is hashed: the hash trails the copy by about one step."""
_HASH_READ = 1024 * 1024
"""Bytes the hashing thread reads back at a time, into one reused buffer small enough to stay in cache."""

_T = TypeVar("_T")


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` (not in the ``os`` module), or ``None`` where there is none."""
    import ctypes  # here: only durable uploads need it

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError, TypeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2  # start writing the range's dirty pages to disk, do not wait


@contextlib.asynccontextmanager
async def _temporary(folder: str, name: str, *, errors: ErrorMap, fsync: bool) -> AsyncIterator[Writer]:
    """A new temporary file in ``folder``; renamed to ``name`` if the block succeeds, else removed.

    ``errors()`` wraps every file-system call. With ``fsync``, the file (and then the folder) is
    flushed to disk before the rename is reported done. The file is also open for reading, so what
    was written can be hashed back.
    """
    tmp = os.path.join(folder, f"{TMP_PREFIX}{secrets.token_hex(8)}")
    with errors():
        await aiofiles.os.makedirs(folder, exist_ok=True)
        out = await aiofiles.open(tmp, "xb+")
    try:
        try:
            yield out
            with errors():
                await out.flush()
                if fsync:
                    await asyncio.to_thread(os.fsync, out.fileno())
        finally:
            await out.close()
        with errors():
            await aiofiles.os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        with errors():
            await asyncio.to_thread(_fsync_folder, folder)


async def write_atomically(
    folder: str,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    errors: ErrorMap,
    fsync: bool,
    digest: Checksum | None = None,
) -> None:
    """Write ``chunks`` to ``folder/name`` through a temporary file (see :func:`_temporary`).

    What ``chunks`` raises is the caller's and passes unchanged. The next chunk is fetched while
    the current one is written (and, with ``digest``, hashed in a thread at the same time).
    """
    async with (
        _temporary(folder, name, errors=errors, fsync=fsync) as out,
        contextlib.aclosing(read_ahead(chunks)) as ahead,
    ):
        async for chunk in ahead:
            with errors():
                if digest is None:
                    await out.write(chunk)
                else:
                    await asyncio.gather(out.write(chunk), digest.update_async(chunk))


async def copy_atomically(
    source: str,
    folder: str,
    name: str,
    *,
    source_errors: ErrorMap,
    errors: ErrorMap,
    fsync: bool,
    digest: Checksum | None = None,
) -> None:
    """Copy the local file ``source`` to ``folder/name`` through a temporary file.

    A missing or unreadable source fails (through ``source_errors()``) before anything is created.
    The kernel copies (``copy_file_range``, as ``cp`` does) where it can; with ``digest``, a second
    thread hashes the temporary file as the copy fills it, so the checksum is that of the bytes
    stored, and with two free cores the hash costs no extra time (see :func:`_kernel_copy_hashed`).
    With ``fsync``, the disk writes start while the copy still runs, so the final ``fsync`` has
    little left to wait for.
    Where the kernel cannot copy (another file system, an old kernel), reading the next block,
    writing this one and hashing it run at once, cycling through two reused buffers: memory stays
    at ``2 × COPY_BUFFER`` and no buffer is allocated per block.
    """
    with source_errors():
        src = await aiofiles.open(source, "rb", buffering=0)
    try:
        async with _temporary(folder, name, errors=errors, fsync=fsync) as out:
            if digest is None:
                if await _kernel_copy(src.fileno(), out.fileno(), errors):
                    return
            elif await _kernel_copy_hashed(src.fileno(), out.fileno(), digest, errors, early_writeback=fsync):
                return
            buffers = (bytearray(COPY_BUFFER), bytearray(COPY_BUFFER))

            async def read(into: bytearray) -> int:
                with source_errors():
                    return await src.readinto(into) or 0

            async def write(view: memoryview) -> None:
                with errors():
                    await out.write(view)

            async def hash_(view: memoryview) -> None:
                if digest is not None:
                    await digest.update_async(view)

            size = await read(buffers[0])
            turn = 0
            while size:
                view = memoryview(buffers[turn])[:size]
                turn = 1 - turn
                size, _, _ = await asyncio.gather(read(buffers[turn]), write(view), hash_(view))
    finally:
        await src.close()


async def _kernel_copy(src: int, dst: int, errors: ErrorMap) -> bool:
    """Copy all of ``src`` to ``dst`` in the kernel; ``False`` if this system cannot (nothing copied)."""
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is None:
        return False
    copied = 0
    with errors():
        try:
            while step := await asyncio.to_thread(copy_file_range, src, dst, _KERNEL_COPY):
                copied += step
        except OSError as exc:
            if copied or exc.errno not in _NO_KERNEL_COPY:
                raise
            return False
    return True


async def _kernel_copy_hashed(
    src: int, dst: int, digest: Checksum, errors: ErrorMap, *, early_writeback: bool
) -> bool:
    """Copy all of ``src`` to ``dst`` in the kernel while ``digest`` hashes ``dst`` behind the copy.

    ``False`` if this system cannot copy in the kernel (nothing copied, nothing hashed). The copy
    runs in ``_HASHED_COPY_STEP`` steps in one thread; another thread reads back (``pread``) and
    hashes each step once it is written: the page cache serves it, and the checksum describes what
    was stored even if the source changes meanwhile. With ``early_writeback`` (for a write that
    will be ``fsync``-ed) each hashed step is handed to the disk at once (``sync_file_range``,
    where the system has it) rather than all of it at the ``fsync``.

    The threads work on duplicates of the file descriptors and close them themselves, and a
    cancelled copy tells them to stop at their next step: the caller may close its own at once.
    """
    if not hasattr(os, "copy_file_range"):
        return False
    progress = _Progress()
    src, dst = os.dup(src), os.dup(dst)
    try:
        running = _in_new_thread(lambda: _copy_and_hash(src, dst, digest, progress, early_writeback))
    except BaseException:  # no thread (the system refused one) to close them
        os.close(src)
        os.close(dst)
        raise
    try:
        with errors():
            return await running
    finally:
        progress.abandon()  # a no-op once the copy is over


class _Progress:
    """Bytes copied so far, shared by the copying thread and the hashing thread that follows it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._copied = 0
        self._finished = False
        self.abandoned = False

    def advance(self, copied: int) -> None:
        with self._changed:
            self._copied += copied
            self._changed.notify_all()

    def finish(self) -> None:
        """The copy is over (done, failed or not possible)."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()

    def abandon(self) -> None:
        """Both threads stop at their next step (a failure elsewhere, or the upload was cancelled)."""
        with self._changed:
            self.abandoned = True
            self._finished = True
            self._changed.notify_all()

    def wait_beyond(self, hashed: int) -> int | None:
        """The bytes copied once they exceed ``hashed``; ``None`` once the copy is over at ``hashed``."""
        with self._changed:
            while self._copied <= hashed and not self._finished:
                self._changed.wait()
            return None if self.abandoned or self._copied <= hashed else self._copied


def _copy_and_hash(src: int, dst: int, digest: Checksum, progress: _Progress, early_writeback: bool) -> bool:
    """The copying thread: copy, with a hashing thread behind it; closes ``src`` and ``dst``."""
    failures: list[BaseException] = []
    hasher = threading.Thread(
        target=_hash_behind,
        args=(dst, digest, progress, failures, early_writeback),
        name="allm-storage-hash",
        daemon=True,
    )
    try:
        hasher.start()
        try:
            copied = _copy_in_steps(src, dst, progress)
        finally:
            progress.finish()
            hasher.join()
        if failures:
            raise failures[0]
        return copied
    finally:
        os.close(src)
        os.close(dst)


def _copy_in_steps(src: int, dst: int, progress: _Progress) -> bool:
    done = 0
    while not progress.abandoned:
        try:
            step = os.copy_file_range(src, dst, _HASHED_COPY_STEP)
        except OSError as exc:
            if done or exc.errno not in _NO_KERNEL_COPY:
                raise
            return False
        if not step:
            break
        done += step
        progress.advance(step)
    return True


def _hash_behind(
    dst: int, digest: Checksum, progress: _Progress, failures: list[BaseException], early_writeback: bool
) -> None:
    """The hashing thread: hash ``dst`` up to what has been copied, until the copy is over."""
    view = memoryview(bytearray(_HASH_READ))
    hashed = 0
    try:
        while (copied := progress.wait_beyond(hashed)) is not None:
            start = hashed
            while hashed < copied and not progress.abandoned:
                got = os.preadv(dst, [view[: min(_HASH_READ, copied - hashed)]], hashed)
                if not got:
                    raise OSError(errno.EIO, "the copy is shorter than the bytes copied into it")
                digest.update(view[:got])
                hashed += got
            if early_writeback and (start_writeback := _sync_file_range()) is not None:
                start_writeback(dst, start, hashed - start, _SYNC_FILE_RANGE_WRITE)  # a hint: errors
                # surface at the fsync
    except BaseException as exc:  # handed to the copying thread, which raises it
        failures.append(exc)
        progress.abandon()


def _in_new_thread(function: Callable[[], _T]) -> asyncio.Future[_T]:
    """Run ``function`` in a new thread and await its result.

    Unlike ``asyncio.to_thread`` it starts at once (never waits, cancellable, in the executor's
    queue), so cleanup that ``function`` does is sure to happen. Cancelling the await does not stop
    ``function``: it has to stop by itself.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, failure: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled
            return
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # _T when failure is None

    def run() -> None:
        result: _T | None = None
        failure: BaseException | None = None
        try:
            result = function()
        except BaseException as exc:
            failure = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, failure)

    threading.Thread(target=run, name="allm-storage-copy", daemon=True).start()
    return future


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
