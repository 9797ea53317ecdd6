"""S3 (and S3-compatible: MinIO, R2, Ceph, moto...) storage on aioboto3.

* aioboto3 is imported when the first ``S3StorageClient`` is created, never at package import.
* No keys given → botocore's default credential chain (environment, profile, IAM role...).
* Objects up to ``multipart_threshold`` bytes are sent with one PUT; larger ones as a multipart
  upload of ``multipart_chunksize`` parts, at most ``max_concurrency`` parts in flight, so memory
  stays near ``max_concurrency × multipart_chunksize`` whatever the size. A failed or cancelled
  multipart upload is aborted: nothing appears under the key.
* Downloads stream; presigned URLs are signed with SigV4; listings page past 1000 keys.
* botocore / aiohttp errors are turned into :class:`StorageError` subclasses by meaning
  (:func:`map_s3_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import os
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiofiles.os
from pydantic import SecretStr

from anythingllm_bridge.checksum import Checksum
from anythingllm_bridge.errors import (
    StorageConfigError,
    StorageError,
    StorageFileNotFoundError,
    StorageKeyError,
    StoragePermissionError,
)
from anythingllm_bridge.storage._chunks import Chunks, Part, aiter_chunks, prepend, rechunk
from anythingllm_bridge.storage._files import read_file, source_errors
from anythingllm_bridge.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    StorageClient,
    StoredObject,
    check_chunk_size,
    check_expires_in,
)
from anythingllm_bridge.storage.keys import validate_key, validate_prefix

__all__ = ["MIN_PART_SIZE", "S3StorageClient", "map_s3_error"]

_Opened = tuple[contextlib.AsyncExitStack, Any]  # the exit stack that closes it, the S3 client

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3's smallest part (every part but the last)."""
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000

_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
_DENIED = frozenset({"AccessDenied", "Forbidden", "403", "AllAccessDisabled", "AccountProblem"})
_MISCONFIGURED = frozenset(
    {
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidBucketName",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "301",
        "IllegalLocationConstraintException",
    }
)


