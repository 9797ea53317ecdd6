"""Atomic local file writes: a temporary file in the destination folder, renamed into place."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import aiofiles
import aiofiles.os

from anythingllm_bridge.errors import StorageError, StorageFileNotFoundError, StoragePermissionError
from anythingllm_bridge.storage._chunks import Sha256

__all__ = ["TMP_PREFIX", "read_file", "source_errors", "write_atomically", "write_download"]

TMP_PREFIX = ".allm-tmp-"
"""Name prefix of temporary files; listings skip them and keys may not use it."""


async def write_atomically(
    folder: str,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    errors: Callable[[], AbstractContextManager[None]],
    fsync: bool,
    digest: Sha256 | None = None,
) -> None:
    """Write ``chunks`` to a temporary file in ``folder``, then rename it to ``name``.

    ``errors()`` wraps every file-system call (turning ``OSError`` into the right
    :class:`StorageError`); what ``chunks`` raises is the caller's and passes unchanged. With
    ``digest``, every chunk is also hashed, in a thread while it is being written. On any failure
    (or cancellation) the temporary file is removed and ``name`` is left as it was.
    """
    tmp = os.path.join(folder, f"{TMP_PREFIX}{secrets.token_hex(8)}")
    with errors():
        await aiofiles.os.makedirs(folder, exist_ok=True)
        out = await aiofiles.open(tmp, "xb")
    try:
        try:
            async for chunk in chunks:
                with errors():
                    if digest is None:
                        await out.write(chunk)
                    else:
                        await asyncio.gather(out.write(chunk), digest.update(chunk))
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

        async def everything() -> AsyncIterator[bytes]:
            if first is not None:
                yield first
                async for chunk in chunks:
                    yield chunk

        await write_atomically(
            str(dest.parent), dest.name, everything(), errors=lambda: _destination_errors(dest), fsync=False
        )
    finally:
        await chunks.aclose()
    return dest


@contextlib.contextmanager
def _destination_errors(dest: Path) -> Iterator[None]:
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


async def read_file(source: Path, size: int) -> AsyncGenerator[bytes, None]:
    """The bytes of the local file ``source``, ``size`` bytes at a time (errors name the file)."""
    with source_errors(source):
        async with aiofiles.open(source, "rb") as handle:
            while chunk := await handle.read(size):
                yield chunk
