"""Fixtures of the client tests.

``client`` and ``workspace`` talk to the ``server`` of tests/conftest.py: the emulator and, marked
``integration``, a real AnythingLLM. Tests that need fault injection ask for ``emulator`` (and
``emu_client``) directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient, Workspace
from support import Server, make_client


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
