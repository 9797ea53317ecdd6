"""The sync's cache survives crashes (journal lines are durable, torn lines are ignored, writes are
atomic), and a cache that is not one, or is another source's, only costs reading the files again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest.manifest import FileManifestStore, ManifestEntry


def _entry(key: str, n: int) -> ManifestEntry:
    return ManifestEntry(key=key, sha256=f"{n:064x}", size=n, mtime_ns=n * 10)


async def test_a_new_cache_is_empty_and_belongs_to_its_source(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    assert manifest.entries == {}
    assert manifest.source == "/src"
    assert not (tmp_path / "m.json").exists()


async def test_every_recorded_change_survives_a_crash_before_flush(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    for n, key in enumerate(["a.txt", "b.txt", "c.txt"], start=1):
        manifest.entries[key] = _entry(key, n)
        await store.record(manifest, key)
    del manifest.entries["b.txt"]
    await store.record(manifest, "b.txt")
    await store.close()  # the process "dies" here: no flush (dying releases the lock too)
    reloaded = await FileManifestStore(tmp_path / "m.json").load(source="/src")
    assert sorted(reloaded.entries) == ["a.txt", "c.txt"]
    assert reloaded.entries["c.txt"].sha256 == f"{3:064x}"


async def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.close()
    journal = tmp_path / "m.json.journal"
    torn = b'{"source":"/src","key":"b.txt","entry":{"sha2'
    journal.write_bytes(journal.read_bytes() + torn)
    reloaded = await FileManifestStore(tmp_path / "m.json").load(source="/src")
    assert list(reloaded.entries) == ["a.txt"]


async def test_flush_folds_the_journal_into_one_atomic_file(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.flush(manifest)
    assert not (tmp_path / "m.json.journal").exists()
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.json.lock"]  # no temporary file
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["entries"]["a.txt"]["sha256"] == f"{1:064x}"


async def test_the_journal_is_compacted_when_it_grows(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json", compact_every=5)
    manifest = await store.load(source="/src")
    for n in range(12):
        manifest.entries[f"f{n}"] = _entry(f"f{n}", n + 1)
        await store.record(manifest, f"f{n}")
    await store.close()
    journal = tmp_path / "m.json.journal"
    lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
    assert lines < 12
    reloaded = await FileManifestStore(tmp_path / "m.json").load(source="/src")
    assert len(reloaded.entries) == 12


async def test_a_cache_of_another_source_or_no_cache_at_all_starts_afresh(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.flush(manifest)
    await store.close()
    assert (await FileManifestStore(tmp_path / "m.json").load(source="/other")).entries == {}
    for text in ("", '{"format": "anythingllm-bridge-manifest", "version": 1}'):
        (tmp_path / "m.json").write_text(text)
        assert (await FileManifestStore(tmp_path / "m.json").load(source="/src")).entries == {}
    for text in ("{not json", '{"some": "thing"}'):  # in the state folder, only a sync writes there
        (tmp_path / "m.json").write_text(text)
        own = FileManifestStore(tmp_path / "m.json", own_folder=True)
        assert (await own.load(source="/src")).entries == {}
        await own.close()


async def test_a_file_that_is_not_a_cache_is_never_overwritten(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    for text in ("{not json", '{"some": "thing"}', "my notes\n"):
        notes.write_text(text)
        with pytest.raises(IngestError, match="exists and is not one"):
            await FileManifestStore(notes).load(source="/src")
        assert notes.read_text() == text
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match="is a device, pipe or socket, not a regular file"):
        await FileManifestStore(fifo).load(source="/src")
    with pytest.raises(IngestError, match="is a folder, not a regular file"):
        await FileManifestStore(tmp_path).load(source="/src")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "c.json.journal").mkdir()  # the journal beside it counts as much as the cache
    with pytest.raises(IngestError, match=r"c\.json\.journal is a folder"):
        await FileManifestStore(tmp_path / "c.json").load(source="/src")
    assert not (tmp_path / "c.json").exists()


async def test_the_cache_and_its_journal_and_lock_are_private(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json", compact_every=100)
    manifest = await store.load(source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    for path in (store.journal_path, store.lock_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    await store.flush(manifest)
    await store.close()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


async def test_unreadable_entries_are_dropped_with_a_note_naming_the_cache(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    for n in (1, 2):
        manifest.entries[f"{n}.txt"] = _entry(f"{n}.txt", n)
    await store.flush(manifest)
    await store.close()
    data = json.loads((tmp_path / "m.json").read_text())
    data["entries"]["2.txt"]["size"] = "large"
    (tmp_path / "m.json").write_text(json.dumps(data))
    again = FileManifestStore(tmp_path / "m.json")
    loaded = await again.load(source="/src")
    await again.close()
    assert list(loaded.entries) == ["1.txt"]
    assert loaded.notes == [
        f"the sync cache {tmp_path / 'm.json'} had 1 unreadable entry; dropped (their files are read again)"
    ]


async def test_a_dry_run_creates_nothing(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "state" / "m.json")
    assert (await store.load(source="/src", write=False)).entries == {}
    await store.close()
    assert not (tmp_path / "state").exists()


async def test_a_cache_that_cannot_be_written_lets_the_sync_go_on(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file where the cache's folder would be\n")
    store = FileManifestStore(tmp_path / "plain" / "m.json")  # no one can write there, root included
    manifest = await store.load(source="/src")
    assert store.read_only
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.flush(manifest)
    await store.close()
    assert "cannot write the sync cache" in manifest.notes[0]
    assert "--manifest" in manifest.notes[0]


async def test_a_second_sync_on_one_cache_reads_it_and_writes_nothing(tmp_path: Path) -> None:
    first = FileManifestStore(tmp_path / "m.json")
    mine = await first.load(source="/src")
    mine.entries["a.txt"] = _entry("a.txt", 1)
    await first.record(mine, "a.txt")
    second = FileManifestStore(tmp_path / "m.json")
    theirs = await second.load(source="/src")
    assert second.read_only
    assert list(theirs.entries) == ["a.txt"]  # it reads what the first has written so far
    theirs.entries["b.txt"] = _entry("b.txt", 2)
    await second.record(theirs, "b.txt")
    await second.flush(theirs)
    await second.close()
    await first.flush(mine)
    await first.close()
    assert list((await FileManifestStore(tmp_path / "m.json").load(source="/src")).entries) == ["a.txt"]


async def test_keys_that_are_not_utf8_round_trip(tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9/na\xefve.txt")
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    manifest.entries[odd] = _entry(odd, 1)
    await store.record(manifest, odd)
    await store.close()  # from the journal ...
    assert list((await FileManifestStore(tmp_path / "m.json").load(source="/src")).entries) == [odd]
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    await store.flush(manifest)
    await store.close()  # ... and from the compacted file
    json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert list((await FileManifestStore(tmp_path / "m.json").load(source="/src")).entries) == [odd]


async def test_a_cache_and_journal_written_earlier_load_and_keep_their_format(tmp_path: Path) -> None:
    a = {"sha256": "a" * 64, "size": 3, "mtime_ns": 30}
    b = {"sha256": "b" * 64, "size": 4, "etag": '"e"', "pending": "c" * 64}
    base = {"format": "anythingllm-bridge-manifest", "version": 2, "source": "/src", "entries": {"a.txt": a}}
    (tmp_path / "m.json").write_text(json.dumps(base, indent=1))
    line = {"source": "/src", "key": "b.txt", "entry": b}
    (tmp_path / "m.json.journal").write_text(json.dumps(line, separators=(",", ":")) + "\n")
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    assert (manifest.entries["a.txt"].mtime_ns, manifest.entries["b.txt"].etag) == (30, '"e"')
    await store.flush(manifest)
    await store.close()
    assert json.loads((tmp_path / "m.json").read_text()) == {**base, "entries": {"a.txt": a, "b.txt": b}}
    assert not (tmp_path / "m.json.journal").exists()


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


async def test_changes_recorded_at_once_land_in_the_order_they_were_recorded(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    await store.flush(manifest)  # the base exists: each record below is one journal line

    async def change(version: int) -> None:
        manifest.entries["a.txt"] = _entry("a.txt", version)
        await store.record(manifest, "a.txt")

    await asyncio.gather(*(change(version) for version in range(1, 61)))
    await store.close()
    assert [line["entry"]["size"] for line in journal_lines(tmp_path / "m.json.journal")] == list(
        range(1, 61)
    )
    reloaded = await FileManifestStore(tmp_path / "m.json").load(source="/src")
    assert reloaded.entries["a.txt"].size == 60  # the last change recorded wins


RESCUE_AFTER = 60.0
"""Seconds after which a stuck journal write is set free: only a store that blocks the event loop
ever waits that long, and it then fails its test instead of hanging it."""


@contextlib.asynccontextmanager
async def slow_journal(store: FileManifestStore) -> AsyncIterator[Callable[[], Awaitable[bytes]]]:
    """Make ``store``'s journal a full pipe: a journal write waits until :func:`drain` reads it.

    The pipe stands in for a slow disk. Yields ``drain``: set the journal free and return the lines
    written to it. A loop that never gets back to the caller is rescued after ``RESCUE_AFTER``.
    """
    os.mkfifo(store.journal_path)
    reader = os.open(store.journal_path, os.O_RDONLY | os.O_NONBLOCK)
    filler = os.open(store.journal_path, os.O_WRONLY | os.O_NONBLOCK)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(filler, b"x" * 4096)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(filler, b"x")  # not one byte more fits
    loop_ran = threading.Event()

    def rescue() -> None:
        if not loop_ran.wait(RESCUE_AFTER):
            with contextlib.suppress(BlockingIOError):
                while os.read(reader, 1 << 16):
                    pass

    rescuer = threading.Thread(target=rescue, daemon=True)
    rescuer.start()

    async def drain() -> bytes:
        loop_ran.set()
        os.set_blocking(reader, True)
        received = b""
        while not received.endswith(b"\n"):
            received += await asyncio.to_thread(os.read, reader, 1 << 16)
        return received.lstrip(b"x")

    try:
        yield drain
    finally:
        loop_ran.set()
        rescuer.join()
        os.close(filler)
        os.close(reader)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_a_slow_journal_write_leaves_the_event_loop_free(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    await store.flush(manifest)
    async with slow_journal(store) as drain:
        manifest.entries["a.txt"] = _entry("a.txt", 1)
        recording = asyncio.create_task(store.record(manifest, "a.txt"))
        await asyncio.sleep(0)  # the record starts: its write waits for the pipe
        ran_meanwhile = not recording.done()  # this coroutine runs while the record waits
        written = await drain()
        await recording
    await store.close()
    assert ran_meanwhile
    assert json.loads(written)["entry"]["size"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_a_cancelled_record_still_lands_before_the_next_one(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(source="/src")
    await store.flush(manifest)
    async with slow_journal(store) as drain:
        manifest.entries["a.txt"] = _entry("a.txt", 1)
        first = asyncio.create_task(store.record(manifest, "a.txt"))
        await asyncio.sleep(0)  # its write waits for the pipe
        manifest.entries["b.txt"] = _entry("b.txt", 2)
        second = asyncio.create_task(store.record(manifest, "b.txt"))
        await asyncio.sleep(0)  # queued behind the first
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        received = b""
        while received.count(b"\n") < 2:
            received += await drain()
        await second
    await store.close()
    assert [json.loads(line)["key"] for line in received.splitlines()] == ["a.txt", "b.txt"]
