"""S3 against moto's server mode: multipart, paging, presigned URLs, errors by meaning, credentials."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from storage_helpers import MIB, make_client

from anythingllm_bridge.errors import (
    StorageConfigError,
    StorageError,
    StorageFileNotFoundError,
    StoragePermissionError,
)
from anythingllm_bridge.storage import S3StorageClient
from anythingllm_bridge.storage.s3 import map_s3_error
from support import S3Server


class Interrupted(Exception):
    pass


async def read_all(s3: S3StorageClient, key: str) -> bytes:
    return b"".join([chunk async for chunk in s3.open_read(key)])


async def test_large_objects_go_up_in_parts_and_come_back_whole(
    s3: S3StorageClient, s3_server: S3Server, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB + 12345)
    odd_chunks = [data[i : i + 999_999] for i in range(0, len(data), 999_999)]
    stored = await s3.put_stream("big/stream.bin", odd_chunks)
    assert stored.size == len(data)
    assert stored.checksum == hashlib.sha256(data).hexdigest()
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    assert (await s3.upload_file(source, "big/file.bin")).checksum == stored.checksum
    admin = s3_server.admin()
    for key in ("big/stream.bin", "big/file.bin"):
        etag = admin.head_object(Bucket=s3.bucket, Key=key)["ETag"]
        assert etag.strip('"').endswith("-3"), etag  # three 5 MiB parts: a multipart upload
        assert await read_all(s3, key) == data
    await s3.download_file("big/file.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data


async def test_small_objects_go_up_in_one_request(s3: S3StorageClient, s3_server: S3Server) -> None:
    await s3.put_stream("small.txt", [b"x" * (5 * MIB)])  # exactly the threshold: still one PUT
    etag = s3_server.admin().head_object(Bucket=s3.bucket, Key="small.txt")["ETag"]
    assert "-" not in etag


async def test_a_failed_multipart_upload_is_aborted_and_leaves_nothing(
    s3: S3StorageClient, s3_server: S3Server
) -> None:
    async def dies_after_two_parts() -> AsyncIterator[bytes]:
        for _ in range(11):
            yield os.urandom(MIB)
        raise Interrupted("source died")

    with pytest.raises(Interrupted):
        await s3.put_stream("broken.bin", dies_after_two_parts())
    admin = s3_server.admin()
    assert not await s3.file_exists("broken.bin")
    assert admin.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


async def test_a_cancelled_multipart_upload_is_aborted(s3: S3StorageClient, s3_server: S3Server) -> None:
    reached = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        for _ in range(7):
            yield os.urandom(MIB)
        reached.set()
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(s3.put_stream("stalled.bin", stalls()))
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert s3_server.admin().list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []
    assert await s3.list_files() == []


async def test_listing_pages_past_a_thousand_keys(s3: S3StorageClient) -> None:
    keys = [f"many/{i:05d}.txt" for i in range(1105)]
    gate = asyncio.Semaphore(16)

    async def put(key: str) -> None:
        async with gate:
            await s3.put_stream(key, [key.encode()])

    await asyncio.gather(*(put(key) for key in keys))
    await s3.put_stream("zz-other.txt", [b"x"])
    assert await s3.list_files("many/") == keys
    assert len(await s3.list_files()) == 1106
    assert await s3.list_files("many/0110") == keys[1100:]


async def test_folder_markers_are_not_listed(s3: S3StorageClient, s3_server: S3Server) -> None:
    s3_server.admin().put_object(Bucket=s3.bucket, Key="folder/", Body=b"")
    await s3.put_stream("folder/doc.txt", [b"x"])
    assert await s3.list_files() == ["folder/doc.txt"]


async def test_a_presigned_url_is_sigv4_and_downloads_with_a_plain_get(s3: S3StorageClient) -> None:
    data = os.urandom(70_000)
    await s3.put_stream("shared/report 2024 (final).pdf", [data])
    url = await s3.get_file_url("shared/report 2024 (final).pdf", expires_in=900)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=900" in url
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert await response.read() == data


async def test_a_missing_bucket_is_a_configuration_error(s3_server: S3Server) -> None:
    async with make_client(s3_server, "no-such-bucket") as s3:
        with pytest.raises(StorageConfigError, match="no-such-bucket"):
            await s3.file_exists("k")
        with pytest.raises(StorageConfigError, match="NoSuchBucket"):
            await s3.put_stream("k", [b"x"])
        with pytest.raises(StorageConfigError):
            await s3.list_files()
        with pytest.raises(StorageConfigError):
            _ = [chunk async for chunk in s3.open_read("k")]


async def test_an_unreachable_endpoint_is_a_storage_error_not_a_botocore_one() -> None:
    async with S3StorageClient(
        "some-bucket",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
    ) as s3:
        with pytest.raises(StorageError, match=r"127\.0\.0\.1:9") as info:
            await s3.file_exists("k")
        assert type(info.value) is StorageError


async def test_no_keys_means_the_default_credential_chain(
    s3_server: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")
    async with S3StorageClient(bucket, endpoint_url=s3_server.endpoint_url) as s3:
        await s3.put_stream("k", [b"x"])
        url = await s3.get_file_url("k")
    assert "from-the-environment" in url  # signed with the chain's key id


def test_half_a_key_pair_and_impossible_part_sizes_are_refused() -> None:
    with pytest.raises(StorageConfigError, match="both"):
        S3StorageClient("bucket", access_key_id="only-the-id")
    with pytest.raises(StorageConfigError, match="5 MiB"):
        S3StorageClient("bucket", multipart_chunksize=MIB)
    with pytest.raises(StorageConfigError, match="3 to 63"):
        S3StorageClient("b")


def test_repr_shows_no_secrets() -> None:
    s3 = S3StorageClient("bucket", access_key_id="AKIDEXAMPLE", secret_access_key="very-secret-value")
    assert "very-secret-value" not in repr(s3)
    assert "AKIDEXAMPLE" not in repr(s3)


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_client_error("NoSuchKey", 404, "The specified key does not exist."), StorageFileNotFoundError),
        (_client_error("404", 404), StorageFileNotFoundError),
        (_client_error("AccessDenied", 403, "Access Denied"), StoragePermissionError),
        (_client_error("403", 403), StoragePermissionError),
        (_client_error("NoSuchBucket", 404, "The specified bucket does not exist"), StorageConfigError),
        (_client_error("InvalidAccessKeyId", 403, "The Access Key Id does not exist"), StorageConfigError),
        (_client_error("SignatureDoesNotMatch", 403), StorageConfigError),
        (_client_error("ExpiredToken", 400), StorageConfigError),
        (_client_error("SlowDown", 503, "Please reduce your request rate."), StorageError),
        (NoCredentialsError(), StorageConfigError),
        (aiohttp.ClientConnectionError("reset"), StorageError),
    ],
)  # fmt: skip
def test_backend_errors_are_mapped_by_meaning(error: Exception, kind: type[StorageError]) -> None:
    mapped = map_s3_error(error, bucket="docs", key="a.pdf", action="read")
    assert type(mapped) is kind
    assert "docs" in str(mapped)


def test_importing_storage_does_not_load_aioboto3() -> None:
    code = (
        "import sys, tempfile, anythingllm_bridge, anythingllm_bridge.storage as s\n"
        "s.LocalStorageClient(tempfile.mkdtemp())\n"
        "aws = ('aioboto3', 'aiobotocore', 'boto3', 'botocore')\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in aws]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
