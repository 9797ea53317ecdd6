"""Shared fixtures: ``emulator`` serves a fresh AnythingLLM emulator on 127.0.0.1 for one test;
``moto_s3_endpoint`` is moto's S3 server on 127.0.0.1, started once per session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from anythingllm_bridge.testing import RunningEmulator, run_emulator

EMULATOR_API_KEY = "TEST-EMULATOR-KEY"


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """A running emulator with empty state; ``.url`` is the server root, ``.api_key`` its key."""
    async with run_emulator(api_key=EMULATOR_API_KEY, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture(scope="session")
def moto_s3_endpoint() -> Iterator[str]:
    """The endpoint URL of moto's S3 server mode on 127.0.0.1; each test makes its own bucket."""
    from moto.server import ThreadedMotoServer  # here: only the S3 tests pay for importing moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