def map_s3_error(
    exc: BaseException, *, bucket: str, key: str | None = None, action: str = "access"
) -> StorageError:
    """The :class:`StorageError` that says what ``exc`` (from botocore/aiohttp) means."""
    from botocore.exceptions import (  # loaded with aioboto3, never before
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"cannot {action} {where}: {code}" + (f" ({message})" if message != code else "")
        if code in _MISCONFIGURED:
            hint = " — check S3_BUCKET / S3_REGION / S3_ENDPOINT_URL and the credentials"
            return StorageConfigError(text + hint, key=key)
        if code in _NOT_FOUND or status == 404:
            return StorageFileNotFoundError(f"no object under key {key!r} in s3://{bucket}", key=key)
        if code in _DENIED or status == 403:
            return StoragePermissionError(text, key=key)
        return StorageError(text, key=key)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageConfigError(
            f"no usable AWS credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "a profile or an IAM role",
            key=key,
        )
    if isinstance(exc, BotoCoreError):
        return StorageError(f"cannot {action} {where}: {exc}", key=key)
    return StorageError(f"cannot {action} {where}: {type(exc).__name__}: {exc}", key=key)


class S3StorageClient(StorageClient):
    """Objects in the S3 bucket ``bucket``.

    ``endpoint_url`` points at any S3-compatible server; ``access_key_id`` / ``secret_access_key`` /
    ``session_token`` are optional (default credential chain otherwise). ``max_attempts`` is
    botocore's total tries per request (standard retry mode). ``verify`` is ``False`` to skip TLS
    verification or a CA bundle path. Use ``async with`` (or ``await close()``) to release
    connections.
    """

    def __init__(
        self,
        bucket: str,
        region: str = "us-east-1",
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | SecretStr | None = None,
        session_token: str | SecretStr | None = None,
        multipart_threshold: int = 8 * MIB,
        multipart_chunksize: int = 8 * MIB,
        max_concurrency: int = 4,
        max_attempts: int = 3,
        addressing_style: str = "auto",
        verify: bool | str | None = None,
    ) -> None:
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise StorageConfigError(f"S3 bucket name must be 3 to 63 characters, got {bucket!r}")
        if bool(access_key_id) != bool(secret_access_key):
            raise StorageConfigError("give both the S3 access key id and the secret access key, or neither")
        if not MIN_PART_SIZE <= multipart_chunksize <= MAX_PART_SIZE:
            raise StorageConfigError(
                f"multipart_chunksize must be between 5 MiB and 5 GiB, got {multipart_chunksize} bytes"
            )
        if multipart_threshold <= 0 or max_concurrency < 1 or max_attempts < 1:
            raise StorageConfigError("multipart_threshold, max_concurrency and max_attempts must be positive")
        if addressing_style not in ("auto", "path", "virtual"):
            raise StorageConfigError(f"addressing_style must be auto, path or virtual: {addressing_style!r}")
        try:
            aioboto3 = importlib.import_module("aioboto3")
            aioconfig = importlib.import_module("aiobotocore.config")
        except ImportError as exc:
            raise StorageConfigError(
                "S3 storage needs aioboto3: pip install 'anythingllm-bridge[s3]'"
            ) from exc

        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self._threshold = multipart_threshold
        self._part_size = multipart_chunksize
        self._concurrency = max_concurrency
        self._verify = verify
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=_secret(secret_access_key),
            aws_session_token=_secret(session_token),
            region_name=region,
        )
        self._config = aioconfig.AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=max(10, 2 * max_concurrency),
        )
        self._opened: tuple[asyncio.AbstractEventLoop, asyncio.Task[_Opened]] | None = None
        self._bucket_seen = False

    def __repr__(self) -> str:
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3StorageClient(bucket={self.bucket!r}, region={self.region!r}{endpoint})"

    # ------------------------------------------------------------------ connection

    async def _client(self) -> Any:
        """The aiobotocore S3 client, opened on first use (once per event loop)."""
        loop = asyncio.get_running_loop()
        if self._opened is None or self._opened[0] is not loop:
            self._opened = (loop, loop.create_task(self._open()))
        task = self._opened[1]
        try:
            return (await asyncio.shield(task))[1]
        except Exception as exc:
            if self._opened is not None and self._opened[1] is task:
                self._opened = None
            raise map_s3_error(exc, bucket=self.bucket, action="connect to") from exc

    async def _open(self) -> _Opened:
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(
            self._session.client(
                "s3",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=self._config,
                verify=self._verify,
            )
        )
        return stack, client

    async def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is None:
            return
        loop, task = opened
        if loop is not asyncio.get_running_loop() or not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is None:
            await task.result()[0].aclose()

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except Exception as exc:  # (cancellation and exits are BaseException: they pass)
            raise map_s3_error(exc, bucket=self.bucket, key=key, action=action) from exc

    # ------------------------------------------------------------------ writing

    async def put_stream(self, key: str, chunks: Chunks) -> StoredObject:
        validate_key(key)
        return await self._put(key, aiter_chunks(chunks), self._part_size)

    async def upload_file(self, file_path: str | os.PathLike[str], key: str) -> StoredObject:
        validate_key(key)
        source = Path(file_path)
        with source_errors(source):
            info = await aiofiles.os.stat(source)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a folder", str(source))
        part_size = max(self._part_size, -(-info.st_size // MAX_PARTS))  # 10,000 parts at most
        chunks = read_file(source, part_size)
        try:
            return await self._put(key, chunks, part_size, info.st_size)
        finally:
            await chunks.aclose()

    async def _put(
        self, key: str, chunks: AsyncIterator[Part], part_size: int, size: int | None = None
    ) -> StoredObject:
        """One PUT up to the threshold, else multipart; ``size`` (when known) skips the buffering."""
        client = await self._client()
        checksum = Checksum()
        hashed = _hashing(chunks, checksum)
        if size is not None and size > self._threshold:
            return await self._multipart(client, key, hashed, checksum, part_size)
        head: list[Part] = []
        buffered = 0
        async for chunk in hashed:
            head.append(chunk)
            buffered += len(chunk)
            if buffered > self._threshold:
                return await self._multipart(client, key, prepend(head, hashed), checksum, part_size)
        with self._errors("upload to", key):
            await client.put_object(Bucket=self.bucket, Key=key, Body=b"".join(head))
        return StoredObject(key, checksum.size, checksum.hexdigest(), checksum.algorithm)

    async def _multipart(
        self, client: Any, key: str, chunks: AsyncIterator[Part], checksum: Checksum, part_size: int
    ) -> StoredObject:
        with self._errors("start an upload to", key):
            upload_id = (await client.create_multipart_upload(Bucket=self.bucket, Key=key))["UploadId"]
        etags: dict[int, str] = {}
        pending: set[asyncio.Task[None]] = set()

        async def send(number: int, body: Part) -> None:
            with self._errors("upload a part to", key):
                answer = await client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
            etags[number] = answer["ETag"]

        try:
            number = 0
            async for part in rechunk(chunks, part_size):
                number += 1
                if number > MAX_PARTS:
                    raise StorageError(
                        f"cannot upload to s3://{self.bucket}/{key}: more than {MAX_PARTS} parts of "
                        f"{part_size} bytes; raise multipart_chunksize",
                        key=key,
                    )
                while len(pending) >= self._concurrency:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                pending.add(asyncio.create_task(send(number, part)))
            if pending:
                done, pending = await asyncio.wait(pending)
                for task in done:
                    task.result()
            parts = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
            with self._errors("finish the upload to", key):
                await client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return StoredObject(key, checksum.size, checksum.hexdigest(), checksum.algorithm)

    async def delete_file(self, key: str) -> bool:
        if not await self.file_exists(key):
            return False
        client = await self._client()
        with self._errors("delete", key):
            await client.delete_object(Bucket=self.bucket, Key=key)
        return True

    # ------------------------------------------------------------------ reading

    def open_read(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncGenerator[bytes, None]:
        validate_key(key)
        check_chunk_size(chunk_size)
        return self._read(key, chunk_size)

    async def _read(self, key: str, chunk_size: int) -> AsyncGenerator[bytes, None]:
        client = await self._client()
        with self._errors("read", key):
            answer = await client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            async with body:  # (its __aenter__ returns the raw aiohttp response: keep the wrapper)
                while chunk := await body.read(chunk_size):
                    yield chunk

    async def file_exists(self, key: str) -> bool:
        validate_key(key)
        client = await self._client()
        try:
            with self._errors("look up", key):
                await client.head_object(Bucket=self.bucket, Key=key)
        except StorageFileNotFoundError:
            await self._check_bucket(client)
            return False
        return True

    async def _check_bucket(self, client: Any) -> None:
        """A HEAD answers a bare 404 for a missing bucket too: tell the two apart once."""
        if self._bucket_seen:
            return
        try:
            with self._errors("find the bucket"):
                await client.head_bucket(Bucket=self.bucket)
        except StorageFileNotFoundError as exc:
            raise StorageConfigError(
                f"S3 bucket {self.bucket!r} does not exist (endpoint {self.endpoint_url or 'AWS'})"
            ) from exc
        self._bucket_seen = True

    async def get_file_url(self, key: str, expires_in: int = 3600) -> str:
        """A presigned GET URL (SigV4), valid for ``expires_in`` seconds (at most 7 days)."""
        check_expires_in(expires_in)
        if not await self.file_exists(key):
            raise StorageFileNotFoundError(f"no object under key {key!r} in s3://{self.bucket}", key=key)
        client = await self._client()
        with self._errors("sign a URL for", key):
            url: str = await client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        return url

    async def list_objects(
        self, prefix: str = "", *, refused: dict[str, str] | None = None
    ) -> list[ObjectInfo]:
        """Every object under ``prefix`` with its size and ETag; keys no client key may name
        (``folder/`` markers, ``a//b``...) are left out (and put in ``refused``, when given)."""
        validate_prefix(prefix)
        client = await self._client()
        objects: list[ObjectInfo] = []
        with self._errors("list", prefix or None):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            async for page in pages:
                for item in page.get("Contents", ()):
                    try:
                        key = validate_key(item["Key"])
                    except StorageKeyError as exc:
                        if refused is not None and not item["Key"].endswith("/"):  # not a folder marker
                            refused[item["Key"]] = str(exc)
                        continue
                    objects.append(ObjectInfo(key, int(item.get("Size", 0)), etag=item.get("ETag")))
        return objects


async def _hashing(chunks: AsyncIterator[Part], checksum: Checksum) -> AsyncIterator[Part]:
    async for chunk in chunks:
        await checksum.update_async(chunk)
        yield chunk


def _secret(value: str | SecretStr | None) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None
