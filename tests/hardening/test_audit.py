"""``make audit`` (``.ci/audit.py``): a real finding fails CI; an audit that could not run says so in one
line and does not; a clean audit says how much it checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from support import load_script

SCRIPT = Path(__file__).parents[2] / ".ci" / "audit.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    return load_script("ci_audit", SCRIPT)


CLEAN = {"name": "aiohttp", "version": "3.14.5", "vulns": []}
SKIPPED = {"name": "aioboto3", "skip_reason": "Dependency not found on PyPI and could not be audited"}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "description": "..."}],
}


def test_a_known_vulnerability_fails(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, VULNERABLE, SKIPPED]})
    assert code == 1
    assert lines[1] == "  jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3)"


def test_an_audit_that_checked_nothing_could_not_run(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [SKIPPED, {**SKIPPED, "name": "aiohttp"}]})
    assert code == 0
    assert lines[0].startswith("audit could not run: the vulnerability service answered for none of the 2")


@pytest.mark.parametrize("report", [None, [], {"dependencies": "x"}, {}])
def test_a_report_without_dependencies_could_not_run(audit: ModuleType, report: Any) -> None:
    assert audit.verdict(report) == (0, ["audit could not run: pip-audit gave no list of dependencies"])


def test_a_clean_audit_says_what_it_checked(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, SKIPPED]})
    assert code == 0
    assert lines == [
        "audit: 1 locked packages audited, no known vulnerabilities; 1 could not be audited: aioboto3"
    ]


def test_the_script_exits_1_on_a_saved_report_with_a_finding(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": [VULNERABLE]}))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--from-json", str(report)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "GHSA-h5c8-rqwp-cp95" in done.stdout
