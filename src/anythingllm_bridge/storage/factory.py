"""Build a storage client from settings (``STORAGE_TYPE`` = ``local`` or ``s3``) or from arguments."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from anythingllm_bridge.errors import StorageConfigError
from anythingllm_bridge.storage.base import StorageClient
from anythingllm_bridge.storage.local import LocalStorageClient
from anythingllm_bridge.storage.s3 import S3StorageClient

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings

__all__ = ["StorageFactory", "create_local_storage_client", "create_s3_storage_client"]


def create_local_storage_client(
    base_path: str | os.PathLike[str], *, fsync: bool = True
) -> LocalStorageClient:
    """Storage in the folder ``base_path`` (created if missing)."""
    return LocalStorageClient(base_path, fsync=fsync)


def create_s3_storage_client(
    bucket: str,
    region: str = "us-east-1",
    *,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | SecretStr | None = None,
    session_token: str | SecretStr | None = None,
    **options: Any,
) -> S3StorageClient:
    """Storage in the S3 bucket ``bucket``; ``options`` go to :class:`S3StorageClient`."""
    return S3StorageClient(
        bucket,
        region,
        endpoint_url=endpoint_url,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        **options,
    )


class StorageFactory:
    """Chooses and builds the storage backend the settings ask for."""

    @staticmethod
    def create_storage_client(settings: Settings | None = None) -> StorageClient:
        """The client for ``settings`` (the process settings when ``None``).

        Raises :class:`StorageConfigError` for an unknown ``STORAGE_TYPE`` or an S3 setup
        without ``S3_BUCKET``.
        """
        if settings is None:
            from anythingllm_bridge.config import get_settings

            settings = get_settings()
        kind = str(settings.storage_type).strip().lower()
        if kind == "local":
            return create_local_storage_client(settings.storage_path)
        if kind == "s3":
            if not settings.s3_bucket:
                raise StorageConfigError("STORAGE_TYPE is s3 but S3_BUCKET is not set")
            return create_s3_storage_client(
                settings.s3_bucket,
                settings.s3_region,
                endpoint_url=settings.s3_endpoint_url,
                access_key_id=settings.aws_access_key_id,
                secret_access_key=settings.aws_secret_access_key,
                session_token=settings.aws_session_token,
                multipart_threshold=settings.s3_multipart_threshold,
                multipart_chunksize=settings.s3_multipart_chunksize,
            )
        raise StorageConfigError(f"unknown STORAGE_TYPE {settings.storage_type!r}: use 'local' or 's3'")

    create_local_storage_client = staticmethod(create_local_storage_client)
    create_s3_storage_client = staticmethod(create_s3_storage_client)
