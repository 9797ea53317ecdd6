"""Startup time: ``allm --help`` and ``python -c "import anythingllm_bridge"``, and which optional
heavy dependencies each one loads. Target: ``allm --help`` under 0.3 s.

Times are the median of many runs, measured with hyperfine when it is installed (warm-up runs
first), else with a Python loop around ``subprocess.run``. ``python -c pass`` is measured too: the
interpreter's own start, which no package can go below. ``python -X importtime`` lists where the
import time of ``allm --help`` goes (self time summed per top-level package).

    .venv/bin/python bench/startup.py              # writes its section of bench/README.md
    .venv/bin/python bench/startup.py --no-readme --runs 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from readme_section import write_section  # noqa: E402

README = HERE / "README.md"
SECTION = "## Startup (`bench/startup.py`)"
TARGET_S = 0.3
OPTIONAL = ("aioboto3", "aiobotocore", "boto3", "botocore", "typer", "rich", "pydantic_settings")


def commands(python: str) -> dict[str, list[str]]:
    allm = str(Path(python).parent / "allm")
    return {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import anythingllm_bridge"': [python, "-c", "import anythingllm_bridge"],
        "allm --help": [allm, "--help"],
    }


def time_hyperfine(argv: list[str], runs: int) -> list[float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [
                *("hyperfine", "--shell=none", "--warmup", "3", "--runs", str(runs), "--style", "none"),
                *("--export-json", out.name, subprocess.list2cmdline(argv)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times: list[float] = json.loads(Path(out.name).read_text())["results"][0]["times"]
    return times


def time_loop(argv: list[str], runs: int) -> list[float]:
    times = []
    for index in range(runs + 3):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        if index >= 3:  # warm-up runs
            times.append(time.perf_counter() - started)
    return times


def loaded_optional(python: str, code: str) -> list[str]:
    """The optional heavy packages in ``sys.modules`` after ``code`` ran (its output is dropped)."""
    probe = (
        f"import contextlib, io, sys\nwith contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        exec({code!r})\n    except SystemExit:\n        pass\n"
        f"print(' '.join(sorted(m for m in {OPTIONAL!r} if m in sys.modules)))"
    )
    done = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True)
    return done.stdout.split()


@dataclass(frozen=True)
class Profile:
    total: float  # seconds, all self times
    packages: list[tuple[str, float]]  # self time per top-level package, heaviest first
    direct: list[tuple[str, float]]  # what CLI_MODULE imports itself, by cumulative time


CLI_MODULE = "anythingllm_bridge.cli.app"


def import_profile(python: str, code: str) -> Profile:
    """Parse ``python -X importtime``: children are printed before their parent, indented 2 more."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    entries: list[tuple[int, str, float, float]] = []  # indent, name, self, cumulative
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, raw_name = line[len("import time:") :].split("|")
        name = raw_name.rstrip()
        indent = len(name) - len(name.lstrip())
        entries.append((indent, name.strip(), int(self_us) / 1e6, int(cumulative_us) / 1e6))
    per_package: dict[str, float] = defaultdict(float)
    for _, name, self_s, _ in entries:
        per_package[name.split(".")[0]] += self_s
    direct: list[tuple[str, float]] = []
    for index, (indent, name, _, _) in enumerate(entries):
        if name == CLI_MODULE:
            for child_indent, child, _, cumulative in reversed(entries[:index]):
                if child_indent <= indent:
                    break
                if child_indent == indent + 2:
                    direct.append((child, cumulative))
    return Profile(
        total=sum(self_s for _, _, self_s, _ in entries),
        packages=sorted(per_package.items(), key=lambda item: -item[1]),
        direct=sorted(direct, key=lambda item: -item[1]),
    )


ALLM_HELP = (
    "import sys\nsys.argv = ['allm', '--help']\nfrom anythingllm_bridge.cli.app import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass"
)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB RAM, Python {platform.python_version()}, "
        f"load average at start {load} (shared machine)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", default=sys.executable, help="the venv's python (allm is next to it)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    about = machine()
    tool = "hyperfine" if shutil.which("hyperfine") else "a Python loop"
    measure = time_hyperfine if tool == "hyperfine" else time_loop
    rows = ["| command | median | min | optional packages loaded |", "| --- | ---: | ---: | --- |"]
    medians = {}
    probes = {
        "python -c pass": "pass",
        'python -c "import anythingllm_bridge"': "import anythingllm_bridge",
        "allm --help": ALLM_HELP,
    }
    for label, argv in commands(args.python).items():
        times = measure(argv, args.runs)
        medians[label] = statistics.median(times)
        loaded = loaded_optional(args.python, probes[label]) if label != "python -c pass" else []
        rows.append(
            f"| `{label}` | {medians[label] * 1000:.0f} ms | {min(times) * 1000:.0f} ms | "
            f"{', '.join(loaded) or 'none'} |"
        )
    storage_loaded = loaded_optional(args.python, "import anythingllm_bridge.storage")
    rows.append(
        f"| `import anythingllm_bridge.storage` (not timed) | | | {', '.join(storage_loaded) or 'none'} |"
    )
    profile = import_profile(args.python, ALLM_HELP)
    heaviest = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in profile.packages[:10])
    direct = ", ".join(f"`{name}` {seconds * 1000:.0f} ms" for name, seconds in profile.direct[:8])
    allm = medians["allm --help"]
    verdict = f"`allm --help`: {allm * 1000:.0f} ms, target < {TARGET_S * 1000:.0f} ms: " + (
        "met." if allm < TARGET_S else "**missed**."
    )
    text = f"""{SECTION}

What: wall time to start `allm --help` and `python -c "import anythingllm_bridge"` (median of
{args.runs} runs after 3 warm-up runs, measured with {tool}), with `python -c pass` for the interpreter's
own start; and which optional heavy packages ({", ".join(OPTIONAL)}) each one loads.
`import anythingllm_bridge` (and `.storage`) must load none of them (`tests/test_import_light.py`
checks it); `allm --help` needs typer and rich and nothing else optional. Target: `allm --help` < 0.3 s.

```bash
.venv/bin/python bench/startup.py
```

Run {dt.date.today().isoformat()} on {about}.

{chr(10).join(rows)}

{verdict} Where the import time of `allm --help` goes (`python -X importtime`, one run, so ±10 %;
it slows imports down, {profile.total * 1000:.0f} ms in all): self time summed per top-level package:
{heaviest}. What `{CLI_MODULE}` imports itself, with everything below it: {direct}.
"""
    print(text)
    if not args.no_readme:
        write_section(README, SECTION, text)


if __name__ == "__main__":
    main()
