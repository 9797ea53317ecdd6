"""Fixtures of the client tests.

``server`` is parametrized: every test that uses it (through ``client`` / ``workspace``) runs
against the emulator and, marked ``integration``, against a real AnythingLLM when
``ANYTHINGLLM_URL`` and ``ANYTHINGLLM_API_KEY`` are set — otherwise that variant is SKIPPED,
never passed. Tests that need fault injection ask for ``emulator`` (and ``emu_client``) directly.
Everything a test creates on a real server is named ``allm-test-...`` and removed afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from client_helpers import NEEDS_REAL, REAL_KEY, REAL_URL, Server, make_client

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from anythingllm_bridge.errors import AnythingLLMError
from anythingllm_bridge.testing import run_emulator


@pytest.fixture(params=["emulator", pytest.param("real", marks=pytest.mark.integration)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    if request.param == "real":
        if not (REAL_URL and REAL_KEY):
            pytest.skip(NEEDS_REAL)
        srv = Server(REAL_URL, REAL_KEY)
        yield srv
        await _cleanup(srv)
    else:
        async with run_emulator(api_key="TEST-CLIENT-KEY", host="127.0.0.1", port=0) as running:
            yield Server(running.url, running.api_key, emulator=running.emulator)


async def _cleanup(srv: Server) -> None:
    async with make_client(srv.url, srv.api_key, max_retries=1) as client:
        for slug in srv.created_workspaces:
            with contextlib.suppress(AnythingLLMError):
                await client.delete_workspace(slug)
        with contextlib.suppress(AnythingLLMError):
            await client.delete_documents_from_server(srv.created_documents)
        for folder in srv.created_folders:
            with contextlib.suppress(AnythingLLMError):
                await client.remove_folder(folder)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AnythingLLMClient]:
    async with make_client(server.url, server.api_key) as connected:
        yield connected


@pytest.fixture
async def workspace(client: AnythingLLMClient, server: Server) -> Workspace:
    """A fresh, empty workspace (removed afterwards on a real server)."""
    created = await client.create_workspace(server.name(), similarity_threshold=0.0, chat_mode="chat")
    server.created_workspaces.append(created.workspace.slug)
    return created.workspace


@pytest.fixture
async def emu_client(emulator: Any) -> AsyncIterator[AnythingLLMClient]:
    """A client of the emulator, for tests that inject faults."""
    async with make_client(emulator.url, emulator.api_key) as connected:
        yield connected


@pytest.fixture
async def emu_workspace(emu_client: AnythingLLMClient) -> Workspace:
    created = await emu_client.create_workspace("Fault Tests", similarity_threshold=0.0, chat_mode="chat")
    return created.workspace
