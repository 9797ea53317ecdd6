"""``make audit``: pip-audit over the locked dependencies (``requirements/lock.txt``, exactly what
``make test`` installs), with a verdict CI can trust.

* a known vulnerability in any locked package: the list, exit 1 (CI fails);
* the audit could not run (pip-audit missing, the vulnerability service unreachable, or it answered for
  none of the packages — pip-audit then says "No known vulnerabilities found" although it checked
  nothing): one line ``audit could not run: <reason>``, exit 0 (CI goes on, the line is in its output);
* otherwise: how many packages were audited, exit 0.

``python .ci/audit.py --from-json FILE`` judges a saved ``pip-audit --format json`` report instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "lock.txt"
COMMAND = [
    sys.executable,
    "-m",
    "pip_audit",
    "--requirement",
    str(LOCK),
    "--no-deps",  # the lock already names every dependency, pinned
    "--disable-pip",  # so nothing needs resolving or installing
    "--format",
    "json",
    "--progress-spinner",
    "off",
]


def verdict(report: Any) -> tuple[int, list[str]]:
    """Exit code and lines for one pip-audit JSON report."""
    dependencies = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(dependencies, list):
        return 0, ["audit could not run: pip-audit gave no list of dependencies"]
    audited = [d for d in dependencies if isinstance(d, dict) and not d.get("skip_reason")]
    skipped = [d for d in dependencies if isinstance(d, dict) and d.get("skip_reason")]
    findings = [(d, v) for d in audited for v in d.get("vulns") or []]
    if findings:
        lines = [f"audit: {len(findings)} known vulnerabilit(y/ies) in the locked dependencies:"]
        for dep, vuln in findings:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(f"  {dep.get('name')} {dep.get('version')}: {vuln.get('id')} (fixed in: {fixes})")
        return 1, lines
    if not audited:
        reason = skipped[0]["skip_reason"] if skipped else "no locked packages were listed"
        return 0, [
            f"audit could not run: the vulnerability service answered for none of the {len(skipped)} "
            f"locked packages (first: {reason}); this machine probably reaches PyPI's package index "
            "but not its JSON API"
        ]
    names = ", ".join(str(d["name"]) for d in skipped)
    note = f"; {len(skipped)} could not be audited: {names}" if skipped else ""
    return 0, [f"audit: {len(audited)} locked packages audited, no known vulnerabilities{note}"]


def run() -> tuple[int, list[str]]:
    try:
        done = subprocess.run(COMMAND, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return 0, ["audit could not run: pip-audit took more than 10 minutes"]
    if "No module named pip_audit" in done.stderr:
        return 0, ["audit could not run: pip-audit is not installed (pip install -e '.[dev]')"]
    try:
        report = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return 0, [f"audit could not run: {last}"]
    return verdict(report)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--from-json"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as handle:
            code, lines = verdict(json.load(handle))
    else:
        code, lines = run()
    print("\n".join(lines), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
