"""Settings: keyword arguments, environment variables, .env files, the user config file and secrets."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from anythingllm_bridge.client import AnythingLLMClient, AnythingLLMConfig, CircuitBreakerConfig
from anythingllm_bridge.client_config import DEFAULTS, ClientConfig, normalise_url
from anythingllm_bridge.config import (
    Settings,
    env_names,
    get_settings,
    nearest_dotenv,
    setting_origins,
    user_config_file,
)
from anythingllm_bridge.errors import ConfigurationError


def test_reads_environment_variables_named_like_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYTHINGLLM_URL", "http://anything.example:3001/")
    monkeypatch.setenv("ANYTHINGLLM_API_KEY", "KEY-1234567")
    monkeypatch.setenv("ANYTHINGLLM_TIMEOUT", "12.5")
    monkeypatch.setenv("STORAGE_TYPE", "s3")
    monkeypatch.setenv("S3_BUCKET", "docs")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("ALLOWED_FILE_TYPES", "pdf, .MD,txt")
    monkeypatch.setenv("ANYTHINGLLM_MAX_RETRIES", "7")
    monkeypatch.setenv("FAILURE_THRESHOLD", "2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.anythingllm_url == "http://anything.example:3001"
    assert settings.anythingllm_api_key is not None
    assert settings.anythingllm_api_key.get_secret_value() == "KEY-1234567"
    assert settings.anythingllm_timeout == 12.5
    assert settings.storage_type == "s3"
    assert settings.s3_bucket == "docs"
    assert settings.allowed_file_types == ["pdf", "md", "txt"]
    assert settings.max_retries == 7
    assert settings.failure_threshold == 2


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYTHINGLLM_API_KEY", "VERY-SECRET-KEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ALSO-SECRET")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "VERY-SECRET-KEY" not in text
        assert "ALSO-SECRET" not in text


def test_reads_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANYTHINGLLM_URL", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("ANYTHINGLLM_URL=https://from-dotenv:3001\nMAX_FILE_SIZE=1024\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.anythingllm_url == "https://from-dotenv:3001"
    assert settings.max_file_size == 1024


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYTHINGLLM_URL", "ftp://nope")
    with pytest.raises(ValidationError, match="ANYTHINGLLM_URL"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("ANYTHINGLLM_URL", "http://ok")
    monkeypatch.setenv("STORAGE_TYPE", "ftp")
    with pytest.raises(ValidationError, match="storage_type"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_the_readme_documents_every_setting_with_its_default() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in readme.splitlines()
            if line.startswith("| `")}  # fmt: skip
    by_name = {name.strip("` "): default for names, default in rows.items() for name in names.split(" / ")}
    for name, field in Settings.model_fields.items():
        listed = [env for env in (name.upper(), *env_names(name)) if env in by_name]
        assert listed, f"README's settings table lacks {name.upper()}"
        shown = by_name[listed[0]].strip("`")
        if isinstance(field.default, int | float) and not isinstance(field.default, bool):
            assert float(shown) == float(field.default), f"README shows {name.upper()}={shown}"
        elif isinstance(field.default, str):
            assert shown == field.default, f"README shows {name.upper()}={shown}"


def _setting(knob: str) -> str:
    return "anythingllm_timeout" if knob == "timeout" else knob


def test_every_client_default_is_the_client_configs() -> None:
    client_defaults = inspect.signature(AnythingLLMClient).parameters
    for knob in dataclasses.fields(ClientConfig):
        default = getattr(DEFAULTS, knob.name)
        assert Settings.model_fields[_setting(knob.name)].default == default, knob.name
        assert client_defaults[knob.name].default == default, knob.name


def test_settings_hand_every_knob_to_the_client_config(tmp_path: Path) -> None:
    values = {
        "anythingllm_timeout": 12.5,
        "connect_timeout": 3.0,
        "read_timeout": 4.0,
        "max_retries": 7,
        "base_delay": 0.5,
        "max_delay": 9.0,
        "failure_threshold": 2,
        "recovery_timeout": 11.0,
        "max_concurrency": 3,
        "max_connections_per_host": 2,
        "verify_ssl": False,
        "ca_bundle": tmp_path / "ca.pem",
    }
    config = AnythingLLMClient(Settings(_env_file=None, **values)).config  # type: ignore[call-arg]
    assert {_setting(k.name): getattr(config, k.name) for k in dataclasses.fields(ClientConfig)} == values


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://h:3001", "http://h:3001"),
        (" https://h.example/ ", "https://h.example"),
        ("http://h:3001/api", "http://h:3001"),
        ("http://h:3001/api/v1/", "http://h:3001"),
        ("http://h/sub/path/api", "http://h/sub/path"),
    ],
)
def test_the_server_url_is_normalised_to_its_root(given: str, root: str) -> None:
    assert normalise_url(given) == root
    assert Settings(_env_file=None, anythingllm_url=given).anythingllm_url == root  # type: ignore[call-arg]
    assert AnythingLLMClient(given).base_url == root


@pytest.mark.parametrize(
    "bad", ["localhost:3001", "ftp://h", "http://", "http:///x", "http://h:port", "", 3001]
)
def test_a_bad_server_url_is_one_error_naming_where_it_came_from(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="ANYTHINGLLM_URL must be http:// or https://") as info:
        normalise_url(bad, "ANYTHINGLLM_URL")
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="base_url must be http:// or https://"):
        AnythingLLMClient(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- where settings come from


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A project with a subfolder to run in, and a user config folder; no setting in the environment."""
    for name in list(os.environ):
        if name.upper().startswith(("ANYTHINGLLM_", "MAX_", "READ_", "ALLOWED_")):
            monkeypatch.delenv(name)
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "src" / "deep")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    config = tmp_path / "config" / "anythingllm-bridge" / "config.toml"
    config.parent.mkdir(parents=True)
    return {"project": project, "config": config}


