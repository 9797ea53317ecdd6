"""The key-leak detector (``leakcheck``, loaded for the whole suite) really detects: unit tests of the
scanner, and inner pytest sessions that leak a key through each channel it watches."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from leakcheck import LeakScanner
from pydantic import SecretStr

HERE = Path(__file__).parent


def test_the_scanner_finds_a_key_and_never_shows_it() -> None:
    scanner = LeakScanner()
    scanner.add_secret("SCANNER-KEY-0001", "a test constant")
    assert scanner.scan("GET /v1/auth Authorization: Bearer SCANNER-KEY-0001 -> 403", where="t1", kind="logs")
    assert not scanner.scan("nothing secret here", where="t2", kind="logs")
    (finding,) = scanner.findings
    assert (finding.where, finding.kind, finding.source) == ("t1", "logs", "a test constant")
    assert finding.excerpt == "GET /v1/auth Authorization: Bearer <KEY> -> 403"
    report = "\n".join(scanner.report_lines())
    assert "t1 [logs] key from a test constant" in report
    assert "SCANNER-KEY-0001" not in report
    assert "SCANNER-KEY-0001" not in repr(scanner)


def test_short_keys_and_secret_strings() -> None:
    scanner = LeakScanner()
    scanner.add_secret("KEY", "too short")  # would match ordinary words: counted, not scanned
    scanner.add_secret(SecretStr("  SECRET-STR-VALUE  "), "a SecretStr")
    scanner.add_secret(None, "nothing")
    scanner.add_secret("", "empty")
    assert scanner.short == {"KEY"}
    assert set(scanner.secrets) == {"SECRET-STR-VALUE"}
    assert not scanner.scan("the API KEY is required", where="t", kind="logs")
    assert scanner.scan("value=SECRET-STR-VALUE", where="t", kind="logs")
    assert "1 key(s) shorter than 6 not scanned" in scanner.report_lines()[0]


def test_the_session_handler_sees_package_debug_records(caplog: pytest.LogCaptureFixture) -> None:
    """The plugin put a DEBUG handler on the root logger and made it log at DEBUG."""
    from leakcheck import _handler

    assert _handler in logging.getLogger().handlers
    assert logging.getLogger("anythingllm_bridge.anything").isEnabledFor(logging.DEBUG)


LEAKY_TESTS = """
import logging
import pytest
from anythingllm_bridge.client._transport import Transport
from anythingllm_bridge.errors import AnythingLLMError

API_KEY = "INNER-CONSTANT-KEY-1"


def test_logs_the_key():
    logging.getLogger("some.library").debug("connecting with %s", API_KEY)


def test_an_error_caught_by_the_test_carries_a_client_key():
    Transport("http://127.0.0.1:9", "INNER-TRANSPORT-KEY-2")
    with pytest.raises(AnythingLLMError):
        raise AnythingLLMError("refused for INNER-TRANSPORT-KEY-2")


def test_fails_with_the_key_in_its_message():
    raise RuntimeError("boom " + "INNER-CONSTANT-KEY-1")
"""

CLEAN_TESTS = """
import logging
from anythingllm_bridge.errors import AnythingLLMError

API_KEY = "INNER-CONSTANT-KEY-1"


def test_clean():
    logging.getLogger("anythingllm_bridge.x").debug("connecting with Bearer ***")
    assert str(AnythingLLMError("refused", method="GET", path="/v1/auth"))
"""


def run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.pop("ANYTHINGLLM_API_KEY", None)
    env["COLUMNS"] = "250"  # CI terminals are wide: the short summary then quotes whole messages
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "leakcheck", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def leak_check_section(out: str) -> str:
    """The leak check's own report: its header up to the next pytest section.

    pytest's short test summary follows it and quotes the inner failure's message (the
    key included) as wide as the terminal allows, so it must not count as the report.
    """
    after_header = out.split("API key leak check", 1)[1].split("\n", 1)[1]
    lines = after_header.splitlines()
    end = next((i for i, line in enumerate(lines) if line.startswith("====")), len(lines))
    assert end > 0, out
    return "\n".join(lines[:end])


def test_a_leaking_session_fails_and_says_where_without_the_key(tmp_path: Path) -> None:
    result = run_inner(tmp_path, LEAKY_TESTS)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "API key leak check" in out
    assert "test_inner.py::test_logs_the_key [log records] key from API_KEY in test_inner.py" in out
    assert (
        "test_inner.py::test_an_error_caught_by_the_test_carries_a_client_key [exceptions] "
        "key from the api_key of a client (Transport): refused for <KEY>" in out
    )
    assert "test_inner.py::test_fails_with_the_key_in_its_message [failure reports]" in out
    report = leak_check_section(out)
    assert "INNER-CONSTANT-KEY-1" not in report
    assert "INNER-TRANSPORT-KEY-2" not in report


def test_a_clean_session_passes_and_says_what_it_scanned(tmp_path: Path) -> None:
    result = run_inner(tmp_path, CLEAN_TESTS)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "leakcheck: none of 1 API keys appeared in" in out
    assert "log records" in out
    assert "exceptions" in out
