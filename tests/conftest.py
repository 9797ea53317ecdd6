"""Shared fixtures: ``emulator`` serves a fresh AnythingLLM emulator on 127.0.0.1 for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from anythingllm_bridge.testing import RunningEmulator, run_emulator

EMULATOR_API_KEY = "TEST-EMULATOR-KEY"


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """A running emulator with empty state; ``.url`` is the server root, ``.api_key`` its key."""
    async with run_emulator(api_key=EMULATOR_API_KEY, host="127.0.0.1", port=0) as running:
        yield running
