"""What every StorageClient promises, checked on the local folder and on S3 (moto server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import aiohttp
import pytest

from anythingllm_bridge.errors import StorageError, StorageFileNotFoundError, StorageKeyError
from anythingllm_bridge.storage import LocalStorageClient, StorageClient, StoredObject


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_all(store: StorageClient, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open_read(key)])


async def fetch(url: str) -> bytes:
    """What a user gets from the URL: a file read for file://, an HTTP GET otherwise."""
    if url.startswith("file://"):
        return await asyncio.to_thread(Path(url2pathname(urlparse(url).path)).read_bytes)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.read()


async def test_put_stream_round_trip_reports_size_and_sha256_checksum(store: StorageClient) -> None:
    data = b"hello, " * 1000 + "wörld".encode()
    stored = await store.put_stream(
        "docs/2024/greeting.txt", [data[:10], bytearray(data[10:500]), data[500:]]
    )
    assert stored == StoredObject("docs/2024/greeting.txt", len(data), sha256(data), "sha256")
    assert stored.checksum_algorithm == "sha256"
    assert await read_all(store, "docs/2024/greeting.txt") == data
    assert await store.file_exists("docs/2024/greeting.txt")


async def test_put_stream_accepts_async_iterables_and_empty_objects(store: StorageClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        yield b""
        yield b"bc"

    assert (await store.put_stream("abc", chunks())).size == 3
    assert await read_all(store, "abc") == b"abc"
    empty = await store.put_stream("empty", [])
    assert empty.size == 0
    assert empty.checksum == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256("")
    assert await read_all(store, "empty") == b""


async def test_put_stream_rejects_a_bare_bytes_value(store: StorageClient) -> None:
    with pytest.raises(TypeError, match="iterable of bytes"):
        await store.put_stream("k", b"not chunks")  # type: ignore[arg-type]
    assert not await store.file_exists("k")


async def test_upload_file_and_download_file_round_trip(store: StorageClient, tmp_path: Path) -> None:
    source = tmp_path / "report final (2).pdf"
    data = os.urandom(300_000)
    source.write_bytes(data)
    stored = await store.upload_file(source, "reports/report final (2).pdf")
    assert stored.size == len(data)
    assert (stored.checksum, stored.checksum_algorithm) == (sha256(data), "sha256")
    dest = tmp_path / "out" / "nested" / "copy.pdf"
    assert await store.download_file("reports/report final (2).pdf", dest) == dest
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["copy.pdf"]  # no temporary file left


async def test_overwriting_a_key_replaces_its_content(store: StorageClient) -> None:
    await store.put_stream("k.txt", [b"first version, longer"])
    await store.put_stream("k.txt", [b"second"])
    assert await read_all(store, "k.txt") == b"second"


async def test_open_read_yields_chunks_no_larger_than_asked(store: StorageClient) -> None:
    data = os.urandom(100_000)
    await store.put_stream("blob", [data])
    chunks = [chunk async for chunk in store.open_read("blob", chunk_size=4096)]
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= 4096


async def test_list_files_is_sorted_and_filters_by_string_prefix(store: StorageClient) -> None:
    for key in ["docs/b.txt", "docs/a.txt", "docs/sub/c.txt", "docsy.txt", "other/d.txt", "top.txt"]:
        await store.put_stream(key, [b"x"])
    assert await store.list_files() == [
        "docs/a.txt",
        "docs/b.txt",
        "docs/sub/c.txt",
        "docsy.txt",
        "other/d.txt",
        "top.txt",
    ]
    assert await store.list_files("docs/") == ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt"]
    assert await store.list_files("docs") == ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "docsy.txt"]
    assert await store.list_files("docs/s") == ["docs/sub/c.txt"]
    assert await store.list_files("nothing/here/") == []


async def test_list_objects_gives_sizes_and_a_stamp_that_a_rewrite_changes(store: StorageClient) -> None:
    await store.put_stream("docs/a.txt", [b"alpha"])
    await store.put_stream("docs/sub/b.txt", [b"bravo!!"])
    await store.put_stream("other.txt", [b""])
    listed = await store.list_objects("docs/")
    assert [(item.key, item.size) for item in listed] == [("docs/a.txt", 5), ("docs/sub/b.txt", 7)]
    assert [item.key for item in await store.list_objects()] == await store.list_files()
    if isinstance(store, LocalStorageClient):
        # Date the first version back: a file system stamps mtime at its clock's granularity (a
        # whole second on some), so a rewrite right after could otherwise carry the same stamp.
        os.utime(store.base_path / "docs" / "a.txt", (1_000_000_000, 1_000_000_000))  # 2001-09-09
        listed = await store.list_objects("docs/")
    (before,) = [item for item in listed if item.key == "docs/a.txt"]
    assert (before.etag, before.mtime_ns) != (None, None)  # every backend gives a version stamp

    await store.put_stream("docs/a.txt", [b"ALPHA"])  # same size, other bytes
    (after,) = await store.list_objects("docs/a.txt")
    assert after.size == 5
    assert (after.etag, after.mtime_ns) != (before.etag, before.mtime_ns)


