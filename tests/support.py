"""Shared by tests in every folder (import as ``from support import ...``; tests/ is on the path
through tests/conftest.py). Nothing heavy is imported here: conftest imports this for every test."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.client._transport import Transport

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

REAL_URL = os.environ.get("ANYTHINGLLM_URL", "")
REAL_KEY = os.environ.get("ANYTHINGLLM_API_KEY", "")
NEEDS_REAL = "needs a real AnythingLLM: set ANYTHINGLLM_URL and ANYTHINGLLM_API_KEY (make test-real)"

#: The repository's root (the folder holding pyproject.toml).
ROOT = Path(__file__).resolve().parents[1]


def shared_path(*parts: str) -> Path:
    """A file of the read-only reference material, which lives in ``../shared`` beside the repository
    (here and in CI, which clones it there): always found from the repository root, never by an
    absolute path of one machine."""
    return ROOT.parent.joinpath("shared", *parts)


#: The exchanges recorded from a real AnythingLLM 1.16.0, parsed (see ``../shared/anythingllm``).
TRANSCRIPTS = shared_path("anythingllm", "transcripts.json")
#: Mark a test that reads the recorded exchanges: skipped, alone, where ``../shared`` is absent.
needs_transcripts = pytest.mark.skipif(
    not TRANSCRIPTS.exists(),
    reason=f"the recorded transcripts are not at {TRANSCRIPTS} (../shared is absent)",
)

_bucket_names = itertools.count()


def without_dac_override() -> Callable[[], None] | None:
    """A ``preexec_fn`` for root: the child loses the capabilities that let root read any file (from
    its bounding set; an exec'ed root process gets no more), so file modes apply to it as to anyone.
    ``None`` for anyone else, to whom they apply already. ctypes is loaded here, in the parent: the
    child of a threaded process must not import."""
    if os.geteuid() != 0:
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def drop() -> None:
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return drop


def python_where_file_modes_apply(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args`` in a child process to which file modes apply: as root, without the
    capabilities that let root read any file (so a test of an unreadable file runs, and means the
    same, whoever runs the suite). ``env`` adds variables (a key goes there, not on the command
    line). Returns the finished process, output as text."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
        preexec_fn=without_dac_override(),
    )


async def until(condition: Callable[[], bool], what: str = "the condition never came true") -> None:
    """Return once ``condition()`` is true: a condition, not a duration (the 60 s bound only turns
    one that never comes true into a failure, saying ``what``, instead of a hang)."""
    try:
        async with asyncio.timeout(60):
            while not condition():  # noqa: ASYNC110 (what it reads tells no one; it is polled)
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(what) from None


async def no_sleep(_seconds: float) -> None:
    """Retry waits without waiting (tests never sleep)."""


class SleepRecorder:
    """A ``sleep`` that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def load_script(name: str, path: Path) -> ModuleType:
    """Import a script that is not on the path (bench/, .ci/) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mark(emulator: Any) -> int:
    """Where the emulator's request log stands now (for ``requests_since``)."""
    return len(emulator.emulator.faults.requests)


def requests_since(emulator: Any, start: int) -> list[Any]:
    return list(emulator.emulator.faults.requests)[start:]


def uploads(requests: list[Any]) -> int:
    """How many of ``requests`` are document uploads."""
    return sum(1 for r in requests if r.method == "POST" and r.path.startswith("/api/v1/document/upload"))


async def docpaths(client: AnythingLLMClient, slug: str) -> list[str]:
    """Every document row of the workspace, repeats kept (``Workspace.docpaths`` is a set)."""
    return [doc.docpath for doc in (await client.get_workspace(slug)).documents]


async def collect(
    transport: Transport, path: str, body: dict[str, Any], seen: list[Any] | None = None, **options: Any
) -> list[Any]:
    """The events of a POST stream, appended to ``seen`` (when given) as they arrive; ``options`` go
    to ``Transport.stream``."""
    events: list[Any] = [] if seen is None else seen
    async with aclosing(transport.stream("POST", path, json=body, **options)) as stream:
        async for event in stream:
            events.append(event)
    return events


@dataclass
class FakeClock:
    """A monotonic clock the test moves by hand (``clock.now += 30``)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class S3Server:
    """moto's S3 server (the session fixture ``s3_server``)."""

    endpoint_url: str

    def admin(self) -> Any:
        """A plain boto3 client, to set up buckets and look behind our client's back."""
        import boto3  # here: only the S3 tests pay for importing boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1", **CREDENTIALS)

    def new_bucket(self) -> str:
        """A fresh, empty bucket; its name is new in this test session."""
        name = f"bucket-{next(_bucket_names)}"
        self.admin().create_bucket(Bucket=name)
        return name


def make_client(url: str, key: str | None, **options: Any) -> AnythingLLMClient:
    """A client that never really sleeps between retries (unless ``sleep=`` says otherwise)."""
    from anythingllm_bridge.client import AnythingLLMClient

    options.setdefault("sleep", no_sleep)
    return AnythingLLMClient(url, key, **options)


@dataclass
class Server:
    """Where the tests talk to (the ``server`` fixture): the emulator (``emulator`` set) or a real
    server. What a test creates on a real server it lists here, to be removed afterwards."""

    url: str
    api_key: str = field(repr=False)  # a failure report must not show it
    emulator: Any = None
    created_workspaces: list[str] = field(default_factory=list)
    created_documents: list[str] = field(default_factory=list)
    created_folders: list[str] = field(default_factory=list)

    @property
    def is_real(self) -> bool:
        return self.emulator is None

    def name(self, label: str = "ws") -> str:
        return f"allm-test-{label}-{uuid.uuid4().hex[:8]}"