def test_the_nearest_dotenv_up_the_folders_is_read(places: dict[str, Path]) -> None:
    dotenv = places["project"] / ".env"
    dotenv.write_text("ANYTHINGLLM_URL=http://from-project:3001\n")
    assert nearest_dotenv() == dotenv
    assert Settings().anythingllm_url == "http://from-project:3001"
    nearer = places["project"] / "src" / ".env"
    nearer.write_text("MAX_RETRIES=1\n")
    assert nearest_dotenv() == nearer  # the nearest one only: its parent's is not read
    assert Settings().anythingllm_url == "http://localhost:3001"
    assert Settings(_env_file=None).max_retries == 3  # type: ignore[call-arg]


def test_sources_in_order_arguments_environment_dotenv_config_file(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert user_config_file() == places["config"]
    places["config"].write_text(
        'ANYTHINGLLM_URL = "http://from-config:1"\nmax_retries = 1\nread_timeout = 11\n'
        'connect_timeout = 7\nallowed_file_types = ["md"]\n'
    )
    (places["project"] / ".env").write_text("MAX_RETRIES=2\nREAD_TIMEOUT=22\n")
    monkeypatch.setenv("ANYTHINGLLM_MAX_RETRIES", "3")
    settings = Settings(anythingllm_url="http://from-argument:1")
    assert settings.anythingllm_url == "http://from-argument:1"
    assert settings.max_retries == 3
    assert settings.read_timeout == 22
    assert settings.connect_timeout == 7
    assert settings.allowed_file_types == ["md"]
    origins = setting_origins(anythingllm_url="http://from-argument:1")
    assert origins["anythingllm_url"] == "argument"
    assert origins["max_retries"] == "environment"
    assert origins["read_timeout"] == ".env"
    assert origins["connect_timeout"] == "config file"
    assert origins["anythingllm_timeout"] == "default"


def test_a_missing_user_config_file_or_xdg_folder(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not places["config"].exists()
    assert Settings().max_retries == 3
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/path")  # not absolute: ignored, as the XDG spec says
    assert user_config_file() == Path.home() / ".config" / "anythingllm-bridge" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert user_config_file() == Path.home() / ".config" / "anythingllm-bridge" / "config.toml"


def test_env_names_name_every_setting_the_way_it_is_read() -> None:
    assert env_names("anythingllm_url") == ("ANYTHINGLLM_URL",)
    assert env_names("max_retries") == ("ANYTHINGLLM_MAX_RETRIES", "MAX_RETRIES", "max_retries")
    assert env_names("verify_ssl") == ("ANYTHINGLLM_VERIFY_SSL",)  # TLS trust: prefixed only


def test_tls_settings_ignore_the_bare_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_SSL", "false")
    monkeypatch.setenv("ca_bundle", "/elsewhere.pem")
    dotenv = tmp_path / "tls.env"
    dotenv.write_text("VERIFY_SSL=false\nCA_BUNDLE=/other.pem\n", encoding="utf-8")
    settings = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert (settings.verify_ssl, settings.ca_bundle) == (True, None)
    monkeypatch.setenv("ANYTHINGLLM_VERIFY_SSL", "false")
    assert Settings(_env_file=dotenv).verify_ssl is False  # type: ignore[call-arg]
    assert Settings(_env_file=None, verify_ssl=False).verify_ssl is False  # type: ignore[call-arg]


# --------------------------------------------------------------------------- the key is never echoed

SECRET = "sk-SECRET-KEY-123"


@pytest.mark.parametrize(
    ("base_url", "api_key", "said"),
    [
        (SECRET, "http://swapped.example:3001", "are base_url and api_key swapped?"),
        (f"http://user:{SECRET}@127.0.0.1:3001", "k", "must not carry a user name or password"),
        (f"ftp://user:{SECRET}@127.0.0.1:3001", "k", "got '127.0.0.1:3001'"),
        (f"http://127.0.0.1:3001/?key={SECRET}", "k", "must not have a query"),
        (
            {"endpoint": "http://127.0.0.1:3001", "api_key": SECRET},
            None,
            "a dict with keys endpoint, api_key",
        ),
    ],
)
def test_a_bad_server_url_never_shows_the_key(base_url: Any, api_key: str | None, said: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AnythingLLMClient(base_url, api_key)
    assert said in str(info.value)
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(info.value)


def test_keyword_arguments_win_over_a_settings_object_passed_too() -> None:
    settings = Settings(_env_file=None, anythingllm_url="http://127.0.0.1:3001", anythingllm_api_key="k1")  # type: ignore[call-arg]
    settings = settings.model_copy(update={"max_retries": 7, "anythingllm_timeout": 40.0})
    config = AnythingLLMClient(settings, max_retries=0, timeout=5, read_timeout=2).config
    assert (config.max_retries, config.timeout, config.read_timeout) == (0, 5, 2)
    assert AnythingLLMClient(settings, read_timeout=2).config.max_retries == 7  # the object's
    default = DEFAULTS.max_retries  # passed explicitly, the default value wins too
    assert AnythingLLMClient(settings, max_retries=default).config.max_retries == default
    alm = AnythingLLMConfig(
        endpoint="http://127.0.0.1:3001",
        api_key="k2",
        circuit_breaker=CircuitBreakerConfig(timeout_seconds=30, failure_threshold=9),
    )
    config = AnythingLLMClient(alm, timeout=5).config
    assert (config.timeout, config.failure_threshold) == (5, 9)
    assert "timeout" in inspect.signature(AnythingLLMClient).parameters  # the signature is still shown
