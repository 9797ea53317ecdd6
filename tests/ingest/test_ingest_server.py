"""The sync's two promises that rest on the server's own behaviour, on the emulator and (marked
``integration``, ``make test-real``) on a real AnythingLLM: the marker in ``docSource`` survives upload,
embedding and both listings; two syncs started together leave one document per file; and documents an
older anythingllm-bridge synced are replaced by marked ones, once each."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from pathlib import Path

from anythingllm_bridge.checksum import sha256_file
from anythingllm_bridge.ingest import (
    FileManifestStore,
    FolderSource,
    LegacyMarker,
    Marker,
    SyncReport,
    sync,
)
from anythingllm_bridge.validation import FileValidator
from support import Server, make_client


def folder(root: Path, count: int) -> list[str]:
    root.mkdir(parents=True)
    keys = []
    for n in range(count):
        key = f"notes/note-{n:02d}.md"
        (root / key).parent.mkdir(exist_ok=True)
        (root / key).write_text(f"# Note {n}\n\nThe zorblax observatory logged {n * 13} quasars today.\n")
        keys.append(key)
    return sorted(keys)


async def remember_ours(server: Server, source: str) -> Counter[str]:
    """Our documents stored on the server, by key (and listed for removal after the test)."""
    async with make_client(server.url, server.api_key) as client:
        documents = await client.list_documents()
    keys: Counter[str] = Counter()
    for document in documents:
        marker = Marker.parse(document.doc_source)
        if marker is not None and marker.source == source and document.location:
            server.created_documents.append(document.location)
            keys[marker.key] += 1
    return keys


async def test_the_marker_survives_upload_embedding_and_listing(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    folder(root, 2)
    odd = os.fsdecode(b"caf\xe9.md")  # a file name that is not UTF-8
    (root / odd).write_text("# Cafe\n\nA note whose name is not UTF-8.\n")
    source = f"allm-test-source-{uuid.uuid4().hex[:8]}"
    async with make_client(server.url, server.api_key) as client:
        slug = (await client.create_workspace(server.name("marker"))).workspace.slug
        server.created_workspaces.append(slug)
        try:
            report = await sync(
                client,
                FolderSource(root),
                workspace=slug,
                source_id=source,
                validator=FileValidator(allowed_file_types=["md"]),
            )
            assert report.failed == {}
            assert sorted(report.uploaded) == sorted([odd, "notes/note-00.md", "notes/note-01.md"])
            listing = await client.get_workspace(slug)
            stored = {d.location: d for d in await client.list_documents()}
        finally:
            await remember_ours(server, source)
    for document in listing.documents:
        marker = Marker.parse(document.metadata.get("docSource"))
        assert marker is not None, document.metadata
        path = root / marker.key
        assert marker == Marker(
            source, marker.key, sha256_file(path), slug, marker.upload
        )  # the workspace listing
        assert len(marker.upload) == 12
        assert Marker.parse(stored[document.docpath].doc_source) == marker  # GET /v1/documents
        title = document.metadata.get("title")
        assert title == path.name or marker.key == odd  # people still see the file's name
    found = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
    assert sorted(m.key for m in found if m is not None) == sorted(report.uploaded)


async def test_two_syncs_at_once_leave_one_document_per_file(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    keys = folder(root, 8)
    source = f"allm-test-source-{uuid.uuid4().hex[:8]}"
    async with make_client(server.url, server.api_key) as client:
        slug = (await client.create_workspace(server.name("race"))).workspace.slug
    server.created_workspaces.append(slug)

    async def machine(n: int) -> SyncReport:
        async with make_client(server.url, server.api_key, max_connections_per_host=8) as own:
            return await sync(
                own,
                FolderSource(root),
                FileManifestStore(tmp_path / f"machine-{n}" / "cache.json"),
                workspace=slug,
                source_id=source,
                validator=FileValidator(allowed_file_types=["md"]),
                concurrency=4,
            )

    try:
        reports = await asyncio.gather(machine(1), machine(2))
        assert [report.failed for report in reports] == [{}, {}]
        async with make_client(server.url, server.api_key) as client:
            listing = await client.get_workspace(slug)
    finally:
        stored = await remember_ours(server, source)
    rows = [(Marker.parse(d.metadata.get("docSource")), d.docpath, d.created_at) for d in listing.documents]
    seen = sorted((m.key, docpath, str(created)) for m, docpath, created in rows if m is not None)
    assert Counter(key for key, _, _ in seen) == Counter(dict.fromkeys(keys, 1)), seen
    assert stored == Counter(dict.fromkeys(keys, 1))  # no stray copy left on the server either


async def test_documents_an_older_version_synced_are_replaced_once_each_by_two_syncs_at_once(
    server: Server, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    keys = folder(root, 4)
    source = f"allm-test-source-{uuid.uuid4().hex[:8]}"
    async with make_client(server.url, server.api_key) as client:
        slug = (await client.create_workspace(server.name("legacy"))).workspace.slug
        server.created_workspaces.append(slug)
        try:
            for key in keys:  # as the older sync left them (the same content)
                legacy = (
                    f"anythingllm-bridge:3f2a9c41d0b7:{LegacyMarker.hash_key(key)}:{sha256_file(root / key)}"
                )
                result = await client.upload_file(root / key, workspaces=slug, metadata={"docSource": legacy})
                server.created_documents.append(result.location)

            async def machine() -> SyncReport:  # two syncs migrating the same documents at once
                async with make_client(server.url, server.api_key, max_connections_per_host=8) as own:
                    return await sync(
                        own, FolderSource(root), workspace=slug, source_id=source, concurrency=4
                    )

            reports = await asyncio.gather(machine(), machine())
            again = await sync(client, FolderSource(root), workspace=slug, source_id=source)
            listing = await client.get_workspace(slug)
            stored = {d.location for d in await client.list_documents()}
        finally:
            await remember_ours(server, source)
    assert [report.failed for report in reports] == [{}, {}]
    assert set(reports[0].replaced) | set(reports[1].replaced) == set(keys)
    assert again.unchanged == keys
    markers = [Marker.parse(d.metadata.get("docSource")) for d in listing.documents]
    assert Counter(m.key for m in markers if m is not None) == Counter(dict.fromkeys(keys, 1))
    assert len(listing.documents) == len(keys)  # no legacy document left in the workspace
    assert not stored & set(server.created_documents[: len(keys)])  # nor on the server
