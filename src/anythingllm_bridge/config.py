"""Settings, read from keyword arguments, the environment, a ``.env`` file and a user config file.

Each field is read from the environment variable of the same name in upper case
(``anythingllm_url`` ← ``ANYTHINGLLM_URL``). The resilience knobs are also read with an
``ANYTHINGLLM_`` prefix (``ANYTHINGLLM_MAX_RETRIES`` wins over ``MAX_RETRIES``).
Secrets are ``SecretStr``: they never appear in ``repr`` or logs. The client's knobs take their
defaults from :data:`anythingllm_bridge.client_config.DEFAULTS` (declared there only);
``AnythingLLMClient(settings)`` takes them from a ``Settings``.

Where a value comes from, highest first: keyword arguments (the command line's ``--url`` and
``--api-key``), the environment, the ``.env`` file of the current folder or of its nearest parent that
has one, the user config file ``$XDG_CONFIG_HOME/anythingllm-bridge/config.toml``
(``~/.config/...``; TOML, keys named like the variables or the fields), then the defaults.
:func:`setting_origins` says which of them gave each value.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from anythingllm_bridge.client_config import DEFAULTS, normalise_url
from anythingllm_bridge.ingest_config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_PASSES,
    DEFAULT_MAX_WAIT,
    MAX_CONCURRENCY,
)

__all__ = [
    "DEFAULT_ALLOWED_FILE_TYPES",
    "Settings",
    "StorageType",
    "env_names",
    "field_named",
    "get_settings",
    "nearest_dotenv",
    "setting_origins",
    "user_config_file",
]

DEFAULT_ALLOWED_FILE_TYPES: tuple[str, ...] = ("pdf", "json", "csv")
MIB = 1024 * 1024


class StorageType(StrEnum):
    """The values of ``storage_type`` (``STORAGE_TYPE``): ``Settings(storage_type=StorageType.S3)``
    and ``storage_type="s3"`` say the same."""

    LOCAL = "local"
    S3 = "s3"


def _knob(default: Any, name: str, description: str, *, bare: bool = True, **kwargs: Any) -> Any:
    """A resilience setting read from ``ANYTHINGLLM_<NAME>`` or (``bare``) ``<NAME>``."""
    upper = name.upper()
    names = (f"ANYTHINGLLM_{upper}", upper, name) if bare else (f"ANYTHINGLLM_{upper}",)
    return Field(
        default,
        validation_alias=AliasChoices(*names),
        description=description,
        **kwargs,
    )


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/anythingllm-bridge/config.toml``, or ``~/.config/...`` when that is unset
    (or, as the XDG spec says to treat it, not an absolute path). It need not exist."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "anythingllm-bridge" / "config.toml"


def nearest_dotenv(start: Path | None = None) -> Path | None:
    """The ``.env`` file of ``start`` (default: the current folder) or of its nearest parent that has
    one, so a command run from a subfolder of a project finds the project's ``.env``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    """Every setting of anythingllm-bridge. See the configuration table in the README."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments > environment > nearest ``.env`` > user config file > defaults.

        ``Settings(_env_file=path)`` reads that file instead of looking for ``.env``;
        ``_env_file=None`` reads none.
        """
        return _sources(settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings)

    # --- AnythingLLM server
    anythingllm_url: str = Field("http://localhost:3001", description="Base URL of the AnythingLLM server")
    anythingllm_api_key: SecretStr | None = Field(None, description="Developer API key")
    anythingllm_timeout: float = Field(
        DEFAULTS.timeout, gt=0, description="Seconds for a whole call, its retries and their waits included"
    )

    # --- resilience (circuit breaker, retries, timeouts, limits)
    connect_timeout: float = _knob(
        DEFAULTS.connect_timeout, "connect_timeout", "Seconds to establish a connection", gt=0
    )
    read_timeout: float = _knob(
        DEFAULTS.read_timeout,
        "read_timeout",
        "Seconds for an attempt's whole answer (uploads: without data once sent; streams: between chunks)",
        gt=0,
    )
    failure_threshold: int = _knob(
        DEFAULTS.failure_threshold, "failure_threshold", "Consecutive failures that open the breaker", ge=1
    )
    recovery_timeout: float = _knob(
        DEFAULTS.recovery_timeout, "recovery_timeout", "Seconds the breaker stays open", ge=0
    )
    max_retries: int = _knob(DEFAULTS.max_retries, "max_retries", "Retries after the first attempt", ge=0)
    base_delay: float = _knob(DEFAULTS.base_delay, "base_delay", "First backoff delay in seconds", ge=0)
    max_delay: float = _knob(
        DEFAULTS.max_delay, "max_delay", "Largest backoff or Retry-After wait in seconds", ge=0
    )
    max_concurrency: int = _knob(
        DEFAULTS.max_concurrency, "max_concurrency", "Concurrent requests per client", ge=1
    )
    max_connections_per_host: int = _knob(
        DEFAULTS.max_connections_per_host, "max_connections_per_host", "Connections per host", ge=1
    )
    # TLS trust only from ANYTHINGLLM_*: a bare VERIFY_SSL or CA_BUNDLE in the environment belongs to
    # some other tool, and must not switch this client's certificate checks off or change its CAs
    verify_ssl: bool = _knob(DEFAULTS.verify_ssl, "verify_ssl", "Verify TLS certificates", bare=False)
    ca_bundle: Path | None = _knob(
        DEFAULTS.ca_bundle, "ca_bundle", "PEM file of extra trusted CA certificates", bare=False
    )

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
    ingest_concurrency: int = Field(
        DEFAULT_CONCURRENCY,
        ge=1,
        le=MAX_CONCURRENCY,
        description=f"Files processed at once by sync (1-{MAX_CONCURRENCY})",
    )
    ingest_max_passes: int = Field(
        DEFAULT_MAX_PASSES,
        ge=1,
        description="Passes a sync makes over files that failed transiently (1 = no second pass)",
    )
    ingest_max_wait: float = Field(
        DEFAULT_MAX_WAIT, ge=0, description="Seconds a sync may wait, in all, for an open circuit breaker"
    )
    manifest_path: Path | None = Field(
        None,
        description="Where sync keeps its cache of file hashes (default: per source in the state folder)",
    )

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
    def _normalise_url(cls, value: str) -> str:
        return normalise_url(value, "ANYTHINGLLM_URL")  # a ValueError, reported by pydantic like any field


#: what each of the sources ``_sources`` returns is called, in its order
_SOURCE_NAMES = ("argument", "environment", ".env", "config file", "secrets")


def _sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    dotenv_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    if isinstance(dotenv_settings, DotEnvSettingsSource) and dotenv_settings.env_file == ".env":
        # the default, relative ".env": look in the current folder and then up its parents
        dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=nearest_dotenv())
    for source in (env_settings, dotenv_settings):
        if isinstance(source, EnvSettingsSource):  # no bare VERIFY_SSL / CA_BUNDLE (see Settings)
            source.env_vars = {
                name: value for name, value in source.env_vars.items() if name.lower() not in _PREFIXED_ONLY
            }
    user_file = TomlConfigSettingsSource(settings_cls, toml_file=user_config_file())
    return init_settings, env_settings, dotenv_settings, user_file, file_secret_settings


# Settings read only under their ANYTHINGLLM_ name from the environment and .env files: pydantic
# would also take the bare field name there (populate_by_name), which for these belongs to other tools.
_PREFIXED_ONLY = frozenset({"verify_ssl", "ca_bundle"})


def env_names(field: str) -> tuple[str, ...]:
    """The names a setting is read under, preferred first (``("ANYTHINGLLM_MAX_RETRIES",
    "MAX_RETRIES", "max_retries")``; ``("ANYTHINGLLM_URL",)`` for a plain field)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (field.upper(),)


