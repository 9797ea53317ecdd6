"""``api``: a plain aiohttp client bound to a fresh emulator (our own client is not used here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_api import Api

from anythingllm_bridge.testing import RunningEmulator


@pytest.fixture
async def api(emulator: RunningEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(emulator, session)
