"""Ways to serve the emulator: the async context manager, a background thread, and the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import aiohttp
import pytest

from anythingllm_bridge.testing import Emulator, EmulatorThread, RunningEmulator, run_emulator


def _get(url: str, key: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_run_emulator_serves_on_loopback_and_stops() -> None:
    async with run_emulator(api_key="K-1") as running:
        assert isinstance(running, RunningEmulator)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url)
        assert running.api_key == "K-1"
        assert "K-1" not in repr(running)
        async with aiohttp.ClientSession() as session, session.get(running.url + "/api/ping") as resp:
            assert await resp.json() == {"online": True}
        url = running.url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url + "/api/ping")


async def test_each_emulator_has_its_own_state() -> None:
    first, second = Emulator("K"), Emulator("K")
    async with run_emulator(emulator=first) as a, run_emulator(emulator=second) as b:
        assert a.emulator is first
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer K"}) as session:
            await session.post(a.url + "/api/v1/workspace/new", json={"name": "Only Here"})
            async with session.get(b.url + "/api/v1/workspaces") as resp:
                assert await resp.json() == {"workspaces": []}
    assert [w.slug for w in first.store.workspaces.values()] == ["only-here"]


def test_the_same_seed_gives_the_same_ids() -> None:
    ids = []
    for _ in range(2):
        with EmulatorThread(emulator=Emulator("K", seed=7)) as running:
            request = urllib.request.Request(
                running.url + "/api/v1/workspace/new",
                data=b'{"name": "Twin"}',
                headers={"Authorization": "Bearer K", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).read()
            urllib.request.urlopen(request, timeout=10).read()
            ids.append([w.slug for w in running.emulator.store.workspaces.values()])
    assert ids[0] == ids[1]
    assert ids[0][0] == "twin"


def test_emulator_thread_serves_synchronous_code() -> None:
    with EmulatorThread(api_key="SYNC-KEY") as running:
        assert _get(running.url + "/api/v1/auth", "SYNC-KEY") == (200, {"authenticated": True})
        assert _get(running.url + "/api/v1/auth", "WRONG") == (403, {"error": "No valid api key found."})
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(running.url + "/api/ping", timeout=5)


def test_stopping_an_emulator_thread_twice_or_before_it_starts_does_nothing() -> None:
    never_started = EmulatorThread(api_key="K")
    never_started.stop()
    thread = EmulatorThread(api_key="K")
    with thread as running:
        thread.stop()  # stopped inside the with-block: leaving it stops again
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(running.url + "/api/ping", timeout=5)
    thread.stop()  # its loop is closed by now: no "Event loop is closed"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(running.url + "/api/ping", timeout=5)


def test_the_command_line_refuses_a_bad_key_in_one_line_without_echoing_it() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "anythingllm_bridge.testing.emulator",
            "--port",
            "0",
            "--api-key",
            "my secret",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith("error: --api-key: api_key must be a non-empty string without spaces")
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr


def test_a_bad_api_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="api_key") as caught:
        Emulator("has space")
    assert "has space" not in str(caught.value)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_command_line_serves_until_interrupted(signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "anythingllm_bridge.testing.emulator", "--port", "0", "--api-key", "CLI-KEY"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert found, line
        url = found.group(1)
        assert _get(url + "/api/ping") == (200, {"online": True})
        assert _get(url + "/api/v1/auth", "CLI-KEY") == (200, {"authenticated": True})
        process.send_signal(signum)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        assert "CLI-KEY" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_command_line_needs_a_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anythingllm_bridge.testing.emulator", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "ANYTHINGLLM_EMULATOR_API_KEY"},
    )
    assert result.returncode == 2
    assert "--api-key is required" in result.stderr
