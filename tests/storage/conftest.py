"""S3 tests talk real HTTP to moto's server mode, started once per test session on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from anythingllm_bridge.storage import LocalStorageClient, S3StorageClient, StorageClient

MIB = 1024 * 1024
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_names = itertools.count()


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def admin(self) -> Any:
        """A plain boto3 client, to set up buckets and look behind our client's back."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1", **CREDENTIALS)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket."""
    name = f"bucket-{next(_names)}"
    s3_server.admin().create_bucket(Bucket=name)
    return name


def make_client(server: S3Server, bucket: str, **options: Any) -> S3StorageClient:
    options.setdefault("multipart_threshold", 5 * MIB)
    options.setdefault("multipart_chunksize", 5 * MIB)
    return S3StorageClient(
        bucket,
        "us-east-1",
        endpoint_url=server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        **options,
    )


@pytest.fixture
async def s3(s3_server: S3Server, bucket: str) -> AsyncIterator[S3StorageClient]:
    """Our S3 client on a fresh bucket; uploads above 5 MiB go in 5 MiB parts."""
    async with make_client(s3_server, bucket) as client:
        yield client


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Any, s3_server: S3Server
) -> AsyncIterator[StorageClient]:
    """Each backend in turn: the behaviour every StorageClient promises."""
    client: StorageClient
    if request.param == "local":
        client = LocalStorageClient(tmp_path / "store")
    else:
        name = f"bucket-{next(_names)}"
        s3_server.admin().create_bucket(Bucket=name)
        client = make_client(s3_server, name)
    async with client:
        yield client
