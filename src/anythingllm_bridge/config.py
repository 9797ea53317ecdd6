"""Settings, read from the environment and a ``.env`` file.

Each field is read from the environment variable of the same name in upper case
(``anythingllm_url`` ← ``ANYTHINGLLM_URL``). The resilience knobs are also read with an
``ANYTHINGLLM_`` prefix (``ANYTHINGLLM_MAX_RETRIES`` wins over ``MAX_RETRIES``).
Secrets are ``SecretStr``: they never appear in ``repr`` or logs.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_ALLOWED_FILE_TYPES", "Settings", "StorageType", "get_settings"]

DEFAULT_ALLOWED_FILE_TYPES: tuple[str, ...] = ("pdf", "json", "csv")
MIB = 1024 * 1024


class StorageType(StrEnum):
    """The values of ``storage_type`` (``STORAGE_TYPE``): ``Settings(storage_type=StorageType.S3)``
    and ``storage_type="s3"`` say the same."""

    LOCAL = "local"
    S3 = "s3"


def _knob(default: Any, name: str, description: str, **kwargs: Any) -> Any:
    """A resilience setting read from ``ANYTHINGLLM_<NAME>`` or ``<NAME>``."""
    upper = name.upper()
    return Field(
        default,
        validation_alias=AliasChoices(f"ANYTHINGLLM_{upper}", upper, name),
        description=description,
        **kwargs,
    )


class Settings(BaseSettings):
    """Every setting of anythingllm-bridge. See the configuration table in the README."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # --- AnythingLLM server
    anythingllm_url: str = Field("http://localhost:3001", description="Base URL of the AnythingLLM server")
    anythingllm_api_key: SecretStr | None = Field(None, description="Developer API key")
    anythingllm_timeout: float = Field(300.0, gt=0, description="Total seconds for one request attempt")

    # --- resilience (issue: circuit breaker, retries, timeouts, limits)
    connect_timeout: float = _knob(10.0, "connect_timeout", "Seconds to establish a connection", gt=0)
    read_timeout: float = _knob(
        120.0,
        "read_timeout",
        "Seconds for a request's whole answer (uploads: without data once sent; streams: between chunks)",
        gt=0,
    )
    failure_threshold: int = _knob(5, "failure_threshold", "Consecutive failures that open the breaker", ge=1)
    recovery_timeout: float = _knob(60.0, "recovery_timeout", "Seconds the breaker stays open", ge=0)
    max_retries: int = _knob(3, "max_retries", "Retries after the first attempt", ge=0)
    base_delay: float = _knob(1.0, "base_delay", "First backoff delay in seconds", ge=0)
    max_delay: float = _knob(60.0, "max_delay", "Largest backoff or Retry-After wait in seconds", ge=0)
    max_concurrency: int = _knob(10, "max_concurrency", "Concurrent requests per client", ge=1)
    max_connections_per_host: int = _knob(5, "max_connections_per_host", "Connections per host", ge=1)
    verify_ssl: bool = _knob(True, "verify_ssl", "Verify TLS certificates")
    ca_bundle: Path | None = _knob(None, "ca_bundle", "PEM file of extra trusted CA certificates")

    # --- storage
    storage_type: Literal["local", "s3"] = Field("local", description="Where documents are kept")
    storage_path: Path = Field(Path("./storage"), description="Base folder of local storage")
    s3_bucket: str | None = Field(None, description="S3 bucket name")
    s3_region: str = Field("us-east-1", description="S3 region")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, R2, ...)")
    aws_access_key_id: str | None = Field(None, description="S3 access key id (default chain if unset)")
    aws_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key")
    aws_session_token: SecretStr | None = Field(None, description="S3 session token")
    s3_multipart_threshold: int = Field(
        8 * MIB, gt=0, description="Uploads larger than this many bytes go to S3 in parts"
    )
    s3_multipart_chunksize: int = Field(
        8 * MIB, ge=5 * MIB, le=5 * 1024 * MIB, description="Bytes per S3 multipart part (5 MiB..5 GiB)"
    )

    # --- validation
    max_file_size: int = Field(100 * MIB, gt=0, description="Largest accepted file, in bytes")
    allowed_file_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_FILE_TYPES),
        description="Accepted file types, comma-separated in the environment (pdf,json,csv)",
    )

    # --- ingestion
    ingest_concurrency: int = Field(4, ge=1, description="Files processed at once by sync")
    ingest_max_passes: int = Field(
        10, ge=1, description="Passes a sync makes over files that failed transiently (1 = no second pass)"
    )
    ingest_max_wait: float = Field(
        300.0, ge=0, description="Seconds a sync may wait, in all, for an open circuit breaker"
    )
    manifest_path: Path | None = Field(None, description="Where sync keeps its manifest")

    @field_validator("allowed_file_types", mode="before")
    @classmethod
    def _split_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(";", ",").split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().lower().lstrip(".") for v in value if str(v).strip()]
        return value

    @field_validator("anythingllm_url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"ANYTHINGLLM_URL must start with http:// or https://, got {value!r}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once and cached (``get_settings.cache_clear()`` re-reads)."""
    return Settings()
