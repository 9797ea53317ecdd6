"""Opening and closing the client, configuration, the key staying secret, and health_check."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr

from anythingllm_bridge import AnythingLLMClient as ExportedClient
from anythingllm_bridge import AnythingLLMConfig, CircuitBreakerConfig, Settings, create_anythingllm_client
from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import AnythingLLMError, AnythingLLMSessionError
from support import Server, closed_port, make_client, no_sleep

SECRET = "SECRET-KEY-1234567-ABCDEFG"


def test_package_exports_the_client() -> None:
    assert ExportedClient is AnythingLLMClient


async def test_call_outside_a_session_says_how_to_open_one(server: Server) -> None:
    client = make_client(server.url, server.api_key)
    with pytest.raises(AnythingLLMSessionError) as caught:
        await client.list_workspaces()
    assert "async with" in str(caught.value) or "connect()" in str(caught.value)


async def test_async_with_opens_and_closes_the_session(server: Server) -> None:
    client = make_client(server.url, server.api_key)
    assert not client.is_connected
    async with client as opened:
        assert opened is client
        assert client.is_connected
        assert isinstance(await client.list_workspaces(), list)
    assert not client.is_connected
    with pytest.raises(AnythingLLMSessionError):
        await client.list_workspaces()


async def test_connect_and_disconnect_explicitly(server: Server) -> None:
    client = make_client(server.url, server.api_key)
    await client.connect()
    try:
        assert await client.check_auth() is True
    finally:
        await client.disconnect()
    await client.disconnect()  # twice is fine
    assert not client.is_connected


@pytest.mark.parametrize("key", [SECRET, SecretStr(SECRET)])
def test_repr_never_shows_the_key(key: str | SecretStr) -> None:
    client = AnythingLLMClient("http://127.0.0.1:3001", key)
    text = repr(client) + str(client) + repr(client.transport) + repr(client.config)
    assert SECRET not in text
    assert "127.0.0.1:3001" in repr(client)


def test_bad_base_url_is_refused_with_its_value() -> None:
    with pytest.raises(ValueError, match="localhost:3001"):
        AnythingLLMClient("localhost:3001", "k")


async def test_the_key_is_not_in_errors_or_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    async with make_client(server.url, SECRET) as client:
        with pytest.raises(AnythingLLMError) as caught:
            await client.list_workspaces()
    error = caught.value
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert SECRET not in repr(vars(error))
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_create_client_from_settings() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        anythingllm_url="http://127.0.0.1:4001/",
        anythingllm_api_key=SECRET,
        anythingllm_timeout=12.5,
        max_retries=7,
        failure_threshold=2,
        connect_timeout=3.0,
    )
    client = create_anythingllm_client(settings)
    assert client.base_url == "http://127.0.0.1:4001"
    assert client.config.timeout == 12.5
    assert client.config.max_retries == 7
    assert client.config.failure_threshold == 2
    assert client.config.connect_timeout == 3.0
    assert SECRET not in repr(client)


async def test_settings_client_talks_to_the_server(server: Server) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, anythingllm_url=server.url, anythingllm_api_key=server.api_key
    )
    async with create_anythingllm_client(settings, sleep=no_sleep) as client:
        assert await client.check_auth() is True


def test_a_client_built_from_settings_or_alm001_config(emulator: Any) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, anythingllm_url=emulator.url, anythingllm_api_key=SECRET, max_retries=6
    )
    from_settings = AnythingLLMClient(settings)
    assert from_settings.base_url == emulator.url
    assert from_settings.config.max_retries == 6
    config = AnythingLLMConfig(
        endpoint="http://127.0.0.1:4001/",
        api_key=SECRET,
        circuit_breaker=CircuitBreakerConfig(failure_threshold=2, recovery_timeout=9, timeout_seconds=4),
    )
    from_config = AnythingLLMClient(config)
    assert from_config.base_url == "http://127.0.0.1:4001"
    assert (from_config.config.failure_threshold, from_config.config.recovery_timeout) == (2, 9)
    assert from_config.config.timeout == 4
    defaults = AnythingLLMClient("http://127.0.0.1:4001").config
    bare = AnythingLLMClient(AnythingLLMConfig(endpoint="http://127.0.0.1:4001")).config
    assert bare == defaults  # what the config leaves out keeps the client's defaults
    assert create_anythingllm_client(config, failure_threshold=8).config.failure_threshold == 8
    assert SECRET not in repr(config) + repr(from_config)


async def test_a_config_built_client_talks_to_the_server(server: Server) -> None:
    config = AnythingLLMConfig(endpoint=server.url, api_key=server.api_key)
    async with AnythingLLMClient(config, sleep=no_sleep) as client:
        assert await client.check_auth() is True


def test_what_is_not_a_url_or_a_config_is_refused() -> None:
    with pytest.raises(ValueError, match="or a Settings or an AnythingLLMConfig; got"):
        AnythingLLMClient({"endpoint": "http://x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extra"):
        AnythingLLMConfig(endpoint="http://x", circuit_breaker={"failure_treshold": 3})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- health_check


async def test_health_check_of_a_healthy_server(server: Server) -> None:
    async with make_client(server.url, server.api_key) as client:
        health = await client.health_check()
    assert health.reachable
    assert health.answering
    assert health.authenticated
    assert health.ok
    assert health.reason is None
    assert health.latency_ms is not None
    assert health.latency_ms >= 0
    assert health.breaker is not None
    assert health.breaker.state.lower().endswith("closed")
    assert health.breaker.failure_count == 0


async def test_health_check_with_a_wrong_key(server: Server) -> None:
    async with make_client(server.url, "WRONG-KEY") as client:
        health = await client.health_check()
    assert health.reachable is True
    assert health.authenticated is False
    assert health.reason is not None
    assert "key" in health.reason.lower()
    assert "WRONG-KEY" not in health.model_dump_json()


async def test_health_check_without_a_session_opens_one_for_itself(server: Server) -> None:
    client = make_client(server.url, server.api_key)
    health = await client.health_check()
    assert health.ok
    assert not client.is_connected


async def test_health_check_of_nothing_listening_does_not_raise() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with make_client(url, "k", max_retries=0, connect_timeout=2) as client:
        health = await client.health_check()
    assert health.reachable is False
    assert health.answering is False
    assert health.authenticated is None  # never checked, so neither accepted nor refused
    assert health.reason
    assert health["status"] == "unhealthy"
    assert health["circuit_breaker"]["state"] == "closed"
    assert health["circuit_breaker"]["failure_count"] == 0  # a health check is not the application's call


async def test_health_check_is_one_probe_outside_the_breaker(emulator: Any) -> None:
    emulator.emulator.faults.outage(3600)
    async with make_client(emulator.url, emulator.api_key, failure_threshold=2) as client:  # 3 retries
        checks = [await client.health_check() for _ in range(3)]
        pings = [r for r in emulator.emulator.faults.requests if r.path == "/api/ping"]
        assert len(pings) == 3  # one request per check: no retries
        assert client.breaker.failure_count == 0
        with pytest.raises(AnythingLLMError):  # the application's own call, retried, opens it
            await client.list_workspaces()
        assert client.breaker.state.value == "open"
        during = await client.health_check()
    first = checks[0]
    assert first.reachable is True  # it answered: 503
    assert first.answering is False
    assert first.authenticated is None
    assert first.not_anythingllm is False  # any server may be failing
    assert "503" in (first.reason or "")
    assert (first["status"], first["circuit_breaker"]["state"]) == ("unhealthy", "closed")
    assert during.reachable is True  # the open breaker did not stop the check from asking
    assert "503" in (during.reason or "")
    assert during["circuit_breaker"]["state"] == "open"
    assert [r.path for r in emulator.emulator.faults.requests].count("/api/ping") == 4


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"status": 404, "body": "Not Found"}, "404 Not Found"),
        ({"status": 200, "body": "<html><h1>Welcome</h1></html>", "content_type": "text/html"}, "text/html"),
        ({"status": 200, "body": {"status": "ok"}}, 'without "online": true'),
    ],
    ids=["404", "web page", "other JSON"],
)
async def test_health_check_names_a_server_that_is_not_anythingllm(
    emulator: Any, fault: dict[str, Any], said: str
) -> None:
    emulator.emulator.faults.add("GET", "/api/ping", times=None, **fault)
    async with make_client(emulator.url, emulator.api_key, max_retries=0) as client:
        health = await client.health_check()
    assert (health.reachable, health.answering, health.authenticated) == (True, False, None)
    assert health.not_anythingllm is True
    assert health.reason is not None
    assert "is not an AnythingLLM server" in health.reason
    assert said in health.reason
    assert [r.path for r in emulator.emulator.faults.requests] == ["/api/ping"]  # the key was not tried


async def test_health_check_of_https_to_a_plain_http_server(emulator: Any) -> None:
    https = emulator.url.replace("http://", "https://")
    health = await make_client(https, emulator.api_key, max_retries=0).health_check()
    assert (health.reachable, health.answering, health.authenticated) == (True, False, None)
    assert health.reason == f"the server at {https} does not speak TLS: use {emulator.url}"
