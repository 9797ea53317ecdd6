"""Fixtures of the CLI tests: the emulator (one per test module), a blocking client on it, a fresh
home folder, and ``allm`` to run the command line there (see cli_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import KEY, Allm

from anythingllm_bridge.client import AnythingLLM
from anythingllm_bridge.testing import EmulatorThread


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with EmulatorThread(api_key=KEY) as running:
        yield running


@pytest.fixture
def api(emu: Any) -> Iterator[AnythingLLM]:
    """A blocking client to look at the emulator's state behind the CLI's back."""
    with AnythingLLM(emu.url, KEY) as client:
        yield client


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def allm(emu: Any, home: Path) -> Allm:
    return Allm(emu.url, home)