def field_named(name: str) -> str | None:
    """The field a variable or field name stands for, in any case (``"MAX_RETRIES"`` →
    ``"max_retries"``), or ``None``."""
    wanted = name.lower()
    for field in Settings.model_fields:
        if wanted in (known.lower() for known in (field, *env_names(field))):
            return field
    return None


def setting_origins(**values: Any) -> dict[str, str]:
    """Where each setting of ``Settings(**values)`` comes from, by field name: ``"argument"``,
    ``"environment"``, ``".env"`` (the file :func:`nearest_dotenv` found), ``"config file"``
    (:func:`user_config_file`), ``"secrets"`` or ``"default"``.

    It reads the same sources, in the same order, as ``Settings`` itself.
    """
    ordered = _sources(
        Settings,
        InitSettingsSource(Settings, values),
        EnvSettingsSource(Settings),
        DotEnvSettingsSource(Settings),
        SecretsSettingsSource(Settings),
    )
    origins: dict[str, str] = {}
    for label, source in zip(_SOURCE_NAMES, ordered, strict=True):
        for key in source():
            field = field_named(key)
            if field is not None:
                origins.setdefault(field, label)
    return {field: origins.get(field, "default") for field in Settings.model_fields}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once and cached (``get_settings.cache_clear()`` re-reads)."""
    return Settings()
