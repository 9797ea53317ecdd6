"""S3 tests talk real HTTP to moto's server mode (``s3_server`` and ``bucket`` in tests/conftest.py:
started once per test session on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from storage_helpers import make_client

from anythingllm_bridge.storage import LocalStorageClient, S3StorageClient, StorageClient
from support import S3Server


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
        client = make_client(s3_server, s3_server.new_bucket())
    async with client:
        yield client
