"""Choosing a backend from settings, and which keys are safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from anythingllm_bridge.config import Settings
from anythingllm_bridge.errors import ConfigurationError, StorageConfigError, StorageKeyError
from anythingllm_bridge.storage import (
    LocalStorageClient,
    S3StorageClient,
    StorageFactory,
    create_local_storage_client,
    create_s3_storage_client,
)
from anythingllm_bridge.storage.keys import validate_key, validate_prefix


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_local_settings_give_a_local_client_on_storage_path(tmp_path: Path) -> None:
    client = StorageFactory.create_storage_client(settings(storage_type="local", storage_path=tmp_path / "s"))
    assert isinstance(client, LocalStorageClient)
    assert client.base_path == tmp_path / "s"
    assert (tmp_path / "s").is_dir()


def test_s3_settings_give_an_s3_client_with_their_endpoint_and_part_sizes() -> None:
    client = StorageFactory.create_storage_client(
        settings(
            storage_type="s3",
            s3_bucket="my-docs",
            s3_region="eu-west-1",
            s3_endpoint_url="http://127.0.0.1:9000",
            aws_access_key_id="AKID",
            aws_secret_access_key=SecretStr("secret"),
        )
    )
    assert isinstance(client, S3StorageClient)
    assert (client.bucket, client.region, client.endpoint_url) == (
        "my-docs",
        "eu-west-1",
        "http://127.0.0.1:9000",
    )


def test_s3_without_a_bucket_is_a_config_error() -> None:
    with pytest.raises(StorageConfigError, match="S3_BUCKET"):
        StorageFactory.create_storage_client(settings(storage_type="s3"))


def test_an_unknown_storage_type_is_a_config_error() -> None:
    odd = Settings.model_construct(storage_type="ftp")  # type: ignore[arg-type]
    with pytest.raises(StorageConfigError, match="ftp") as info:
        StorageFactory.create_storage_client(odd)
    assert isinstance(info.value, ConfigurationError)


def test_the_helpers_build_clients_directly(tmp_path: Path) -> None:
    assert isinstance(create_local_storage_client(tmp_path), LocalStorageClient)
    assert isinstance(StorageFactory.create_local_storage_client(tmp_path), LocalStorageClient)
    s3 = create_s3_storage_client("bucket-x", "us-west-2", max_concurrency=2)
    assert (s3.bucket, s3.region) == ("bucket-x", "us-west-2")


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "a.txt",
        "docs/2024/q1 report (final).pdf",
        "résumé.docx",
        "..hidden",
        "a..b",
        "x/...",
        "~/x",
        "😀/🚀",
    ],
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows", "drive letter"),
        ("c:foo", "drive letter"),
        ("a\\b", "backslash"),
        ("..\\..\\x", "backslash"),
        ("a/../../b", "'..'"),
        ("..", "'..'"),
        ("./a", "'.'"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a\x00b", "U+0000"),
        ("a\x1fb", "U+001F"),
        ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"),
        ("a\u2028b", "U+2028"),
        ("x" * 1025, "1024 bytes"),
        (b"bytes", "must be a str"),
        (None, "must be a str"),
    ],
)
def test_unsafe_keys_are_refused_with_the_reason(key: object, reason: str) -> None:
    with pytest.raises(StorageKeyError, match=reason.replace("(", r"\(").replace("+", r"\+")):
        validate_key(key)


@pytest.mark.parametrize("prefix", ["", "docs/", "docs", "docs/re", "a/b/"])
def test_listing_prefixes_may_end_with_a_slash_or_a_partial_name(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "/docs", "../", "a//", "a/../", "a\\", "C:"])
def test_unsafe_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(StorageKeyError):
        validate_prefix(prefix)
