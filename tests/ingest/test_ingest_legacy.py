"""Upgrading: documents an older anythingllm-bridge synced (``docSource`` =
``anythingllm-bridge:<sync id>:<key hash>:<sha256>``) are older copies of the files they name, so the
first sync after an upgrade leaves one document per file, all with today's marker, and never touches
the legacy documents of files it does not send."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ingest_support import PDF, PNG

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.config import Settings
from anythingllm_bridge.ingest import (
    FileManifestStore,
    FolderSource,
    LegacyMarker,
    Marker,
    Shard,
    SyncReport,
    run_sync,
    sync,
)
from anythingllm_bridge.ingest.plan import REMARKED
from anythingllm_bridge.validation import FileValidator
from support import mark, requests_since, uploads


def notes(root: Path, count: int) -> list[str]:
    keys = []
    for n in range(count):
        key = f"part-{n % 2}/note-{n:02d}.txt"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(f"Note {n}: the glorp valley logged {n * 7} meteors.\n")
        keys.append(key)
    return sorted(keys)


def legacy_marker(key: str, content: bytes, sync_id: str = "abcd1234") -> str:
    """What the older ``allm sync`` put in ``docSource`` for ``key`` with ``content``."""
    return f"anythingllm-bridge:{sync_id}:{LegacyMarker.hash_key(key)}:{hashlib.sha256(content).hexdigest()}"


async def upload_legacy(
    client: AnythingLLMClient,
    workspace: str,
    tmp_path: Path,
    key: str,
    content: bytes,
    sync_id: str = "abcd1234",
) -> str:
    """A document as the older sync left it in ``workspace``; its location."""
    staged = tmp_path / "staged" / sync_id / key
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(content)
    result = await client.upload_file(
        staged, workspaces=workspace, metadata={"docSource": legacy_marker(key, content, sync_id)}
    )
    return result.location


async def legacy_everywhere(
    client: AnythingLLMClient, workspace: str, tmp_path: Path, root: Path, keys: list[str]
) -> list[str]:
    """Every file of ``root`` as the older sync left it; their locations."""
    return [await upload_legacy(client, workspace, tmp_path, key, (root / key).read_bytes()) for key in keys]


async def per_key(client: AnythingLLMClient, workspace: str) -> tuple[Counter[str], set[str]]:
    """How many documents of each key the workspace holds with today's marker, and the docpaths of
    the legacy ones."""
    listing = await client.get_workspace(workspace)
    marked: Counter[str] = Counter()
    legacy: set[str] = set()
    for document in listing.documents:
        marker = Marker.parse(document.metadata.get("docSource"))
        if marker is not None:
            marked[marker.key] += 1
        elif LegacyMarker.parse(document.metadata.get("docSource")) is not None:
            legacy.add(document.docpath)
    return marked, legacy


def settings_for(emulator: Any) -> Settings:
    return Settings(
        _env_file=None,
        anythingllm_url=emulator.url,
        anythingllm_api_key=emulator.api_key,
        allowed_file_types=["txt", "md"],
        base_delay=0,
    )


async def test_the_first_sync_after_an_upgrade_re_marks_every_file_once(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "docs"
    keys = notes(root, 6)
    old = await legacy_everywhere(client, workspace, tmp_path, root, keys)
    # a second old copy of one file (the older sync on another machine), and an older version of another
    old.append(
        await upload_legacy(client, workspace, tmp_path, keys[0], (root / keys[0]).read_bytes(), "5e1f")
    )
    (root / keys[1]).write_text("edited since the older sync\n")
    # a legacy document of a file this source does not have: another source's, or one deleted since
    foreign = await upload_legacy(client, workspace, tmp_path, "elsewhere/other.txt", b"not ours\n")
    old_stored = {d.location for d in await client.list_documents()} - {foreign}
    assert old_stored == set(old)

    start = mark(emulator)
    first = await run_sync(settings_for(emulator), root, workspace=workspace, prune=True)
    assert first.failed == {}
    assert first.replaced == keys
    assert first.uploaded == []
    assert first.removed == []
    details = first.details("replaced")
    assert details.pop(keys[1]) == "content changed"
    assert set(details.values()) == {REMARKED}
    assert first.legacy_kept == 1
    assert first.to_json()["legacy_kept"] == 1
    assert uploads(requests_since(emulator, start)) == len(keys)
    marked, legacy = await per_key(client, workspace)
    assert marked == Counter(dict.fromkeys(keys, 1))
    assert legacy == {foreign}  # left alone, even with prune
    stored = {d.location for d in await client.list_documents()}
    assert not stored & set(old)  # removed from the server too, not only from the workspace

    start = mark(emulator)
    second = await run_sync(settings_for(emulator), root, workspace=workspace, prune=True)
    assert second.unchanged == keys
    assert second.legacy_kept == 1
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []


async def test_a_dry_run_says_what_it_would_re_mark_and_sends_nothing(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 3)
    await legacy_everywhere(client, workspace, tmp_path, root, keys)
    start = mark(emulator)
    plan = await sync(client, FolderSource(root), workspace=workspace, dry_run=True)
    assert plan.replaced == keys
    assert set(plan.details("replaced").values()) == {f"would send: {REMARKED}"}
    assert plan.legacy_kept == 0
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []


async def test_legacy_documents_of_files_this_sync_does_not_send_stay(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    """Refused by this run's rules (by name, or by content), or in another shard's share: not this
    run's to replace, even with prune; another shard's are not counted as left alone either (that
    shard migrates them)."""
    root = tmp_path / "docs"
    keys = notes(root, 8)
    (root / "table.csv").write_text("a,b\n1,2\n")  # a type the validator below refuses
    (root / "chart.pdf").write_bytes(PNG)  # a PNG dressed as a PDF: refused once read
    await legacy_everywhere(client, workspace, tmp_path, root, [*keys, "table.csv"])
    await upload_legacy(client, workspace, tmp_path, "chart.pdf", PDF)  # synced when it was a real PDF
    mine = [key for key in keys if key in Shard(0, 2)]
    assert 0 < len(mine) < len(keys)
    assert "table.csv" in Shard(0, 2)
    assert "chart.pdf" in Shard(0, 2)

    report = await sync(
        client,
        FolderSource(root),
        workspace=workspace,
        shard="0/2",
        prune=True,
        validator=FileValidator(allowed_file_types=["txt", "pdf"]),
    )
    assert report.replaced == mine
    assert sorted(report.rejected) == ["chart.pdf", "table.csv"]
    assert "stays" not in report.rejected["chart.pdf"]
    assert "removed" not in report.rejected["chart.pdf"]
    assert report.legacy_kept == 2  # the refused files'; not the other share's
    marked, legacy = await per_key(client, workspace)
    assert marked == Counter(dict.fromkeys(mine, 1))
    assert len(legacy) == len(keys) - len(mine) + 2

    other = await sync(
        client,
        FolderSource(root),
        workspace=workspace,
        shard="1/2",
        validator=FileValidator(allowed_file_types=["txt"]),
    )
    assert other.replaced == [key for key in keys if key not in mine]
    assert other.legacy_kept == 0
    marked, legacy = await per_key(client, workspace)
    assert marked == Counter(dict.fromkeys(keys, 1))
    assert len(legacy) == 2


async def test_the_prune_guard_does_not_count_legacy_copies_as_removals(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 4)
    await legacy_everywhere(client, workspace, tmp_path, root, keys)
    # every document of the workspace goes (all legacy), yet the guard has nothing to refuse
    report = await sync(client, FolderSource(root), workspace=workspace, prune=True, max_delete=0)
    assert report.replaced == keys
    assert report.removed == []


async def test_two_syncs_migrating_the_same_legacy_documents_leave_one_per_file(
    emulator: Any, client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 16)
    await legacy_everywhere(client, workspace, tmp_path, root, keys)

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

    reports = await asyncio.gather(machine(1), machine(2))
    assert [report.failed for report in reports] == [{}, {}]
    marked, legacy = await per_key(client, workspace)
    assert marked == Counter(dict.fromkeys(keys, 1))
    assert legacy == set()
    stored = [Marker.parse(d.doc_source) for d in await client.list_documents()]
    assert Counter(m.key for m in stored if m is not None) == Counter(dict.fromkeys(keys, 1))
    assert not [d for d in await client.list_documents() if LegacyMarker.parse(d.doc_source)]
    start = mark(emulator)
    after = await sync(client, FolderSource(root), workspace=workspace)
    assert after.unchanged == keys
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []


async def test_allm_sync_after_an_upgrade(
    client: AnythingLLMClient, workspace: str, emulator: Any, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = notes(root, 3)
    await legacy_everywhere(client, workspace, tmp_path, root, keys)
    await upload_legacy(client, workspace, tmp_path, "gone.txt", b"deleted since\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYTHINGLLM_", "AWS_", "S3_"))}
    env.update(
        ANYTHINGLLM_URL=emulator.url,
        ANYTHINGLLM_API_KEY=emulator.api_key,
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        COLUMNS="200",
    )

    async def allm(*args: str) -> tuple[int, str, str]:
        command = ["-m", "anythingllm_bridge.cli", "sync", str(root), "--workspace", workspace, *args]
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, cwd=tmp_path,
        )  # fmt: skip
        out, err = await process.communicate()
        return process.returncode or 0, out.decode(), err.decode()

    code, out, err = await allm("--types", "txt")
    assert code == 0, err
    assert f"replaced       3  {', '.join(keys)}" in out
    assert (
        "1 document(s) synced by an older anythingllm-bridge match no file this sync sends; left alone" in out
    )
    marked, legacy = await per_key(client, workspace)
    assert marked == Counter(dict.fromkeys(keys, 1))
    assert len(legacy) == 1

    code, out, err = await allm("--types", "txt", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["unchanged"] == keys
    assert report["legacy_kept"] == 1
