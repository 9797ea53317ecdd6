"""The objects a user prints or logs while debugging never show the API key: client, sync facade,
transport, configuration, settings, the emulator and what its request log recorded, errors."""

from __future__ import annotations

import pytest

from anythingllm_bridge.client import AnythingLLM, AnythingLLMClient
from anythingllm_bridge.client._transport import ClientConfig, Transport
from anythingllm_bridge.config import Settings
from anythingllm_bridge.errors import AnythingLLMAuthenticationError
from anythingllm_bridge.testing import RunningEmulator

REPR_API_KEY = "REPR-CHECK-API-KEY-77"


def shown(value: object) -> str:
    return f"{value!s} {value!r}"


async def test_client_transport_and_settings_hide_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    client = AnythingLLMClient("http://127.0.0.1:9", REPR_API_KEY)
    transport = Transport("http://127.0.0.1:9", REPR_API_KEY, ClientConfig())
    monkeypatch.setenv("ANYTHINGLLM_API_KEY", REPR_API_KEY)
    settings = Settings(_env_file=None)
    for value in (client, transport, client.config, settings, settings.model_dump(), client.breaker):
        assert REPR_API_KEY not in shown(value)
    assert settings.anythingllm_api_key is not None
    assert settings.anythingllm_api_key.get_secret_value() == REPR_API_KEY


def test_the_sync_facade_hides_the_key() -> None:
    with AnythingLLM("http://127.0.0.1:9", REPR_API_KEY) as facade:
        assert REPR_API_KEY not in shown(facade)


async def test_the_emulator_and_its_request_log_hide_the_key(emulator: RunningEmulator) -> None:
    async with AnythingLLMClient(emulator.url, emulator.api_key) as client:
        await client.list_workspaces()
    wrong = AnythingLLMClient(emulator.url, REPR_API_KEY)
    async with wrong:
        with pytest.raises(AnythingLLMAuthenticationError) as caught:
            await wrong.list_workspaces()
    faults = emulator.emulator.faults
    for key in (emulator.api_key, REPR_API_KEY):
        assert key not in shown(emulator)
        assert key not in shown(emulator.emulator)
        assert key not in shown(faults.requests)
        assert key not in str([r.to_dict() for r in faults.requests])
        assert key not in shown(caught.value)
    assert faults.requests[-1].headers["Authorization"] == f"Bearer {REPR_API_KEY}"  # it was sent
