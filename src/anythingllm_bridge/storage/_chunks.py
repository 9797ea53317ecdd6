"""Chunk plumbing shared by the backends: accepting any iterable of bytes, re-chunking, hashing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["Chunk", "Chunks", "Part", "Sha256", "aiter_chunks", "read_ahead", "rechunk"]

Chunk = bytes | bytearray | memoryview
Part = bytes | bytearray  # what botocore takes as a body without copying it
Chunks = AsyncIterable[Chunk] | Iterable[Chunk]
"""What ``put_stream`` accepts: any (async) iterable of bytes-like chunks."""

_HASH_IN_THREAD = 64 * 1024  # smaller chunks are hashed inline: a thread hop costs more


async def aiter_chunks(chunks: Chunks) -> AsyncIterator[bytes]:
    """Iterate over ``chunks`` (sync or async), rejecting anything that is not bytes-like."""
    if isinstance(chunks, bytes | bytearray | memoryview | str):
        raise TypeError("put_stream() takes an iterable of bytes chunks, not a single bytes/str value")
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield _as_bytes(chunk)
    else:
        for chunk in chunks:
            yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"put_stream() chunks must be bytes, got {type(chunk).__name__}")


async def read_ahead(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Yield ``chunks``, already fetching the next one while the consumer handles the current one."""
    pending = asyncio.ensure_future(anext(chunks, None))
    try:
        while (chunk := await pending) is not None:
            pending = asyncio.ensure_future(anext(chunks, None))
            yield chunk
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


async def rechunk(chunks: AsyncIterator[Part], size: int) -> AsyncIterator[Part]:
    """Regroup ``chunks`` into pieces of exactly ``size`` bytes (the last one may be shorter).

    A chunk that already has the right size passes through untouched (no copy).
    """
    buffer = bytearray()
    async for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield chunk
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield buffer[:size]
            del buffer[:size]
    if buffer:
        yield buffer


class Sha256:
    """A running SHA-256 and byte count; large chunks are hashed in a thread (the GIL is released)."""

    def __init__(self) -> None:
        self._hash: _Hash = hashlib.sha256()
        self.size = 0

    async def update(self, chunk: Chunk) -> None:
        if len(chunk) >= _HASH_IN_THREAD:
            await asyncio.to_thread(self._hash.update, chunk)
        else:
            self._hash.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
