"""Where documents are kept: a local folder or an S3-compatible bucket, behind one async interface.

``import anythingllm_bridge.storage`` never imports aioboto3: the S3 backend loads it when the
first S3 client is created.
"""

from __future__ import annotations

from anythingllm_bridge.storage.base import ObjectInfo, StorageClient, StoredObject
from anythingllm_bridge.storage.factory import (
    StorageFactory,
    create_local_storage_client,
    create_s3_storage_client,
)
from anythingllm_bridge.storage.local import LocalStorageClient
from anythingllm_bridge.storage.s3 import S3StorageClient

__all__ = [
    "LocalStorageClient",
    "ObjectInfo",
    "S3StorageClient",
    "StorageClient",
    "StorageFactory",
    "StoredObject",
    "create_local_storage_client",
    "create_s3_storage_client",
]
