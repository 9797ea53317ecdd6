"""Chunk plumbing shared by the backends: accepting any iterable of bytes, re-chunking."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TypeVar

__all__ = ["Chunk", "Chunks", "Part", "aiter_chunks", "prepend", "rechunk"]

Chunk = bytes | bytearray | memoryview
Part = bytes | bytearray  # what botocore takes as a body without copying it
Chunks = AsyncIterable[Chunk] | Iterable[Chunk]
"""What ``put_stream`` accepts: any (async) iterable of bytes-like chunks."""

_T = TypeVar("_T")


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


async def prepend(first: Iterable[_T], rest: AsyncIterator[_T]) -> AsyncIterator[_T]:
    """Yield ``first`` (chunks already taken from ``rest``), then the rest of ``rest``."""
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


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
