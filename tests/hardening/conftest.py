"""Hardening tests: soak, hostile input, TLS, key leaks. Lines tests add to
``hardening_support.SUMMARY`` are printed at the end of the run, whatever the verbosity."""

from __future__ import annotations

from typing import Any

from hardening_support import SUMMARY


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    for line in SUMMARY:
        terminalreporter.line(line)
