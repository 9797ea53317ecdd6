"""Shared fixtures: ``emulator`` serves a fresh AnythingLLM emulator on 127.0.0.1 for one test;
``s3_server`` is moto's S3 server on 127.0.0.1, started once per session, and ``bucket`` a fresh
bucket on it. Helpers for tests in every folder are in support.py.

``server`` is parametrized: every test that uses it runs against the emulator and, marked
``integration``, against a real AnythingLLM when ``ANYTHINGLLM_URL`` and ``ANYTHINGLLM_API_KEY``
are set — otherwise that variant is SKIPPED, never passed. Everything a test creates on a real
server is named ``allm-test-...``, listed on the ``Server`` and removed afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from anythingllm_bridge.testing import RunningEmulator, run_emulator
from support import NEEDS_REAL, REAL_KEY, REAL_URL, S3Server, Server, make_client

EMULATOR_API_KEY = "TEST-EMULATOR-KEY"


@pytest.fixture(autouse=True, scope="session")
def _own_config_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings also read ``$XDG_CONFIG_HOME/anythingllm-bridge/config.toml``: the tests get an empty
    config folder of their own, so the developer's config file never changes what they see."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        yield


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """A running emulator with empty state; ``.url`` is the server root, ``.api_key`` its key."""
    async with run_emulator(api_key=EMULATOR_API_KEY, host="127.0.0.1", port=0) as running:
        yield running


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
    from anythingllm_bridge.errors import AnythingLLMError

    async with make_client(srv.url, srv.api_key, max_retries=1) as client:
        for slug in srv.created_workspaces:
            with contextlib.suppress(AnythingLLMError):
                await client.delete_workspace(slug)
        with contextlib.suppress(AnythingLLMError):
            await client.delete_documents_from_server(srv.created_documents)
        for folder in srv.created_folders:
            with contextlib.suppress(AnythingLLMError):
                await client.remove_folder(folder)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server mode on 127.0.0.1; each test makes its own bucket."""
    from moto.server import ThreadedMotoServer  # here: only the S3 tests pay for importing moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket."""
    return s3_server.new_bucket()
