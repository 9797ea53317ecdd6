"""pytest fixtures for testing your own code against the AnythingLLM emulator.

Installed with the package (entry point ``pytest11``, named by this module's path, which
``-p no:anythingllm_bridge.testing.pytest_plugin`` turns off), so any project that depends on
anythingllm-bridge can use them without configuration:

* ``anythingllm_emulator``: the emulator, emptied before each test: ``.url`` (the server root),
  ``.api_key``, ``.faults`` (add faults: ``.faults.add("GET", "/api/v1/workspaces", status=503)``),
  ``.requests`` (what your code sent), ``.store``, ``.reset()``; a
  :class:`~anythingllm_bridge.testing.RunningEmulator`.
* ``anythingllm_client``: an :class:`~anythingllm_bridge.AnythingLLMClient` connected to it, for
  ``async`` tests; needs pytest-asyncio (auto or strict mode).
* ``anythingllm``: a connected blocking :class:`~anythingllm_bridge.AnythingLLM`, for plain tests.
* ``anythingllm_client_options``: the keyword arguments both clients are made with (none); override
  this fixture to change them, e.g. ``{"max_retries": 0}``.

One emulator serves the whole session from a background thread with its own event loop, so it works
the same for sync and async tests whatever their event loop. This module is imported by every pytest run
in such a project, so it imports nothing heavy: the emulator and the clients are imported, and the
server started, only when a test asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLM, AnythingLLMClient
    from anythingllm_bridge.testing.runner import RunningEmulator

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # anythingllm_client then says what is missing
    HAS_PYTEST_ASYNCIO = False
else:
    HAS_PYTEST_ASYNCIO = True

__all__ = ["EMULATOR_API_KEY", "NEEDS_PYTEST_ASYNCIO"]

#: the key the session's emulator accepts (also ``anythingllm_emulator.api_key``)
EMULATOR_API_KEY = "anythingllm-emulator-test-key"

NEEDS_PYTEST_ASYNCIO = (
    "the anythingllm_client fixture needs pytest-asyncio (pip install pytest-asyncio); "
    "synchronous tests can use the anythingllm fixture instead"
)


@pytest.fixture(scope="session")
def _anythingllm_session_emulator() -> Iterator[RunningEmulator]:
    """One emulator for the session, served from a background thread."""
    from anythingllm_bridge.testing.runner import EmulatorThread

    with EmulatorThread(api_key=EMULATOR_API_KEY) as running:
        yield running


@pytest.fixture
def anythingllm_emulator(_anythingllm_session_emulator: RunningEmulator) -> RunningEmulator:
    """The AnythingLLM emulator, empty: no workspaces, documents or faults, an empty request log.

    ``.url`` is the server root (give it to your code as the AnythingLLM URL), ``.api_key`` the key it
    accepts, ``.faults`` the fault injector, ``.requests`` the requests received so far.
    """
    _anythingllm_session_emulator.reset()
    return _anythingllm_session_emulator


@pytest.fixture
def anythingllm_client_options() -> dict[str, Any]:
    """Keyword arguments for the ``anythingllm_client`` and ``anythingllm`` fixtures' clients (timeouts,
    retries, ...): none. Override this fixture in a conftest.py to change them."""
    return {}


if HAS_PYTEST_ASYNCIO:

    @_async_fixture(name="anythingllm_client")
    async def _anythingllm_client(
        anythingllm_emulator: RunningEmulator, anythingllm_client_options: dict[str, Any]
    ) -> AsyncIterator[AnythingLLMClient]:
        """An ``AnythingLLMClient`` connected to the emulator (closed after the test)."""
        from anythingllm_bridge.client import AnythingLLMClient

        client = AnythingLLMClient(
            anythingllm_emulator.url, anythingllm_emulator.api_key, **anythingllm_client_options
        )
        async with client:
            yield client

else:

    @pytest.fixture(name="anythingllm_client")
    def _anythingllm_client_needs_pytest_asyncio() -> None:
        """Fails the test: an async client needs an event loop, which pytest-asyncio provides."""
        pytest.fail(NEEDS_PYTEST_ASYNCIO, pytrace=False)


@pytest.fixture
def anythingllm(
    anythingllm_emulator: RunningEmulator, anythingllm_client_options: dict[str, Any]
) -> Iterator[AnythingLLM]:
    """A blocking ``AnythingLLM`` client connected to the emulator (closed after the test)."""
    from anythingllm_bridge.client import AnythingLLM

    options = anythingllm_client_options
    with AnythingLLM(anythingllm_emulator.url, anythingllm_emulator.api_key, **options) as llm:
        yield llm
