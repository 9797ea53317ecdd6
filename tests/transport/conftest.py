from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from transport_server import LocalServer, serve


@pytest.fixture
async def local_server() -> AsyncIterator[LocalServer]:
    async with serve() as server:
        yield server
