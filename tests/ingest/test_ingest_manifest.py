"""The manifest survives crashes: journal lines are durable, torn lines are ignored, writes are atomic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest.manifest import FileManifestStore, ManifestEntry


def _entry(key: str, n: int) -> ManifestEntry:
    return ManifestEntry(
        key=key, sha256=f"{n:064x}", size=n, mtime_ns=n * 10, location=f"custom-documents/{key}-{n}.json"
    )


async def test_a_new_manifest_is_empty_and_belongs_to_its_workspace(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    assert manifest.entries == {}
    assert manifest.workspace == "docs"
    assert not (tmp_path / "m.json").exists()


async def test_every_recorded_change_survives_a_crash_before_flush(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    for n, key in enumerate(["a.txt", "b.txt", "c.txt"], start=1):
        manifest.entries[key] = _entry(key, n)
        await store.record(manifest, key)
    del manifest.entries["b.txt"]
    await store.record(manifest, "b.txt")
    await store.close()  # the process "dies" here: no flush (dying releases the lock too)
    reloaded = await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
    assert sorted(reloaded.entries) == ["a.txt", "c.txt"]
    assert reloaded.entries["c.txt"].location == "custom-documents/c.txt-3.json"
    assert reloaded.sync_id == manifest.sync_id


async def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.close()
    journal = tmp_path / "m.json.journal"
    torn = b'{"sync_id":"' + manifest.sync_id.encode() + b'","key":"b.txt","entry":{"sha2'
    journal.write_bytes(journal.read_bytes() + torn)
    reloaded = await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
    assert list(reloaded.entries) == ["a.txt"]


async def test_flush_folds_the_journal_into_one_atomic_file(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    await store.record(manifest, "a.txt")
    await store.flush(manifest)
    assert not (tmp_path / "m.json.journal").exists()
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.json.lock"]  # no temporary file
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["entries"]["a.txt"]["location"] == "custom-documents/a.txt-1.json"


async def test_the_journal_is_compacted_when_it_grows(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json", compact_every=5)
    manifest = await store.load(workspace="docs", source="/src")
    for n in range(12):
        manifest.entries[f"f{n}"] = _entry(f"f{n}", n + 1)
        await store.record(manifest, f"f{n}")
    await store.close()
    journal = tmp_path / "m.json.journal"
    lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
    assert lines < 12
    reloaded = await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
    assert len(reloaded.entries) == 12


async def test_a_manifest_of_another_workspace_is_refused(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    await store.flush(manifest)
    await store.close()
    with pytest.raises(IngestError, match="belongs to workspace 'docs'"):
        await FileManifestStore(tmp_path / "m.json").load(workspace="other", source="/src")


async def test_a_corrupt_manifest_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(IngestError, match="not valid JSON"):
        await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
    (tmp_path / "m.json").write_text('{"some": "thing"}')
    with pytest.raises(IngestError, match="not an anythingllm-bridge manifest"):
        await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")


async def test_two_syncs_cannot_use_one_manifest_at_once(tmp_path: Path) -> None:
    first = FileManifestStore(tmp_path / "m.json")
    await first.load(workspace="docs", source="/src")
    with pytest.raises(IngestError, match="another sync is using the manifest"):
        await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
    await first.close()
    await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")  # free again


async def test_a_manifest_and_journal_written_earlier_load_and_keep_their_format(tmp_path: Path) -> None:
    a = {"sha256": "a" * 64, "size": 3, "mtime_ns": 30, "location": "custom-documents/a.json", "stale": ["x"]}
    b = {
        "sha256": "b" * 64,
        "size": 4,
        "etag": '"e"',
        "location": "custom-documents/b.json",
        "uploaded_at": 1.5,
    }
    base = {"format": "anythingllm-bridge-manifest", "version": 1, "workspace": "docs", "source": "/src"}
    base |= {"sync_id": "0123456789ab", "entries": {"a.txt": a}}
    (tmp_path / "m.json").write_text(json.dumps(base, indent=1))
    line = {"sync_id": "0123456789ab", "key": "b.txt", "entry": b}
    (tmp_path / "m.json.journal").write_text(json.dumps(line, separators=(",", ":")) + "\n")
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    assert (manifest.entries["a.txt"].stale, manifest.entries["b.txt"].etag) == (["x"], '"e"')
    await store.flush(manifest)
    await store.close()
    assert json.loads((tmp_path / "m.json").read_text()) == {**base, "entries": {"a.txt": a, "b.txt": b}}
    assert not (tmp_path / "m.json.journal").exists()


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


async def test_changes_recorded_at_once_land_in_the_order_they_were_recorded(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = await store.load(workspace="docs", source="/src")
    await store.flush(manifest)  # the base exists: each record below is one journal line

    async def change(version: int) -> None:
        manifest.entries["a.txt"] = _entry("a.txt", version)
        await store.record(manifest, "a.txt")

    await asyncio.gather(*(change(version) for version in range(1, 61)))
    await store.close()
    assert [line["entry"]["size"] for line in journal_lines(tmp_path / "m.json.journal")] == list(
        range(1, 61)
    )
    reloaded = await FileManifestStore(tmp_path / "m.json").load(workspace="docs", source="/src")
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
    manifest = await store.load(workspace="docs", source="/src")
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
    manifest = await store.load(workspace="docs", source="/src")
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
