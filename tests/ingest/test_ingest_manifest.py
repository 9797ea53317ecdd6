"""The manifest survives crashes: journal lines are durable, torn lines are ignored, writes are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest.manifest import FileManifestStore, ManifestEntry


def _entry(key: str, n: int) -> ManifestEntry:
    return ManifestEntry(
        key=key, sha256=f"{n:064x}", size=n, mtime_ns=n * 10, location=f"custom-documents/{key}-{n}.json"
    )


def test_a_new_manifest_is_empty_and_belongs_to_its_workspace(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = store.load_sync(workspace="docs", source="/src")
    assert manifest.entries == {}
    assert manifest.workspace == "docs"
    assert not (tmp_path / "m.json").exists()


def test_every_recorded_change_survives_a_crash_before_flush(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = store.load_sync(workspace="docs", source="/src")
    for n, key in enumerate(["a.txt", "b.txt", "c.txt"], start=1):
        manifest.entries[key] = _entry(key, n)
        store.record_sync(manifest, key)
    del manifest.entries["b.txt"]
    store.record_sync(manifest, "b.txt")
    store.close_sync()  # the process "dies" here: no flush (dying releases the lock too)
    reloaded = FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")
    assert sorted(reloaded.entries) == ["a.txt", "c.txt"]
    assert reloaded.entries["c.txt"].location == "custom-documents/c.txt-3.json"
    assert reloaded.sync_id == manifest.sync_id


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = store.load_sync(workspace="docs", source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    store.record_sync(manifest, "a.txt")
    store.close_sync()
    with open(tmp_path / "m.json.journal", "ab") as fh:
        fh.write(b'{"sync_id":"' + manifest.sync_id.encode() + b'","key":"b.txt","entry":{"sha2')
    reloaded = FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")
    assert list(reloaded.entries) == ["a.txt"]


def test_flush_folds_the_journal_into_one_atomic_file(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = store.load_sync(workspace="docs", source="/src")
    manifest.entries["a.txt"] = _entry("a.txt", 1)
    store.record_sync(manifest, "a.txt")
    store.flush_sync(manifest)
    assert not (tmp_path / "m.json.journal").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.json.lock"]  # no temporary file
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["entries"]["a.txt"]["location"] == "custom-documents/a.txt-1.json"


def test_the_journal_is_compacted_when_it_grows(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json", compact_every=5)
    manifest = store.load_sync(workspace="docs", source="/src")
    for n in range(12):
        manifest.entries[f"f{n}"] = _entry(f"f{n}", n + 1)
        store.record_sync(manifest, f"f{n}")
    store.close_sync()
    journal = tmp_path / "m.json.journal"
    lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
    assert lines < 12
    reloaded = FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")
    assert len(reloaded.entries) == 12


def test_a_manifest_of_another_workspace_is_refused(tmp_path: Path) -> None:
    store = FileManifestStore(tmp_path / "m.json")
    manifest = store.load_sync(workspace="docs", source="/src")
    store.flush_sync(manifest)
    store.close_sync()
    with pytest.raises(IngestError, match="belongs to workspace 'docs'"):
        FileManifestStore(tmp_path / "m.json").load_sync(workspace="other", source="/src")


def test_a_corrupt_manifest_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(IngestError, match="not valid JSON"):
        FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")
    (tmp_path / "m.json").write_text('{"some": "thing"}')
    with pytest.raises(IngestError, match="not an anythingllm-bridge manifest"):
        FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")


def test_two_syncs_cannot_use_one_manifest_at_once(tmp_path: Path) -> None:
    first = FileManifestStore(tmp_path / "m.json")
    first.load_sync(workspace="docs", source="/src")
    with pytest.raises(IngestError, match="another sync is using the manifest"):
        FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")
    first.close_sync()
    FileManifestStore(tmp_path / "m.json").load_sync(workspace="docs", source="/src")  # free again
