"""TLS: verify_ssl and ca_bundle, against the emulator served over HTTPS on 127.0.0.1 (trustme CA)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.errors import AnythingLLMConnectionError, ConfigurationError
from anythingllm_bridge.testing import run_emulator
from support import SleepRecorder

KEY = "TLS-TEST-KEY"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_url(ca: trustme.CA) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with run_emulator(api_key=KEY, ssl_context=context) as running:
        yield running.url


async def ping(url: str, config: ClientConfig, sleep: SleepRecorder | None = None) -> int:
    transport = Transport(url, KEY, config, sleep=sleep or SleepRecorder())
    await transport.open()
    try:
        return (await transport.request("GET", "/v1/auth")).status
    finally:
        await transport.close()


async def test_ca_bundle_makes_a_private_ca_trusted(https_url: str, ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    assert await ping(https_url, ClientConfig(ca_bundle=bundle)) == 200


async def test_verify_ssl_false_accepts_any_certificate(https_url: str) -> None:
    assert await ping(https_url, ClientConfig(verify_ssl=False)) == 200


async def test_an_untrusted_certificate_fails_at_once_naming_the_settings(https_url: str) -> None:
    sleep = SleepRecorder()
    with pytest.raises(AnythingLLMConnectionError, match="verify_ssl / ca_bundle"):
        await ping(https_url, ClientConfig(), sleep)
    assert sleep.waits == []  # a configuration problem is not retried


async def test_a_missing_or_bad_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    transport = Transport("https://127.0.0.1:1", KEY, ClientConfig(ca_bundle=tmp_path / "nope.pem"))
    with pytest.raises(ConfigurationError, match="not a readable file"):
        await transport.open()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    transport = Transport("https://127.0.0.1:1", KEY, ClientConfig(ca_bundle=garbage))
    with pytest.raises(ConfigurationError, match="not a PEM certificate file"):
        await transport.open()
