"""TLS through the public client against the emulator served over HTTPS on 127.0.0.1, with a certificate
made by the test (``trustme``): verified by default, a private CA trusted through ``ca_bundle``, and
verification off only when asked (``verify_ssl=False``), which logs a warning. The same settings work from
the environment (``Settings``)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from hardening_support import FastSleep

from anythingllm_bridge.client import AnythingLLMClient, create_anythingllm_client
from anythingllm_bridge.config import Settings
from anythingllm_bridge.errors import AnythingLLMConnectionError
from anythingllm_bridge.testing import RunningEmulator, run_emulator

TLS_API_KEY = "TLS-HARDENING-KEY"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_emulator(ca: trustme.CA) -> AsyncIterator[RunningEmulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with run_emulator(api_key=TLS_API_KEY, ssl_context=context) as running:
        yield running


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def test_the_emulator_serves_https(https_emulator: RunningEmulator) -> None:
    assert https_emulator.url.startswith("https://127.0.0.1:")


async def test_certificates_are_verified_by_default(https_emulator: RunningEmulator) -> None:
    sleep = FastSleep()
    async with AnythingLLMClient(https_emulator.url, https_emulator.api_key, sleep=sleep) as client:
        with pytest.raises(AnythingLLMConnectionError) as caught:
            await client.list_workspaces()
    message = str(caught.value)
    assert "TLS" in message
    assert "verify_ssl" in message
    assert "ca_bundle" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate" in message.lower()
    assert sleep.waits == []  # a certificate problem is not retried
    assert https_emulator.emulator.faults.requests == []  # no request went over the untrusted connection


async def test_health_check_says_tls_failed(https_emulator: RunningEmulator) -> None:
    health = await AnythingLLMClient(https_emulator.url, https_emulator.api_key).health_check()
    assert health.reachable is False
    assert "TLS" in (health.reason or "")


async def test_a_private_ca_is_trusted_through_ca_bundle(
    https_emulator: RunningEmulator, bundle: Path
) -> None:
    async with AnythingLLMClient(https_emulator.url, https_emulator.api_key, ca_bundle=bundle) as client:
        assert await client.list_workspaces() == []
        workspace = (await client.create_workspace("Over TLS")).workspace
        assert (await client.get_workspace(workspace.slug)).name == "Over TLS"


async def test_a_bundle_of_another_ca_is_not_enough(https_emulator: RunningEmulator, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with AnythingLLMClient(https_emulator.url, https_emulator.api_key, ca_bundle=other) as client:
        with pytest.raises(AnythingLLMConnectionError, match="TLS"):
            await client.list_workspaces()


async def test_turning_verification_off_works_and_warns(
    https_emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="anythingllm_bridge")
    async with AnythingLLMClient(https_emulator.url, https_emulator.api_key, verify_ssl=False) as client:
        assert await client.list_workspaces() == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("verify_ssl=False" in message for message in warnings), warnings


async def test_the_settings_come_from_the_environment(
    https_emulator: RunningEmulator, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYTHINGLLM_URL", https_emulator.url)
    monkeypatch.setenv("ANYTHINGLLM_API_KEY", https_emulator.api_key)
    monkeypatch.setenv("ANYTHINGLLM_CA_BUNDLE", str(bundle))
    async with create_anythingllm_client(Settings(_env_file=None)) as client:
        assert await client.list_workspaces() == []

    monkeypatch.delenv("ANYTHINGLLM_CA_BUNDLE")
    monkeypatch.setenv("ANYTHINGLLM_VERIFY_SSL", "false")
    async with create_anythingllm_client(Settings(_env_file=None)) as client:
        assert await client.list_workspaces() == []

    monkeypatch.delenv("ANYTHINGLLM_VERIFY_SSL")
    monkeypatch.setenv("VERIFY_SSL", "false")  # another tool's setting: it changes nothing here
    monkeypatch.setenv("CA_BUNDLE", str(bundle))
    async with create_anythingllm_client(Settings(_env_file=None)) as client:
        with pytest.raises(AnythingLLMConnectionError, match="TLS"):
            await client.list_workspaces()
