"""Helpers of the CLI tests: the real ``allm`` entry point, run as a subprocess (``python -m
anythingllm_bridge.cli``) against the emulator on 127.0.0.1, in a fresh home folder: what a person at a
terminal would get."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import without_dac_override as without_dac_override  # re-exported: the CLI tests use it

KEY = "CLI-TEST-KEY"


def environment(home: Path, url: str, key: str | None) -> dict[str, str]:
    """The variables ``allm`` runs with: none of the caller's settings, a home, state and config
    folder of its own, retries without waiting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYTHINGLLM_", "AWS_", "S3_"))}
    env.update(
        ANYTHINGLLM_URL=url,
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        ANYTHINGLLM_BASE_DELAY="0",
        ANYTHINGLLM_MAX_DELAY="0",
        COLUMNS="200",
    )
    if key is not None:
        env["ANYTHINGLLM_API_KEY"] = key
    return env


def start_allm(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``allm ARGS`` started in the background, its output in pipes (for Ctrl-C tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", "anythingllm_bridge.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


class Allm:
    """Runs ``allm`` and returns the finished process (``returncode``, ``stdout``, ``stderr``)."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home

    def __call__(
        self,
        *args: str,
        key: str | None = KEY,
        url: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment_ = environment(self.home, url or self.url, key)
        environment_.update(env or {})
        result = subprocess.run(
            [sys.executable, "-m", "anythingllm_bridge.cli", *args],
            stdin=subprocess.DEVNULL,  # never a terminal: confirmations need --yes
            capture_output=True,
            text=True,
            env=environment_,
            cwd=cwd or self.home,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, f"allm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return json.loads(self(*args, "--json", env=env).stdout)


def one_line_error(
    result: subprocess.CompletedProcess[str], *words: str, code: int = 1, after: int = 0
) -> str:
    """The single ``error: ...`` line on stderr, after checking the exit code and that there is no
    traceback and no API key; ``words`` must all be in it. ``after``: how many lines of progress
    (none of them an error) come before it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == after + 1, result.stderr
    assert not any(line.startswith("error: ") for line in lines[:after]), result.stderr
    line = lines[-1]
    assert line.startswith("error: ")
    for word in words:
        assert word in line, line
    assert KEY not in line
    return line
