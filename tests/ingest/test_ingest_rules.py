"""Prune never mistakes absence for deletion, the rules of this run decide what belongs in the workspace,
and one bad file never stops the others."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest import FolderSource, Marker, PruneRefusedError, SyncReport, sync
from anythingllm_bridge.ingest.send import MAX_NAME_BYTES, upload_name
from anythingllm_bridge.validation import NOT_REGULAR, FileValidator
from support import mark, requests_since


async def keys_in(client: AnythingLLMClient, workspace: str) -> Counter[str]:
    listing = await client.get_workspace(workspace)
    markers = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
    return Counter(m.key for m in markers if m is not None)


def write(root: Path, names: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).write_text(
            f"{name}\nsome words about {name}\n" if not name.endswith(".csv") else "a,b\n1,2\n"
        )


async def run(
    client: AnythingLLMClient, workspace: str, root: Path, types: str = "md", **options: Any
) -> SyncReport:
    validator = FileValidator(allowed_file_types=types.split(","))
    return await sync(client, FolderSource(root), workspace=workspace, validator=validator, **options)


async def test_an_empty_source_prunes_nothing_unless_allowed(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    root = tmp_path / "mount"
    write(root, ["a.md", "b.md", "c.md"])
    await run(client, workspace, root)
    for name in ["a.md", "b.md", "c.md"]:
        (root / name).unlink()  # the disk is not mounted: the folder is there, empty
    start = mark(emulator)
    with pytest.raises(PruneRefusedError, match="source lists no file at all") as refused:
        await run(client, workspace, root, prune=True)
    assert refused.value.count == 3
    assert "max_delete=3" in str(refused.value)
    assert "nothing was sent or removed" in str(refused.value)
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []
    assert sum((await keys_in(client, workspace)).values()) == 3
    kept = await run(client, workspace, root)  # without prune: reported, kept
    assert kept.gone == ["a.md", "b.md", "c.md"]
    pruned = await run(client, workspace, root, prune=True, max_delete=3)
    assert pruned.removed == ["a.md", "b.md", "c.md"]
    assert await keys_in(client, workspace) == Counter()


async def test_a_prune_of_more_than_half_is_refused_and_of_half_allowed(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md", "b.md", "c.md", "d.md"])
    await run(client, workspace, root)
    (root / "a.md").unlink()
    (root / "b.md").unlink()
    (root / "c.md").unlink()
    with pytest.raises(PruneRefusedError, match="3 of the 4 file"):
        await run(client, workspace, root, prune=True)
    with pytest.raises(PruneRefusedError, match="more than the 2 allowed"):
        await run(client, workspace, root, prune=True, max_delete=2)
    (root / "c.md").write_text("back\n")
    pruned = await run(client, workspace, root, prune=True)  # 2 of 4: half may go
    assert pruned.removed == ["a.md", "b.md"]
    with pytest.raises(IngestError, match="max_delete"):
        await run(client, workspace, root, prune=True, max_delete=-1)


async def test_files_no_longer_allowed_are_rejected_and_pruned(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md", "b.md", "c.md", "d.csv"])
    first = await run(client, workspace, root, types="md,csv")
    assert first.uploaded == ["a.md", "b.md", "c.md", "d.csv"]
    narrowed = await run(client, workspace, root, types="md")
    assert list(narrowed.rejected) == ["d.csv"]
    assert "not allowed here" in narrowed.rejected["d.csv"]
    assert "its document stays" in narrowed.rejected["d.csv"]
    assert narrowed.unchanged == ["a.md", "b.md", "c.md"]
    assert "d.csv" in await keys_in(client, workspace)
    pruned = await run(client, workspace, root, types="md", prune=True)
    assert list(pruned.rejected) == ["d.csv"]
    assert pruned.rejected["d.csv"].endswith("its document was removed")
    assert await keys_in(client, workspace) == Counter(["a.md", "b.md", "c.md"])
    smaller = FileValidator(max_file_size=10, allowed_file_types=["md"])  # a smaller MAX_FILE_SIZE too
    capped = await sync(
        client, FolderSource(root), workspace=workspace, validator=smaller, prune=True, max_delete=3
    )
    assert sorted(capped.rejected) == ["a.md", "b.md", "c.md", "d.csv"]
    assert "more than the limit" in capped.rejected["a.md"]
    assert await keys_in(client, workspace) == Counter()


async def test_odd_names_pipes_and_vanishing_files_never_stop_the_others(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["good.md", "also-good.md"])
    odd = os.fsencode(root) + b"/caf\xe9.md"  # a name that is not UTF-8
    Path(os.fsdecode(odd)).write_bytes(b"# caf\xc3\xa9\n")  # noqa: ASYNC240 - a test's setup
    os.mkfifo(root / "pipe.md")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sock.md"))
    try:
        report = await run(client, workspace, root)
    finally:
        listener.close()
    odd_key = os.fsdecode(b"caf\xe9.md")
    assert report.uploaded == sorted(["also-good.md", odd_key, "good.md"])
    assert report.rejected == {
        "pipe.md": NOT_REGULAR,
        "sock.md": NOT_REGULAR,
    }
    assert report.to_json()["uploaded"] == ["also-good.md", "caf\\xe9.md", "good.md"]
    assert odd_key in await keys_in(client, workspace)  # the marker carries the name's bytes
    assert not report.ok  # rejected files make the run not ok (and the CLI exit 1)

    class Vanishing(FolderSource):
        """Deletes a file just before the sync reads it."""

        def local_path(self, file: Any) -> Any:
            if file.key == "late.md":
                (root / "late.md").unlink()
            return super().local_path(file)

    write(root, ["late.md"])
    validator = FileValidator(allowed_file_types=["md"])
    report = await sync(client, Vanishing(root), workspace=workspace, validator=validator)
    assert report.failed == {"late.md": "it vanished during the sync"}
    assert report.unchanged == sorted(["also-good.md", odd_key, "good.md"])


async def test_an_unreadable_subfolder_is_reported_and_its_documents_kept(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["top.md"])
    write(root / "private", ["secret.md"])
    await run(client, workspace, root)

    class Blind(FolderSource):
        """As if ``private/`` could not be listed (root reads every folder, so chmod cannot show it)."""

        def scan_sync(self) -> Any:
            real = os.scandir

            def scandir(path: Any) -> Any:
                if os.fspath(path).endswith("private"):
                    raise PermissionError(13, "Permission denied", os.fspath(path))
                return real(path)

            os.scandir = scandir  # type: ignore[assignment]
            try:
                return super().scan_sync()
            finally:
                os.scandir = real

    report = await sync(
        client,
        Blind(root),
        workspace=workspace,
        prune=True,
        validator=FileValidator(allowed_file_types=["md"]),
    )
    assert report.failed == {
        "private/": "cannot list this folder: permission denied; the documents of its files are kept"
    }
    assert report.removed == []
    assert await keys_in(client, workspace) == Counter(["top.md", "private/secret.md"])


async def test_concurrency_is_bounded(client: AnythingLLMClient, workspace: str, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md"])
    for bad in (0, 65, -1):
        with pytest.raises(IngestError, match="concurrency must be from 1 to 64"):
            await run(client, workspace, root, concurrency=bad)
    shutil.rmtree(root)


async def test_files_whose_content_turned_bad_count_in_the_prune_guard_and_the_dry_run(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md", "b.md", "c.md"])
    await run(client, workspace, root)
    for name in ("b.md", "c.md"):
        (root / name).write_bytes(b"\x00\x01binary now\x00" * 8)  # no longer a .md file's content
    start = mark(emulator)
    with pytest.raises(PruneRefusedError, match="2 of the 3 file") as refused:
        await run(client, workspace, root, prune=True, dry_run=True)
    plan = refused.value.report  # the dry run's plan, shown even though the guard refuses it
    assert plan is not None
    assert plan.removed == ["b.md", "c.md"]
    assert "no longer allowed: is binary data" in plan.outcomes["b.md"].detail
    with pytest.raises(PruneRefusedError, match="2 of the 3 file") as real:
        await run(client, workspace, root, prune=True)
    assert real.value.report is None
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []
    pruned = await run(client, workspace, root, prune=True, max_delete=2)
    assert sorted(pruned.rejected) == ["b.md", "c.md"]
    assert pruned.rejected["c.md"].endswith("its document was removed")
    assert await keys_in(client, workspace) == Counter(["a.md"])


async def test_a_sync_never_writes_into_its_source(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    from anythingllm_bridge.ingest.manifest import FileManifestStore
    from anythingllm_bridge.storage import LocalStorageClient

    root = tmp_path / "docs"
    write(root, ["a.md"])
    start = mark(emulator)
    with pytest.raises(IngestError, match="is inside the source"):
        await run(client, workspace, root, store=FileManifestStore(root / "sub" / "cache.json"))
    async with LocalStorageClient(root / "store") as inside:
        with pytest.raises(IngestError, match="overlaps the source"):
            await run(client, workspace, root, archive=inside)
    assert not (root / "sub").exists()
    assert not (root / "store" / "processed").exists()
    assert requests_since(emulator, start) == []


async def test_symbolic_links_are_reported_not_followed_and_deep_trees_are_walked(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md"])
    outside = tmp_path / "outside"
    write(outside, ["secret.md"])
    (root / "to-file.md").symlink_to(outside / "secret.md")
    (root / "to-folder").symlink_to(outside)
    folders = [root]
    for _ in range(sys.getrecursionlimit() + 50):  # deeper than a recursive walk could go
        folders.append(folders[-1] / "d")
        folders[-1].mkdir()
    bottom = folders[-1] / "bottom.md"
    bottom.write_text("# the bottom\n")
    try:
        listing = await FolderSource(root).scan()
    finally:  # pytest's own clean-up of old temporary folders is recursive: it would fail on this
        bottom.unlink()
        for folder in reversed(folders[1:]):
            folder.rmdir()
    assert [f.key for f in listing.files] == ["a.md", "d/" * (sys.getrecursionlimit() + 50) + "bottom.md"]
    assert listing.refused == {
        "to-file.md": "is a symbolic link (not followed)",
        "to-folder": "is a symbolic link (not followed)",
    }


async def test_long_and_odd_names_are_uploaded_under_a_name_a_file_system_takes(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    long_name = "é" * 120 + ".md"  # 242 bytes: with the upload id added, past the 255 a name may have
    odd_name = "line\nbreak\x1b[31m.md"
    write(root, [long_name, odd_name])
    report = await run(client, workspace, root)
    assert report.uploaded == sorted([long_name, odd_name])
    documents = (await client.get_workspace(workspace)).documents
    titles = sorted(d.metadata.get("title") for d in documents)
    assert titles == sorted([long_name, "line_break_[31m.md"])  # control characters replaced


def test_upload_names_fit_in_255_bytes_keeping_the_extension() -> None:
    upload = "0123456789abcdef"
    assert upload_name("a.md", upload) == "a-0123456789abcdef.md"
    assert upload_name("noext", upload) == "noext-0123456789abcdef"
    for name in ("é" * 200 + ".md", "x" * 300 + ".pdf", "a." + "e" * 300, "あ" * 100):
        sent = upload_name(name, upload)
        assert len(sent.encode("utf-8")) <= MAX_NAME_BYTES
        assert upload in sent
        kept = sent.rpartition("-" + upload)[0]
        assert name.startswith(kept)  # cut, never garbled
        assert len(sent.encode("utf-8")) > MAX_NAME_BYTES - 4  # cut at the last whole character that fits
    assert upload_name("é" * 200 + ".md", upload).endswith("é-0123456789abcdef.md")


async def test_the_same_files_from_another_source_id_are_warned_about(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    first = tmp_path / "here" / "docs"
    write(first, ["a.md", "b.md"])
    synced = await run(client, workspace, first)
    assert synced.warnings == []
    moved = tmp_path / "there" / "docs"  # the same files at another path (another machine)
    shutil.copytree(first, moved)
    write(moved, ["c.md"])
    twice = await run(client, workspace, moved, dry_run=True)
    assert twice.uploaded == ["a.md", "b.md", "c.md"]
    assert twice.warnings == [
        f"2 file(s) this sync uploads (a.md, b.md) are in workspace {workspace!r} already, synced from "
        f"source id {synced.source_id!r}: if they are the same files, give --source-id "
        f"{synced.source_id!r} (source_id=) so they are not in the workspace twice"
    ]
    named = await run(client, workspace, moved, source_id=synced.source_id)
    assert named.warnings == []
    assert (named.unchanged, named.uploaded) == (["a.md", "b.md"], ["c.md"])


async def test_a_client_that_allows_fewer_calls_than_the_concurrency_is_a_report_warning(
    emulator: Any, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, ["a.md"])
    async with AnythingLLMClient(emulator.url, emulator.api_key, max_concurrency=2) as narrow:
        report = await run(narrow, workspace, root, concurrency=8)
    assert report.uploaded == ["a.md"]
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("sync(concurrency=8) sends at most 2 file(s) at once")
