"""The workspace, not a local file, is the truth: a new machine, a lost cache or another spelling of the
server's address sends nothing for unchanged files; syncs started together from separate machines end
with one document per file; shards split a source between them."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.config import Settings
from anythingllm_bridge.ingest import (
    FileManifestStore,
    FolderSource,
    Marker,
    Shard,
    SyncReport,
    run_sync,
    sync,
)
from anythingllm_bridge.validation import FileValidator
from support import mark, requests_since, uploads


def notes(root: Path, count: int) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    keys = []
    for n in range(count):
        key = f"part-{n % 3}/note-{n:03d}.txt"
        (root / key).parent.mkdir(exist_ok=True)
        (root / key).write_text(f"Note {n}: the glorp valley logged {n * 7} meteors.\n")
        keys.append(key)
    return sorted(keys)


async def ours_per_key(client: AnythingLLMClient, workspace: str) -> Counter[str]:
    """How many documents of each key the workspace holds (by marker)."""
    listing = await client.get_workspace(workspace)
    markers = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
    return Counter(m.key for m in markers if m is not None)


async def stored_per_key(client: AnythingLLMClient) -> Counter[str]:
    """How many documents of each key the server stores (in any workspace or none)."""
    markers = [Marker.parse(d.doc_source) for d in await client.list_documents()]
    return Counter(m.key for m in markers if m is not None)


def settings_for(emulator: Any, url: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        anythingllm_url=url or emulator.url,
        anythingllm_api_key=emulator.api_key,
        allowed_file_types=["txt", "md", "csv"],
        base_delay=0,
    )


async def test_a_new_machine_a_lost_cache_or_another_url_spelling_sends_nothing(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 12)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "machine-1"))
    first = await run_sync(settings_for(emulator), root, workspace=workspace)
    assert first.uploaded == keys
    cache = Path(first.manifest)
    assert cache.is_relative_to(tmp_path / "machine-1")

    port = emulator.url.rsplit(":", 1)[1]
    cases = {
        "a new machine (another state folder)": ("machine-2", emulator.url),
        "the same machine, its cache deleted": ("machine-1", emulator.url),
        "another spelling of the server's address": ("machine-3", f"http://localhost:{port}/api/"),
    }
    for case, (state, url) in cases.items():
        if state == "machine-1":
            cache.unlink()  # noqa: ASYNC240 - a test's setup
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / state))
        start = mark(emulator)
        again = await run_sync(settings_for(emulator, url), root, workspace=workspace)
        assert again.unchanged == keys, case
        assert [r for r in requests_since(emulator, start) if r.method != "GET"] == [], case
    assert await ours_per_key(client, workspace) == Counter(dict.fromkeys(keys, 1))


async def test_the_same_files_at_another_path_are_the_same_source_when_named_so(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    keys = notes(tmp_path / "laptop" / "docs", 6)
    notes(tmp_path / "server" / "srv" / "docs", 6)
    options: dict[str, Any] = {"workspace": workspace, "source_id": "team-handbook"}
    first = await sync(client, FolderSource(tmp_path / "laptop" / "docs"), **options)
    assert first.uploaded == keys
    start = mark(emulator)
    elsewhere = await sync(client, FolderSource(tmp_path / "server" / "srv" / "docs"), **options)
    assert elsewhere.unchanged == keys
    assert uploads(requests_since(emulator, start)) == 0
    # without the name it is another source: its own documents (and the first ones are not touched)
    other = await sync(client, FolderSource(tmp_path / "server" / "srv" / "docs"), workspace=workspace)
    assert other.uploaded == keys
    assert sum((await ours_per_key(client, workspace)).values()) == 12


async def test_three_syncs_from_separate_machines_at_once_leave_one_document_per_file(
    emulator: Any, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 30)

    async def machine(n: int) -> SyncReport:
        async with AnythingLLMClient(emulator.url, emulator.api_key, max_connections_per_host=8) as own:
            return await sync(
                own,
                FolderSource(root),
                FileManifestStore(tmp_path / f"machine-{n}" / "cache.json"),
                workspace=workspace,
                validator=FileValidator(allowed_file_types=["txt"]),
                concurrency=4,
            )

    reports = await asyncio.gather(*(machine(n) for n in range(3)))
    assert all(report.failed == {} for report in reports)
    async with AnythingLLMClient(emulator.url, emulator.api_key) as look:
        assert await ours_per_key(look, workspace) == Counter(dict.fromkeys(keys, 1))
        assert await stored_per_key(look) == Counter(dict.fromkeys(keys, 1))  # no stray copy either
        # and every run's report agrees with what is there now, or with what it removed
        start = mark(emulator)
        after = await sync(look, FolderSource(root), workspace=workspace)
    assert after.unchanged == keys
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []


async def test_a_file_edited_while_two_syncs_run_ends_with_one_version(
    emulator: Any, workspace: str, tmp_path: Path
) -> None:
    """Two machines see two versions of one file (one synced before the edit, one after): between
    them they leave at least one copy, and the next sync leaves exactly the current version."""
    old_root, new_root = tmp_path / "before", tmp_path / "after"
    notes(old_root, 3)
    keys = notes(new_root, 3)
    (new_root / keys[0]).write_text("edited\n")

    async def machine(root: Path) -> SyncReport:
        async with AnythingLLMClient(emulator.url, emulator.api_key) as own:
            return await sync(own, FolderSource(root), workspace=workspace, source_id="one-source")

    await asyncio.gather(machine(old_root), machine(new_root))
    async with AnythingLLMClient(emulator.url, emulator.api_key) as look:
        counts = await ours_per_key(look, workspace)
        assert set(counts) == set(keys)  # never the last copy removed
        final = await sync(look, FolderSource(new_root), workspace=workspace, source_id="one-source")
        assert final.failed == {}
        assert await ours_per_key(look, workspace) == Counter(dict.fromkeys(keys, 1))
        listing = await look.get_workspace(workspace)
    markers = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
    current = hashlib.sha256(b"edited\n").hexdigest()
    assert [m.sha256 for m in markers if m is not None and m.key == keys[0]] == [current]


async def test_shards_split_a_source_and_prune_only_their_share(
    emulator: Any, client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 24)

    async def shard(i: int, **options: Any) -> SyncReport:
        async with AnythingLLMClient(emulator.url, emulator.api_key) as own:
            return await sync(own, FolderSource(root), workspace=workspace, shard=f"{i}/3", **options)

    reports = await asyncio.gather(*(shard(i) for i in range(3)))
    shares = [set(report.uploaded) for report in reports]
    assert sorted(k for share in shares for k in share) == keys  # each key in exactly one share
    assert all(shares)
    for i, share in enumerate(shares):
        assert all(key in Shard(i, 3) for key in share)
        assert reports[i].shard == f"{i}/3"
    assert await ours_per_key(client, workspace) == Counter(dict.fromkeys(keys, 1))

    gone = sorted(shares[0])[0]
    os.unlink(root / gone)
    kept = await shard(1, prune=True)  # not its key: it neither removes nor reports it
    assert kept.removed == []
    assert gone not in kept.gone
    pruned = await shard(0, prune=True)
    assert pruned.removed == [gone]
    assert gone not in await ours_per_key(client, workspace)
