"""Side by side, in one run: our client, apything and a bare aiohttp loop (the ceiling) against the
emulator on 127.0.0.1. Run through ``bench/compare/run.sh`` (it builds the bench venv first).

Tasks: (a) upload 200 small files and embed them into a workspace, (b) 100 non-streamed chats,
(c) 200 vector searches; each contender at concurrency 1 and 8. Every contender has its own fresh
emulator process (its CPU and memory are not the contender's; its workspaces are made with a plain
POST), and each task runs in its own contender process (so its peak RSS is its own). After a warm-up,
the contenders' timed rounds are interleaved (A B C, B C A, ...) so that load from elsewhere on the
machine hits them alike; the table keeps the median round.

    bench/compare/run.sh                          # 15 rounds (~1.5 min on 2 cores), writes bench/README.md
    bench/compare/run.sh --rounds 3 --no-readme   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from readme_section import write_section  # noqa: E402  (bench/readme_section.py)

README = HERE.parent / "README.md"
SECTION = "## Side-by-side comparison (`bench/compare`)"
KEY = "BENCH-COMPARE-KEY"
TASKS = ("upload", "chat", "search")
CONTENDERS = ("ours", "apything", "aiohttp")
LABELS = {"ours": "anythingllm-bridge", "apything": "apything 0.2.0", "aiohttp": "bare aiohttp (ceiling)"}
WARMUP = 16  # warm-up operations per task, at the same concurrency
CEILING_TARGET = 0.85

TOPICS = [
    *("zorblax", "quasar", "nebula", "pulsar", "comet", "aurora", "meteor", "eclipse", "parallax"),
    *("redshift", "spectrograph", "magnetar", "asteroid", "corona", "photon", "neutrino", "galaxy"),
    *("cluster", "binary", "supernova", "telescope", "mirror", "eyepiece", "observatory", "dome"),
    *("mount", "tracking", "guider", "filter", "sensor"),
]
PLACES = ["the ridge", "the valley", "the summit", "the harbour", "the desert", "the plateau", "the island"]
VERBS = ["orbits", "outshines", "eclipses", "calibrates", "tracks", "focuses", "records", "outlasts"]


# ------------------------------------------------------------------------------ inputs


def make_corpus(folder: Path, count: int, prefix: str, rng: random.Random) -> list[str]:
    """``count`` small text files (~1 KiB each) built from a fixed vocabulary."""
    paths = []
    for i in range(count):
        lines = [f"Field note {prefix}-{i:03d}."]
        for _ in range(12):
            a, b = rng.sample(TOPICS, 2)
            lines.append(f"The {a} {rng.choice(VERBS)} the {b} near {rng.choice(PLACES)}.")
        path = folder / f"{prefix}-{i:03d}.txt"
        path.write_text(" ".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def make_questions(count: int, rng: random.Random) -> list[str]:
    return [
        f"What {rng.choice(VERBS)} the {rng.choice(TOPICS)} near {rng.choice(PLACES)}?" for _ in range(count)
    ]


# ------------------------------------------------------------------------------ the emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the emulator process so far (clock-tick resolution)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def emulator(log: Path) -> Iterator[Server]:
    """A fresh emulator process on a free 127.0.0.1 port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "anythingllm_bridge.testing.emulator"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--api-key", KEY]
    with open(log, "ab") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http(url + "/api/ping")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start; see {log}") from None
                time.sleep(0.05)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def create_workspace(url: str, name: str) -> str:
    return str(http(url + "/api/v1/workspace/new", "POST", {"name": name})["workspace"]["slug"])


# ------------------------------------------------------------------------------ running


@dataclass
class Cell:
    task: str
    contender: str
    concurrency: int
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    by_round: dict[int, float] = field(default_factory=dict)  # round -> wall, ok rounds only
    server_cpu: float = 0.0  # summed over the ok rounds
    rss: float | None = None
    requests: int = 0
    supported: bool = True
    why: str = ""
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None


class Child:
    """A contenders.py process: one JSON command line in, one JSON line out."""

    def __init__(self, spec: dict[str, Any], log: Path) -> None:
        self.log = log
        with open(log, "ab") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "contenders.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                bufsize=1,
            )
        self.hello = self.ask(json.dumps(spec))

    def ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            self.process.wait(timeout=10)
            tail = self.log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"contender process died (exit {self.process.returncode}): {tail}")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> dict[str, Any]:
        final = self.ask("exit") if self.hello.get("supported", True) else {}
        self.process.wait(timeout=30)
        return final


