"""Helpers shared by the storage tests (the fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from anythingllm_bridge.storage import S3StorageClient

MIB = 1024 * 1024
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def admin(self) -> Any:
        """A plain boto3 client, to set up buckets and look behind our client's back."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1", **CREDENTIALS)


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
