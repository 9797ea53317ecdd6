"""Importing the library must not drag in the optional heavy dependencies: a user of the client
alone pays neither the S3 stack's import time (aioboto3/botocore: hundreds of milliseconds) nor the
CLI's (typer, rich), and does not even need them installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("aioboto3", "aiobotocore", "boto3", "botocore", "typer", "rich")


def modules_loaded_by(statement: str) -> set[str]:
    """The top-level packages of HEAVY in sys.modules after ``statement``, in a fresh interpreter."""
    probe = f"{statement}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import anythingllm_bridge",
        "import anythingllm_bridge.storage",
        "from anythingllm_bridge.storage import StorageFactory, S3StorageClient, LocalStorageClient",
        "from anythingllm_bridge import AnythingLLMClient, Settings, FileValidator, StorageClient",
    ],
)
def test_library_imports_load_no_optional_heavy_package(statement: str) -> None:
    assert modules_loaded_by(statement) == set()


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: importing the CLI does load typer and rich."""
    assert {"typer", "rich"} <= modules_loaded_by("import anythingllm_bridge.cli.app")