def run_all(args: argparse.Namespace, work: Path) -> dict[tuple[str, str, int], Cell]:
    rng = random.Random(7)
    files = make_corpus(work, args.files, "note", rng)
    warmup_files = make_corpus(work, WARMUP, "warm", rng)
    inputs: dict[str, dict[str, list[str]]] = {"upload": {"files": files, "warmup_files": warmup_files}}
    for task, count in (("chat", args.chats), ("search", args.searches)):
        inputs[task] = {
            "messages": make_questions(count, rng),
            "warmup_messages": make_questions(WARMUP, rng),
        }
    cells = {(t, n, c): Cell(t, n, c) for t in args.tasks for c in args.concurrency for n in args.contenders}
    log = work / "stderr.log"
    for c in args.concurrency:
        with ExitStack() as stack:
            bases, servers = {}, {}
            for name in args.contenders:  # each contender its own fresh emulator
                servers[name] = server = stack.enter_context(emulator(log))
                url = server.url
                bases[name] = {
                    "url": url,
                    "key": KEY,
                    "contender": name,
                    "concurrency": c,
                    "workspaces": [create_workspace(url, f"bench {r}") for r in range(args.rounds)],
                    "warmup_workspace": create_workspace(url, "warm-up"),
                }
            for task in args.tasks:
                children = {}
                for name in args.contenders:
                    child = Child({**bases[name], **inputs[task], "task": task}, log)
                    if child.hello.get("supported", True):
                        children[name] = child
                    else:
                        cell = cells[(task, name, c)]
                        cell.supported, cell.why = False, child.hello["why"]
                        child.close()
                for name, child in children.items():
                    warm = child.ask("warm")
                    if not warm["ok"]:
                        cells[(task, name, c)].failures.append(f"warm-up: {warm['error'] or 'wrong result'}")
                names = list(children)
                for r in range(args.rounds):  # interleaved, rotating: load drift hits everyone alike
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        cell, server_cpu = cells[(task, name, c)], servers[name].cpu_seconds()
                        outcome = children[name].ask(f"go {r}")
                        server_cpu = servers[name].cpu_seconds() - server_cpu
                        if args.verbose:
                            print(f"    {task} c={c} round {r} {name}: {outcome}", file=sys.stderr)
                        cell.requests = outcome["requests"]
                        if outcome["ok"]:
                            cell.walls.append(outcome["wall"])
                            cell.by_round[r] = outcome["wall"]
                            cell.cpus.append(outcome["cpu"])
                            cell.server_cpu += server_cpu
                        else:
                            cell.failures.append(outcome["error"] or "wrong result")
                for name, child in children.items():
                    final = child.close()
                    cells[(task, name, c)].rss = final.get("rss_mib")
                    cells[(task, name, c)].notes = final.get("notes", [])
                summary = ", ".join(f"{n} {cells[(task, n, c)].wall or float('nan'):.3f} s" for n in children)
                print(f"  c={c} {task}: median {summary}", file=sys.stderr, flush=True)
    return cells


# ------------------------------------------------------------------------------ the table


def paired_ratio(reference: Cell | None, cell: Cell) -> float | None:
    """Median over the rounds of reference wall ÷ this wall. The two ran one after the other in
    each round, so they saw the same load: steadier than a ratio of medians."""
    if reference is None or not reference.supported:
        return None
    pairs = [reference.by_round[r] / wall for r, wall in cell.by_round.items() if r in reference.by_round]
    return statistics.median(pairs) if pairs else None


