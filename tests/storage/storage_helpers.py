"""Helpers shared by the storage tests (the fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from anythingllm_bridge.storage import S3StorageClient
from support import S3Server

MIB = 1024 * 1024


def make_client(server: S3Server, bucket: str, **options: Any) -> S3StorageClient:
    """Our client on ``bucket``; uploads above 5 MiB go in 5 MiB parts unless told otherwise."""
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