async def test_delete_file_says_whether_something_was_deleted(store: StorageClient) -> None:
    await store.put_stream("folder/gone.txt", [b"x"])
    await store.put_stream("folder/kept.txt", [b"y"])
    assert await store.delete_file("folder/gone.txt") is True
    assert not await store.file_exists("folder/gone.txt")
    assert await store.delete_file("folder/gone.txt") is False
    assert await store.list_files() == ["folder/kept.txt"]
    assert await store.delete_file("folder") is False  # a prefix of other keys is not an object


async def test_missing_keys_raise_not_found_and_create_nothing(store: StorageClient, tmp_path: Path) -> None:
    assert not await store.file_exists("missing.txt")
    with pytest.raises(StorageFileNotFoundError) as info:
        await read_all(store, "missing.txt")
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.key == "missing.txt"
    dest = tmp_path / "dl" / "missing.txt"
    with pytest.raises(StorageFileNotFoundError):
        await store.download_file("missing.txt", dest)
    assert not dest.exists()
    with pytest.raises(StorageFileNotFoundError):
        await store.get_file_url("missing.txt")


async def test_get_file_url_serves_the_content(store: StorageClient) -> None:
    data = b"%PDF-1.7 pretend\n%%EOF\n"
    await store.put_stream("pub/doc one.pdf", [data])
    url = await store.get_file_url("pub/doc one.pdf", expires_in=600)
    assert await fetch(url) == data


@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1, 1.5, True])
async def test_get_file_url_rejects_impossible_lifetimes(store: StorageClient, expires_in: object) -> None:
    await store.put_stream("k", [b"x"])
    with pytest.raises(ValueError, match="expires_in"):
        await store.get_file_url("k", expires_in=expires_in)  # type: ignore[arg-type]


class Interrupted(Exception):
    pass


async def test_a_failing_chunk_source_leaves_the_key_untouched(store: StorageClient) -> None:
    await store.put_stream("doc.txt", [b"old content"])

    async def broken() -> AsyncIterator[bytes]:
        yield b"new " * 1000
        yield b"more " * 1000
        raise Interrupted("source died mid-way")

    with pytest.raises(Interrupted):
        await store.put_stream("doc.txt", broken())
    with pytest.raises(Interrupted):
        await store.put_stream("fresh.txt", broken())
    assert await read_all(store, "doc.txt") == b"old content"
    assert not await store.file_exists("fresh.txt")
    assert await store.list_files() == ["doc.txt"]


async def test_a_cancelled_write_leaves_nothing_under_the_key(store: StorageClient) -> None:
    reached = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"partial " * 1000
        reached.set()
        await asyncio.Event().wait()  # never delivers the rest
        yield b"never"

    task = asyncio.create_task(store.put_stream("stalled.txt", stalls()))
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await store.file_exists("stalled.txt")
    assert await store.list_files() == []


@pytest.mark.parametrize(
    "key", ["", "/abs", "../up", "a/../b", "a//b", "a/", "C:/x", "a\\b", "a\x00b", "a\nb"]
)
async def test_unsafe_keys_are_refused_by_every_operation(
    store: StorageClient, key: str, tmp_path: Path
) -> None:
    source = tmp_path / "src.txt"
    source.write_bytes(b"x")
    attempts = [
        store.put_stream(key, [b"x"]),
        store.upload_file(source, key),
        store.download_file(key, tmp_path / "dest"),
        store.delete_file(key),
        store.file_exists(key),
        store.get_file_url(key),
    ]
    for attempt in attempts:
        with pytest.raises(StorageKeyError):
            await attempt
    with pytest.raises(StorageKeyError):
        store.open_read(key)
    assert not (tmp_path / "dest").exists()
    assert await store.list_files() == []


async def test_uploading_a_missing_or_folder_source_names_it(store: StorageClient, tmp_path: Path) -> None:
    with pytest.raises(StorageFileNotFoundError, match=r"nope\.pdf"):
        await store.upload_file(tmp_path / "nope.pdf", "k")
    with pytest.raises(StorageError, match="folder"):
        await store.upload_file(tmp_path, "k")
    assert not await store.file_exists("k")