def show(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(cells: dict[tuple[str, str, int], Cell]) -> tuple[str, list[str], list[str]]:
    """The markdown table, the missed targets, and the notes the contender processes reported."""
    rows = [
        "| task | contender | conc. | requests | wall s, median (p25–p75) | req/s | speed ÷ ceiling "
        "| speed ÷ apything | client CPU µs/req | server CPU µs/req | peak RSS MiB | notes |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    missed: list[str] = []
    reported: list[str] = []
    titles = {"upload": "(a) upload + embed", "chat": "(b) chat", "search": "(c) vector search"}
    for (task, name, c), cell in cells.items():
        ceiling = cells.get((task, "aiohttp", c))
        peer = cells.get((task, "apything", c))
        vs_ceiling, vs_peer = paired_ratio(ceiling, cell), paired_ratio(peer, cell)
        wall = cell.wall
        notes = ["workspace made by a plain POST (see above)"] if cell.notes else []
        reported.extend(note for note in cell.notes if note not in reported)
        if cell.failures:
            notes.append(f"{len(cell.failures)} failed round(s): {cell.failures[0]}")
        label = f"| {titles[task]} | {LABELS[name]} | {c} |"
        if not cell.supported:
            rows.append(f"{label} — | cannot: {cell.why} | — | — | — | — | — | — | |")
            continue
        if wall is None:
            rows.append(f"{label} — | FAILED | — | — | — | — | — | — | {'; '.join(notes)} |")
            if name == "ours":
                missed.append(f"{task} c={c}: our client failed: {'; '.join(notes)}")
            continue
        quartiles = statistics.quantiles(cell.walls, n=4) if len(cell.walls) > 1 else [wall, wall, wall]
        spread = f"{wall:.3f} ({quartiles[0]:.3f}–{quartiles[2]:.3f})"
        rss = f"{cell.rss:.1f}" if cell.rss else "—"
        cpu = f"{statistics.median(cell.cpus) / cell.requests * 1e6:.0f}"
        server = f"{cell.server_cpu / (cell.requests * len(cell.walls)) * 1e6:.0f}"
        rows.append(
            f"{label} {cell.requests} | {spread} | {cell.requests / wall:.0f} | "
            f"{show(vs_ceiling)} | {'n/a' if peer and not peer.supported else show(vs_peer)} | {cpu} | "
            f"{server} | {rss} | {'; '.join(notes)} |"
        )
        if name == "ours":
            if vs_ceiling is not None and vs_ceiling < CEILING_TARGET:
                missed.append(
                    f"{task} c={c}: {vs_ceiling:.2f} of the ceiling's speed (target ≥ {CEILING_TARGET})"
                )
            if vs_peer is not None and vs_peer <= 1:
                missed.append(f"{task} c={c}: not ahead of apything ({vs_peer:.2f}×)")
    return "\n".join(rows), missed, reported


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    packages = ("aiohttp", "pydantic", "apything", "requests")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    load = load_average()
    return (
        f"{os.cpu_count()} cores ({model}), {mem_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}; {versions}; load average at start {load} (shared machine)"
    )


def recorded_options(argv: list[str]) -> list[str]:
    """The command-line options that change the results (not --raw FILE, --verbose, --no-readme)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--raw":
            skip = True
        elif not arg.startswith(("--raw=", "--verbose", "--no-readme")):
            kept.append(arg)
    return kept


def section(
    body: str, missed: list[str], reported: list[str], args: argparse.Namespace, about: str, seconds: float
) -> str:
    verdict = (
        "Targets met: our client is ahead of apything on every task it can do and within 15 % of the "
        "bare-aiohttp ceiling (speed ÷ ceiling ≥ 0.85) at both concurrencies."
        if not missed
        else "Missed targets (causes, profile and the fix: `bench/compare/README.md`):\n"
        + "\n".join(f"- {m}" for m in missed)
    )
    probe = "; ".join(reported) or "nothing"
    command = " ".join(["bench/compare/run.sh", *recorded_options(args.argv)])
    return f"""{SECTION}

What: the same three jobs done by anythingllm-bridge, by apything (the existing PyPI client, installed
only in the bench venv) and by a bare `aiohttp.ClientSession` loop sending the same requests (the
ceiling), each at concurrency 1 and 8, against the emulator on 127.0.0.1: (a) upload {args.files} small
files (~1 KiB) and embed them into a workspace, (b) {args.chats} non-streamed chats, (c) {args.searches}
vector searches (topN 4) in that workspace.

How: each contender has its own fresh emulator process (its CPU and memory not counted); each task
runs in its own contender process (peak RSS = `ru_maxrss` of that process, interpreter and imports
included), which first does {WARMUP} warm-up operations at the same concurrency. Then {args.rounds} timed
rounds per contender, interleaved and rotating (A B C, B C A, …) so that load from other work on this
shared machine hits all contenders alike; uploads of round r go to workspace r, chats and searches use
the first workspace. Wall time = median round (interquartile range in brackets); speed ÷ ceiling =
median over the rounds of ceiling wall ÷ wall in the same round (1.00 = as fast as bare aiohttp);
speed ÷ apything likewise with apything's wall, same concurrency. Client CPU = user + system CPU
time of the contender process per request (median round), steadier than wall time when the machine
is shared; server CPU = the emulator process's CPU time per request (`/proc`, 10 ms ticks, summed
over the rounds): what each contender's requests cost the server.

Same requests for ours and the ceiling: upload = GET workspace, one multipart upload per file with
`addToWorkspaces`, GET workspace (the embedding check `upload_documents` makes); chat = `POST …/chat`
with message, mode, sessionId; search = `POST …/vector-search`. Our client:
`upload_documents(concurrency=N)`, `chat()`, `search_workspace()`, with `max_concurrency` and
`max_connections_per_host` set to N (the ceiling's connector gets `limit_per_host=N`). apything is
synchronous: concurrency 1 = its documented sequential use, 8 = 8 threads with one `APIClient` each;
it uploads with `documents.upload_file` and embeds with one `workspaces.update_embeddings` (as its
`ChatSession.embed` does), so it sends {args.files + 1} requests for (a); it has no vector search.
Asked in this run to make and read a workspace itself, apything reported: {probe}. So every
contender's workspaces are made with a plain `POST /v1/workspace/new`.

```bash
{command}
```

Run {dt.date.today().isoformat()} ({seconds:.0f} s) on {about}; load average at the end {load_average()}.

{body}

{verdict}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per contender and task")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument("--verbose", action="store_true", help="print every round")
    parser.add_argument("--raw", metavar="FILE", help="also write every round's times to FILE (JSON)")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if "upload" not in args.tasks:  # chat and search run in the workspace the upload phase fills
        args.tasks.insert(0, "upload")
    args.tasks = [task for task in TASKS if task in args.tasks]
    about = machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        cells = run_all(args, Path(tmp))
    if args.raw:
        raw = {f"{t} {n} c={c}": {"walls": x.by_round, "cpus": x.cpus} for (t, n, c), x in cells.items()}
        Path(args.raw).write_text(json.dumps(raw, indent=1))
    body, missed, reported = table(cells)
    text = section(body, missed, reported, args, about, time.perf_counter() - started)
    print(text)
    if not args.no_readme:
        write_section(README, SECTION, text)
        print(f"written to {README.relative_to(HERE.parent.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
