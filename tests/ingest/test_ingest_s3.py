"""Sync from an S3 prefix (moto's server on 127.0.0.1), which the sync only ever reads, and
archiving of sent files into a storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ingest_support import PDF, PNG, TYPES

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import IngestError
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, StorageSource, sync
from anythingllm_bridge.storage import LocalStorageClient, S3StorageClient
from anythingllm_bridge.validation import FileValidator
from support import S3Server, mark, requests_since, uploads


@pytest.fixture
async def s3(s3_server: S3Server, bucket: str) -> AsyncIterator[S3StorageClient]:
    admin = s3_server.admin()
    admin.put_object(Bucket=bucket, Key="incoming/cities.csv", Body=b"city,country\nOslo,Norway\n")
    admin.put_object(Bucket=bucket, Key="incoming/deep/kittens.pdf", Body=PDF)
    admin.put_object(Bucket=bucket, Key="incoming/chart.pdf", Body=PNG)
    admin.put_object(Bucket=bucket, Key="elsewhere/ignored.csv", Body=b"a,b\n1,2\n")
    async with S3StorageClient(
        bucket,
        "us-east-1",
        endpoint_url=s3_server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
    ) as client:
        yield client


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "state" / "cache.json"


async def run(
    client: AnythingLLMClient, s3: S3StorageClient, workspace: str, cache: Path, **options: Any
) -> Any:
    return await sync(
        client,
        StorageSource(s3, "incoming"),
        FileManifestStore(cache),
        workspace=workspace,
        validator=FileValidator(allowed_file_types=TYPES),
        **options,
    )


def bucket_keys(s3_server: S3Server, bucket: str) -> list[str]:
    listed = s3_server.admin().list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def test_sync_from_an_s3_prefix_never_writes_into_the_bucket(
    client: AnythingLLMClient,
    s3: S3StorageClient,
    workspace: str,
    s3_server: S3Server,
    emulator: Any,
    cache: Path,
) -> None:
    before = bucket_keys(s3_server, s3.bucket)
    first = await run(client, s3, workspace, cache)
    assert first.uploaded == ["cities.csv", "deep/kittens.pdf"]
    assert first.source_id == f"s3://{s3.bucket}/incoming"
    assert list(first.rejected) == ["chart.pdf"]
    in_workspace = {d.docpath for d in (await client.get_workspace(workspace)).documents}
    assert in_workspace == {first.outcomes[k].location for k in first.uploaded}
    assert bucket_keys(s3_server, s3.bucket) == before  # the source is only read
    assert await asyncio.to_thread(cache.exists)  # the cache is local

    start = mark(emulator)
    second = await run(client, s3, workspace, cache)
    assert second.unchanged == ["cities.csv", "deep/kittens.pdf"]
    assert uploads(requests_since(emulator, start)) == 0

    edited = b"city,country\nLima,Peru\n"
    s3_server.admin().put_object(Bucket=s3.bucket, Key="incoming/cities.csv", Body=edited)
    third = await run(client, s3, workspace, cache)
    assert third.replaced == ["cities.csv"]
    in_workspace = {d.docpath for d in (await client.get_workspace(workspace)).documents}
    assert first.outcomes["cities.csv"].location not in in_workspace
    assert third.outcomes["cities.csv"].location in in_workspace
    assert len(in_workspace) == 2


class ReadCountingS3(S3StorageClient):
    """The real S3 client, counting which objects are read (to show which are not)."""

    reads: list[str]

    def open_read(self, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        self.reads.append(key)
        return super().open_read(key, chunk_size=chunk_size)


async def test_an_unchanged_s3_resync_reads_no_object_and_a_same_size_edit_is_still_seen(
    client: AnythingLLMClient, s3: S3StorageClient, workspace: str, s3_server: S3Server, cache: Path
) -> None:
    counting = ReadCountingS3(
        s3.bucket, "us-east-1", endpoint_url=s3_server.endpoint_url, access_key_id="testing",
        secret_access_key="testing",
    )  # fmt: skip
    counting.reads = []
    async with counting:
        first = await run(client, counting, workspace, cache)
        assert first.uploaded == ["cities.csv", "deep/kittens.pdf"]

        counting.reads.clear()
        second = await run(client, counting, workspace, cache)
        assert second.unchanged == ["cities.csv", "deep/kittens.pdf"]
        # size + ETag sufficed for both sent objects; only the file validation refused is read again,
        # since its content is judged (and reported) anew on every run
        assert [key for key in counting.reads if key.startswith("incoming/")] == ["incoming/chart.pdf"]
        assert list(second.rejected) == ["chart.pdf"]

        # the same number of bytes, other content: the ETag differs, so the object is read and replaced
        edited = b"city,country\nOslo,Sweden\n"
        assert len(edited) == len(b"city,country\nOslo,Norway\n")
        s3_server.admin().put_object(Bucket=s3.bucket, Key="incoming/cities.csv", Body=edited)
        third = await run(client, counting, workspace, cache)
        assert third.replaced == ["cities.csv"]
        assert third.unchanged == ["deep/kittens.pdf"]

        # written again with the same bytes: a new upload, the same ETag (S3's is the MD5): nothing sent
        s3_server.admin().put_object(Bucket=s3.bucket, Key="incoming/cities.csv", Body=edited)
        fourth = await run(client, counting, workspace, cache)
        assert fourth.unchanged == ["cities.csv", "deep/kittens.pdf"]
        assert fourth.uploaded == fourth.replaced == []


async def test_sent_files_are_archived_under_processed_type(
    client: AnythingLLMClient, workspace: str, docs: Path, tmp_path: Path
) -> None:
    archive = LocalStorageClient(tmp_path / "archive")
    report = await sync(
        client,
        FolderSource(docs),
        FileManifestStore(tmp_path / "manifest.json"),
        workspace=workspace,
        validator=FileValidator(allowed_file_types=TYPES),
        archive=archive,
    )
    assert report.uploaded == ["cities.csv", "kittens.pdf", "sub/product.json"]
    assert sorted(await archive.list_files("processed/")) == [
        "processed/csv/cities.csv",
        "processed/json/sub/product.json",
        "processed/pdf/kittens.pdf",
    ]


async def test_a_bucket_that_cannot_be_listed_stops_the_sync_and_prunes_nothing(
    client: AnythingLLMClient,
    s3: S3StorageClient,
    workspace: str,
    s3_server: S3Server,
    emulator: Any,
    cache: Path,
) -> None:
    first = await run(client, s3, workspace, cache)
    assert len(first.uploaded) == 2
    async with S3StorageClient(
        "no-such-bucket-here", "us-east-1", endpoint_url=s3_server.endpoint_url,
        access_key_id="testing", secret_access_key="testing",
    ) as missing:  # fmt: skip
        start = mark(emulator)
        with pytest.raises(IngestError, match="cannot list s3://no-such-bucket-here/incoming"):
            await sync(
                client,
                StorageSource(missing, "incoming"),
                workspace=workspace,
                source_id=f"s3://{s3.bucket}/incoming",  # the same source, as far as markers go
                prune=True,
            )
    assert [r for r in requests_since(emulator, start) if r.method != "GET"] == []
    in_workspace = {d.docpath for d in (await client.get_workspace(workspace)).documents}
    assert in_workspace == {first.outcomes[k].location for k in first.uploaded}


async def test_an_object_whose_key_the_storage_refuses_is_rejected_not_a_crash(
    client: AnythingLLMClient,
    s3: S3StorageClient,
    workspace: str,
    s3_server: S3Server,
    cache: Path,
) -> None:
    admin = s3_server.admin()
    admin.put_object(Bucket=s3.bucket, Key="incoming/odd//double.csv", Body=b"a,b\n1,2\n")
    admin.put_object(Bucket=s3.bucket, Key="incoming/folder/", Body=b"")  # a folder marker: not a file
    report = await run(client, s3, workspace, cache)
    assert report.uploaded == ["cities.csv", "deep/kittens.pdf"]
    assert sorted(report.rejected) == ["chart.pdf", "odd//double.csv"]
    assert report.rejected["odd//double.csv"].startswith("cannot be read through the storage: ")
