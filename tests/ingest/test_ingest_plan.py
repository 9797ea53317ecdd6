"""The planner: unchanged files are never read; changes, new files and removals are classified."""

from __future__ import annotations

import os
from pathlib import Path

from anythingllm_bridge.ingest.manifest import Manifest, ManifestEntry
from anythingllm_bridge.ingest.plan import Action, make_plan
from anythingllm_bridge.ingest.source import FolderSource, SourceFile, sha256_file


def _write(root: Path, key: str, text: str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _record(manifest: Manifest, root: Path, key: str, location: str) -> None:
    path = root / key
    st = path.stat()
    manifest.entries[key] = ManifestEntry(
        key=key, sha256=sha256_file(path), size=st.st_size, mtime_ns=st.st_mtime_ns, location=location
    )


class CountingSource(FolderSource):
    hashed: list[str]

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hashed = []

    async def sha256(self, file: SourceFile) -> str:
        self.hashed.append(file.key)
        return await super().sha256(file)


async def test_new_files_are_uploaded(tmp_path: Path) -> None:
    _write(tmp_path, "a.csv", "x,y\n1,2\n")
    _write(tmp_path, "sub/b.json", "{}")
    source = CountingSource(tmp_path)
    plan = await make_plan(await source.scan(), Manifest("ws", "src"), source.sha256)
    assert [(i.action, i.key) for i in plan.items] == [
        (Action.UPLOAD, "a.csv"),
        (Action.UPLOAD, "sub/b.json"),
    ]
    assert source.hashed == []


async def test_unchanged_files_are_not_read(tmp_path: Path) -> None:
    manifest = Manifest("ws", "src")
    for n in range(20):
        _write(tmp_path, f"f{n}.txt", f"text {n}")
        _record(manifest, tmp_path, f"f{n}.txt", f"custom-documents/f{n}.json")
    source = CountingSource(tmp_path)
    plan = await make_plan(await source.scan(), manifest, source.sha256)
    assert plan.counts()["unchanged"] == 20
    assert source.hashed == []


async def test_a_touched_file_is_hashed_and_stays_unchanged(tmp_path: Path) -> None:
    manifest = Manifest("ws", "src")
    path = _write(tmp_path, "a.txt", "same")
    _record(manifest, tmp_path, "a.txt", "custom-documents/a.json")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    source = CountingSource(tmp_path)
    plan = await make_plan(await source.scan(), manifest, source.sha256)
    (item,) = plan.items
    assert (item.action, item.reason, item.sha256) == (
        Action.UNCHANGED,
        "touched",
        manifest.entries["a.txt"].sha256,
    )
    assert source.hashed == ["a.txt"]


async def test_a_changed_file_is_replaced(tmp_path: Path) -> None:
    manifest = Manifest("ws", "src")
    _write(tmp_path, "a.txt", "old")
    _record(manifest, tmp_path, "a.txt", "custom-documents/a.json")
    _write(tmp_path, "a.txt", "new and longer")
    source = CountingSource(tmp_path)
    plan = await make_plan(await source.scan(), manifest, source.sha256)
    (item,) = plan.items
    assert item.action is Action.REPLACE
    assert item.entry is not None
    assert item.entry.location == "custom-documents/a.json"


async def test_removed_files_are_pruned_only_when_asked(tmp_path: Path) -> None:
    manifest = Manifest("ws", "src")
    _write(tmp_path, "keep.txt", "k")
    _record(manifest, tmp_path, "keep.txt", "custom-documents/keep.json")
    _write(tmp_path, "gone.txt", "g")
    _record(manifest, tmp_path, "gone.txt", "custom-documents/gone.json")
    (tmp_path / "gone.txt").unlink()
    source = FolderSource(tmp_path)
    plan = await make_plan(await source.scan(), manifest, source.sha256)
    assert plan.of(Action.REMOVE) == []
    assert plan.gone == ["gone.txt"]
    plan = await make_plan(await source.scan(), manifest, source.sha256, prune=True)
    (removal,) = plan.of(Action.REMOVE)
    assert removal.key == "gone.txt"
    assert removal.entry is not None
    assert removal.entry.location == "custom-documents/gone.json"


async def test_a_document_missing_from_the_workspace_is_sent_again(tmp_path: Path) -> None:
    manifest = Manifest("ws", "src")
    _write(tmp_path, "a.txt", "a")
    _record(manifest, tmp_path, "a.txt", "custom-documents/a.json")
    source = FolderSource(tmp_path)
    plan = await make_plan(await source.scan(), manifest, source.sha256, workspace_docpaths=set())
    (item,) = plan.items
    assert (item.action, item.reason) == (Action.REPLACE, "missing from the workspace")


async def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, ".DS_Store", "x")
    _write(tmp_path, ".git/config", "x")
    _write(tmp_path, "doc.md", "# hi")
    assert [f.key for f in await FolderSource(tmp_path).scan()] == ["doc.md"]
