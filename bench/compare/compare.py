"""Side by side, in one run: our client (``upload_documents`` and ``allm sync``), apything and a bare
aiohttp loop (the ceiling), against a real AnythingLLM or against the emulator. Run through
``bench/compare/run.sh`` (it builds the bench venv first).

    bench/compare/run.sh --url http://127.0.0.1:3001 --key KEY   # a real server (or the environment's
                                                                 # ANYTHINGLLM_URL, ANYTHINGLLM_API_KEY)
    bench/compare/run.sh --latency-profile real-1.16             # emulators answering like that server
    bench/compare/run.sh                                         # emulators at their own speed
    bench/compare/run.sh --rounds 1 --files 120 --no-mixed --no-readme   # a quick look

Tasks: bulk ingest of small text files (120 and 600 by default) and of a mixed corpus (PDF, DOCX,
Markdown, CSV, JSON, 10 KB–5 MB); chat; streamed chat (time to the first token); vector search.
Against a real server every contender works in workspaces of its own (new for every ingest round,
deleted afterwards with every document it uploaded; chats and searches share one prepared workspace);
against emulators every contender has its own emulator process. Rounds are interleaved and rotate
(A B C D, B C D A, ...) so that load from elsewhere on the machine hits all contenders alike.

Each run writes its section of bench/README.md, keeps its numbers in bench/compare/results/<mode>.json
and rewrites the section that sets the real server's ranking beside the emulator's.
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
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402  (bench/compare/corpus.py)

from readme_section import write_section  # noqa: E402  (bench/readme_section.py)

README = HERE.parent / "README.md"
RESULTS = HERE / "results"
EMULATOR_KEY = "BENCH-COMPARE-KEY"
CONTENDERS = ("ours", "sync", "aiohttp", "apything")
LABELS = {
    "ours": "anythingllm-bridge `upload_documents`",
    "sync": "anythingllm-bridge `allm sync`",
    "aiohttp": "bare aiohttp (ceiling)",
    "apything": "apything 0.2.0",
}
SHORT = {"ours": "upload_documents", "sync": "allm sync", "aiohttp": "ceiling", "apything": "apything"}
QUERY_TASKS = ("chat", "stream", "search")
TASK_TITLES = {"chat": "chat", "stream": "streamed chat", "search": "vector search"}
TYPES = "txt,md,pdf,docx,csv,json"
WARMUP_FILES = 8
WARMUP_MESSAGES = 4
QUERY_FILES = 120
TARGET = 0.9  # ingest: our speed ÷ the ceiling's, every document embedded
SEARCH_ALL = "document metadata sourceDocument published"  # words of the header of every chunk


# ------------------------------------------------------------------------------ servers


class Server:
    """One AnythingLLM (or emulator) API, spoken with urllib: the orchestrator's own requests, which
    are never timed."""

    def __init__(self, url: str, key: str, pid: int | None = None) -> None:
        self.url, self.key, self.pid = url.rstrip("/"), key, pid

    def call(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
             content_type: str | None = None) -> Any:  # fmt: skip
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.url + "/api" + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=600) as response:
            raw = response.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def create_workspace(self, name: str) -> str:
        return str(self.call("POST", "/v1/workspace/new", {"name": name})["workspace"]["slug"])

    def delete_workspace(self, slug: str) -> None:
        self.call("DELETE", f"/v1/workspace/{slug}")

    def workspace_documents(self, slug: str) -> list[dict[str, Any]]:
        found = self.call("GET", f"/v1/workspace/{slug}")["workspace"]
        return list(found[0]["documents"]) if found else []

    def upload(self, path: Path, name: str, workspace: str) -> str:
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        field_ = (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="addToWorkspaces"\r\n\r\n'
            f"{workspace}\r\n--{boundary}--\r\n"
        ).encode()
        answer = self.call(
            "POST",
            "/v1/document/upload",
            data=head + path.read_bytes() + field_,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        return str(answer["documents"][0]["location"])

    def remove_documents_named(self, prefix: str) -> int:
        """Remove every stored document whose name starts with ``prefix`` (ours, by construction)."""
        listed = self.call("GET", "/v1/documents")["localFiles"]["items"]
        names = [
            f"{folder['name']}/{item['name']}"
            for folder in listed
            for item in folder.get("items", [])
            if str(item.get("name", "")).startswith(prefix)
        ]
        for start in range(0, len(names), 200):
            self.call("DELETE", "/v1/system/remove-documents", {"names": names[start : start + 200]})
        return len(names)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator(log: Path, profile: str | None) -> Iterator[Server]:
    """A fresh emulator process on a free 127.0.0.1 port (with the latency profile, if any)."""
    port = free_port()
    command = [sys.executable, "-m", "anythingllm_bridge.testing.emulator"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--api-key", EMULATOR_KEY]
    if profile:
        command += ["--latency-profile", profile]
    with open(log, "ab") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    server = Server(f"http://127.0.0.1:{port}", EMULATOR_KEY, process.pid)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.call("GET", "/ping")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start; see {log}") from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------ jobs and cells


@dataclass(frozen=True)
class Job:
    """One row group of the table: a task on one input."""

    task: str  # "ingest" or one of QUERY_TASKS
    label: str  # "120 small files", "mixed corpus", "chat", ...
    key: str  # short, for names: "i120", "mixed", "chat"
    files: tuple[Path, ...] = ()
    rounds: int = 1

    @property
    def items(self) -> int:
        return len(self.files) if self.task == "ingest" else 0


@dataclass
class Cell:
    job: str
    contender: str
    walls: dict[int, float] = field(default_factory=dict)  # round -> wall, ok rounds only
    cpus: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    embedded: list[int] = field(default_factory=list)  # per round: files with vectors in the workspace
    listed: list[int] = field(default_factory=list)  # per round: files the workspace lists
    duplicates: list[int] = field(default_factory=list)
    items: int = 0
    rss: float | None = None
    supported: bool = True
    why: str = ""
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the contender itself reported

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls.values()) if self.walls else None


class Child:
    """A contenders.py process: one JSON line in, one JSON line out."""

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
        self.hello = self.ask(spec)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            self.process.wait(timeout=10)
            tail = self.log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"contender process died (exit {self.process.returncode}): {tail}")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> dict[str, Any]:
        final = self.ask({"cmd": "exit"}) if self.hello.get("supported", True) else {}
        self.process.wait(timeout=30)
        return final


def make_questions(count: int, rng: random.Random) -> list[str]:
    return [
        f"What {rng.choice(corpus.VERBS)} the {rng.choice(corpus.TOPICS)} near {rng.choice(corpus.PLACES)}?"
        for _ in range(count)
    ]


class Bench:
    """Everything one run needs: the servers (one per contender), the work folder, the run's tag."""

    def __init__(self, args: argparse.Namespace, servers: dict[str, Server], work: Path) -> None:
        self.args, self.servers, self.work = args, servers, work
        self.run = uuid.uuid4().hex[:6]
        self.log = work / "stderr.log"
        self.query_workspace: dict[str, str] = {}
        self.prepared: set[str] = set()

    def name(self, *parts: object) -> str:
        """A name for files and workspaces of this run: ``bench-<run>-...`` (lower case, no dots)."""
        return "-".join(["bench", self.run, *(str(p) for p in parts)])

    def round_files(self, job: Job, contender: str, index: int | str) -> list[str]:
        """The job's files under names of their own (hard links: no copies), one folder per round."""
        prefix = self.name(contender, job.key, f"r{index}")
        folder = self.work / prefix
        folder.mkdir()
        paths = []
        for source in job.files:
            target = folder / f"{prefix}-{source.name}"
            os.link(source, target)
            paths.append(str(target))
        return paths

    def spec(self, job: Job, contender: str) -> dict[str, Any]:
        server = self.servers[contender]
        state = self.work / f"state-{contender}"
        state.mkdir(exist_ok=True)
        return {
            "contender": contender,
            "task": job.task,
            "concurrency": self.args.concurrency,
            "url": server.url,
            "key": server.key,
            "types": TYPES,
            "state": str(state),
        }

    def prepare_queries(self, contender: str) -> str:
        """The workspace chats and searches use: the small corpus, embedded and checked."""
        server = self.servers[contender]
        key = server.url
        if key not in self.query_workspace:
            slug = server.create_workspace(self.name("query"))
            self.query_workspace[key] = slug
            files = corpus.write_small(self.work / "query", QUERY_FILES)
            names = {}
            for path in files:
                name = f"{self.name('query')}-{path.name}"
                names[server.upload(path, name, slug)] = name
            present = {d["docpath"] for d in server.workspace_documents(slug)}
            missing = [location for location in names if location not in present]
            if missing:
                server.call("POST", f"/v1/workspace/{slug}/update-embeddings", {"adds": missing})
        return self.query_workspace[key]

    def ingest_command(self, job: Job, contender: str, index: int | str, files: list[str]) -> dict[str, Any]:
        server = self.servers[contender]
        slug = server.create_workspace(self.name(contender, job.key, f"r{index}"))
        return {"cmd": "go", "round": index, "workspace": slug, "files": files}

    def count_and_clean(self, job: Job, contender: str, command: dict[str, Any]) -> tuple[int, int, int]:
        """(files listed in the round's workspace, duplicate documents, files with vectors); then
        the workspace and every document of the round are removed.

        Listed is not enough: a real server can list a document whose vectors a concurrent first
        embedding overwrote. So one search that every chunk matches (each chunk starts with the
        server's ``<document_metadata>`` header) finds the files that really have vectors."""
        server, slug = self.servers[contender], command["workspace"]
        documents = server.workspace_documents(slug)
        titles = [json.loads(d["metadata"]).get("title", "") for d in documents]
        wanted = {Path(path).name for path in command["files"]}
        found = [t for t in titles if t in wanted]
        chunks = sum(Path(path).stat().st_size for path in command["files"]) // 500 + 10 * len(wanted)
        body = {"query": SEARCH_ALL, "topN": chunks, "scoreThreshold": 0}
        hits = server.call("POST", f"/v1/workspace/{slug}/vector-search", body).get("results", [])
        searchable = {hit["metadata"].get("title") for hit in hits} & wanted
        server.delete_workspace(slug)
        server.remove_documents_named(self.name(contender, job.key, f"r{command['round']}") + "-")
        return len(set(found)), len(found) - len(set(found)), len(searchable)

    def cleanup(self) -> None:
        for server in {id(s): s for s in self.servers.values()}.values():
            if server.url in self.query_workspace:
                server.delete_workspace(self.query_workspace[server.url])
            server.remove_documents_named(self.name() + "-")

    def run_job(self, job: Job, cells: dict[tuple[str, str], Cell]) -> None:
        args = self.args
        rng = random.Random(f"{job.key}-messages")
        messages = make_questions(args.queries, rng)
        warm_messages = make_questions(WARMUP_MESSAGES, rng)
        children: dict[str, Child] = {}
        for contender in args.contenders:
            cell = cells.setdefault((job.label, contender), Cell(job.label, contender))
            child = Child(self.spec(job, contender), self.log)
            if not child.hello.get("supported", True):
                cell.supported, cell.why = False, child.hello["why"]
                child.close()
                continue
            children[contender] = child
        for contender, child in children.items():  # warm-up: imports, connections, the server's caches
            if job.task == "ingest":
                warm = Job(job.task, job.label, job.key, job.files[:WARMUP_FILES])
                command = self.ingest_command(
                    warm, contender, "warm", self.round_files(warm, contender, "warm")
                )
                answer = child.ask(command)
                self.count_and_clean(warm, contender, command)
            else:
                workspace = self.prepare_queries(contender)
                command = {"cmd": "go", "round": f"{contender}-warm", "workspace": workspace}
                command["messages"] = warm_messages
                answer = child.ask(command)
            if not answer["ok"]:
                cells[(job.label, contender)].failures.append(f"warm-up: {answer['error'] or 'wrong result'}")
        names = list(children)
        for r in range(job.rounds):
            for contender in names[r % len(names) :] + names[: r % len(names)]:
                cell = cells[(job.label, contender)]
                if job.task == "ingest":
                    command = self.ingest_command(job, contender, r, self.round_files(job, contender, r))
                    cell.items = len(job.files)
                else:
                    workspace = self.prepare_queries(contender)
                    command = {"cmd": "go", "round": f"{contender}-{r}", "workspace": workspace}
                    command["messages"] = messages
                    cell.items = len(messages)
                outcome = children[contender].ask(command)
                if job.task == "ingest":
                    command["round"] = r
                    listed, duplicates, embedded = self.count_and_clean(job, contender, command)
                    cell.listed.append(listed)
                    cell.embedded.append(embedded)
                    cell.duplicates.append(duplicates)
                    outcome |= {"listed": listed, "searchable": embedded}
                if args.verbose:
                    print(f"    {job.label} round {r} {contender}: {outcome}", file=sys.stderr, flush=True)
                if outcome["ok"]:
                    cell.walls[r] = outcome["wall"]
                    cell.cpus.append(outcome["cpu"])
                    cell.ttft.extend(outcome["ttft"])
                else:
                    cell.failures.append(outcome["error"] or "wrong result")
                if outcome["note"] and outcome["note"] not in cell.notes:
                    cell.notes.append(outcome["note"])
        for contender, child in children.items():
            cells[(job.label, contender)].rss = child.close().get("rss_mib")
        summary = ", ".join(
            f"{SHORT[n]} {cells[(job.label, n)].wall or float('nan'):.2f} s" for n in children
        )
        print(f"  {job.label}: median {summary}", file=sys.stderr, flush=True)


def jobs_of(args: argparse.Namespace, work: Path) -> list[Job]:
    jobs = []
    if "ingest" in args.tasks:
        for count in args.files:
            files = corpus.write_small(work / f"small-{count}", count)
            rounds = args.rounds if count <= 200 else args.long_rounds
            jobs.append(Job("ingest", f"{count} small files", f"i{count}", tuple(files), rounds))
    if "mixed" in args.tasks:
        files = corpus.write_mixed(work / "mixed")
        jobs.append(
            Job("ingest", f"mixed corpus ({len(files)} files)", "mixed", tuple(files), args.long_rounds)
        )
    for task in QUERY_TASKS:
        if task in args.tasks:
            jobs.append(Job(task, TASK_TITLES[task], task, (), args.rounds))
    return jobs


def run_all(args: argparse.Namespace, work: Path) -> tuple[list[Job], dict[tuple[str, str], Cell]]:
    cells: dict[tuple[str, str], Cell] = {}
    jobs = jobs_of(args, work)
    with ExitStack() as stack:
        if args.url:
            real = Server(args.url, args.key)
            servers = dict.fromkeys(args.contenders, real)
        else:
            servers = {
                n: stack.enter_context(emulator(work / "emulator.log", args.latency_profile))
                for n in args.contenders
            }
        bench = Bench(args, servers, work)
        try:
            for job in jobs:
                bench.run_job(job, cells)
        finally:
            bench.cleanup()
    return jobs, cells


# ------------------------------------------------------------------------------ the table


def paired_ratio(reference: Cell | None, cell: Cell) -> float | None:
    """Median over the rounds of reference wall ÷ this wall: the two ran one after the other in
    each round, so they saw the same load (steadier than a ratio of medians)."""
    if reference is None or not reference.supported:
        return None
    pairs = [reference.walls[r] / wall for r, wall in cell.walls.items() if r in reference.walls]
    return statistics.median(pairs) if pairs else None


def show(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(jobs: list[Job], cells: dict[tuple[str, str], Cell]) -> tuple[str, list[str]]:
    """The markdown table and the targets our rows missed."""
    rows = [
        "| task | contender | wall s, median (min–max) | items/s | speed ÷ ceiling | speed ÷ apything "
        "| embedded | first token ms | client CPU ms/item | peak RSS MiB | notes |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    missed: list[str] = []
    for job in jobs:
        for name in CONTENDERS:
            cell = cells.get((job.label, name))
            if cell is None:
                continue
            who = LABELS[name] if job.task == "ingest" or name != "ours" else "anythingllm-bridge"
            label = f"| {job.label} | {who} |"
            if not cell.supported:
                if job.task == "ingest" or name != "sync":
                    rows.append(f"{label} cannot: {cell.why} | | | | | | | | |")
                continue
            notes = []
            if name == "apything" and job.task == "ingest":
                notes.append("sequential uploads, one update-embeddings")
            notes += cell.notes
            if cell.failures:
                notes.append(f"{len(cell.failures)} failed round(s): {cell.failures[0]}")
            wall = cell.wall
            if wall is None:
                rows.append(f"{label} FAILED | | | | | | | | {'; '.join(notes)} |")
                if name in ("ours", "sync") and job.task == "ingest":
                    missed.append(f"{job.label}: {LABELS[name]} failed")
                continue
            vs_ceiling = paired_ratio(cells.get((job.label, "aiohttp")), cell)
            peer = cells.get((job.label, "apything"))
            vs_peer = "n/a" if peer is not None and not peer.supported else show(paired_ratio(peer, cell))
            walls = list(cell.walls.values())
            spread = f"{wall:.2f} ({min(walls):.2f}–{max(walls):.2f})" if len(walls) > 1 else f"{wall:.2f}"
            embedded = ""
            if job.task == "ingest":
                low, high = min(cell.embedded), max(cell.embedded)
                embedded = f"{low}/{cell.items}" if low == high else f"{low}–{high}/{cell.items}"
                if cell.listed != cell.embedded:
                    embedded += f" (listed {min(cell.listed)}–{max(cell.listed)})"
                if any(cell.duplicates):
                    embedded += f" (+{max(cell.duplicates)} duplicates)"
            ttft = show(statistics.median(cell.ttft) * 1000, 0) if cell.ttft else ""
            cpu = statistics.median(cell.cpus) / cell.items * 1000
            rss = show(cell.rss, 1) if cell.rss else "—"
            rows.append(
                f"{label} {spread} | {cell.items / wall:.1f} | {show(vs_ceiling)} | {vs_peer} | {embedded} | "
                f"{ttft} | {cpu:.1f} | {rss} | {'; '.join(notes)} |"
            )
            if name in ("ours", "sync") and job.task == "ingest":
                if vs_ceiling is not None and vs_ceiling < TARGET:
                    missed.append(
                        f"{job.label}: {LABELS[name]} at {vs_ceiling:.3f} of the ceiling (target ≥ {TARGET})"
                    )
                if min(cell.embedded) < cell.items:
                    missed.append(f"{job.label}: {LABELS[name]} left documents unembedded")
    return "\n".join(rows), missed


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    packages = ("aiohttp", "pydantic", "apything", "requests")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    return (
        f"{os.cpu_count()} cores ({model}), {mem_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}; {versions}; load average at start {load_average()} "
        "(shared machine)"
    )


def mode_of(args: argparse.Namespace) -> str:
    if args.url:
        return "real"
    if not args.latency_profile:
        return "emulator"
    return f"emulator-{Path(args.latency_profile).name.removesuffix('.json')}"


def heading(mode: str) -> str:
    if mode == "real":
        return "## Side by side on a real AnythingLLM (`bench/compare --url`)"
    if mode == "emulator":
        return "## Side by side on the emulator without a latency profile (`bench/compare`)"
    return f"## Side by side on the emulator with the {mode.removeprefix('emulator-')} latency profile"


def recorded_command(argv: list[str]) -> str:
    """The command line as run, the key replaced (it never goes into a file)."""
    shown, hide = [], False
    for arg in argv:
        if hide:
            shown.append("$KEY")
            hide = False
        elif arg == "--key":
            shown.append(arg)
            hide = True
        elif arg.startswith("--key="):
            shown.append("--key=$KEY")
        elif arg not in ("--verbose", "--no-readme"):
            shown.append(arg)
    return " ".join(["bench/compare/run.sh", *shown])


def describe(mode: str, args: argparse.Namespace) -> str:
    if mode == "real":
        return (
            f"Against the AnythingLLM at {args.url}: every contender in workspaces of its own, a new one "
            "per ingest round, deleted afterwards with every document the round uploaded; chats and "
            f"searches in one workspace holding {QUERY_FILES} small files, prepared once."
        )
    profile = f" with the `{args.latency_profile}` latency profile" if args.latency_profile else ""
    return (
        f"Against emulators{profile}: each contender has its own emulator process on 127.0.0.1 (its CPU "
        f"and memory not counted), with workspaces made as on a real server; chats and searches in one "
        f"workspace of {QUERY_FILES} small files."
    )


def section(
    mode: str, body: str, missed: list[str], args: argparse.Namespace, about: str, seconds: float
) -> str:
    verdict = (
        f"Ingest target met: `upload_documents` and `allm sync` at ≥ {TARGET} of the ceiling's speed with "
        "every document embedded, on every corpus."
        if not missed
        else "Ingest target (≥ 0.9 of the ceiling's speed, every document embedded) missed:\n"
        + "\n".join(f"- {m}" for m in missed)
    )
    intro = (
        f"{describe(mode, args)} Concurrency {args.concurrency} for every contender except apything's "
        "ingest (sequential, its documented use). Files/s and requests/s = items ÷ the median round's "
        "wall time; speed ÷ ceiling = median over rounds of the ceiling's wall ÷ this wall in the same "
        'round; "embedded" = files of the round found in the workspace afterwards (min–max over rounds): '
        "a file counts when a search finds its vectors (a real server can list a document whose vectors "
        'are gone; "listed" then says how many the workspace listed); first token = median time to the '
        "first streamed text. What each contender sends: `bench/compare/contenders.py`; method: "
        "`bench/compare/README.md`."
    )
    if args.long_rounds == 1:
        intro += (
            f" The larger ingests ran one round each ({args.rounds} for the rest): on a shared machine one "
            "round can be off by a fifth; `--long-rounds 3` gives them a median."
        )
    return f"""{heading(mode)}

{textwrap.fill(intro, width=105)}

```bash
{recorded_command(args.argv)}
```

Run {dt.date.today().isoformat()} ({seconds / 60:.1f} min) on {about};
load average at the end {load_average()}.

{body}

{verdict}
"""


# ------------------------------------------------------------------------------ the ranking


RANKING = "## Does the emulator rank the strategies as the real server does? (`bench/compare`)"


TIE = 0.05  # two contenders within 5 % of each other's speed count as level


def short(name: str, job: str) -> str:
    """A contender's short name in the row of ``job`` (a job label): our client is
    ``upload_documents`` in an ingest, and the client as a whole in a chat or a search."""
    return "anythingllm-bridge" if name == "ours" and job in TASK_TITLES.values() else SHORT[name]


def disagreements(reference: dict[str, float], other: dict[str, float], job: str) -> list[str]:
    """The pairs of contenders the two runs order differently in ``job``, leaving out pairs that are
    level (within :data:`TIE`) in either run: their order is noise."""
    common = [name for name in CONTENDERS if name in reference and name in other]
    found = []
    for i, a in enumerate(common):
        for b in common[i + 1 :]:
            here, there = reference[a] / reference[b], other[a] / other[b]
            level = abs(here - 1) < TIE or abs(there - 1) < TIE
            if not level and (here > 1) != (there > 1):
                found.append(f"{short(a, job)} vs {short(b, job)}")
    return found


def ranking_section() -> str | None:
    """The real server's order of the contenders beside the emulators', per job, from the saved
    results; None until the real server's and a profiled emulator's both exist."""
    real = RESULTS / "real.json"
    profiled = sorted(RESULTS.glob("emulator-*.json"))
    if not real.exists() or not profiled:
        return None
    runs = {"real server": json.loads(real.read_text())}
    for path in profiled:
        runs[f"emulator + {path.stem.removeprefix('emulator-')}"] = json.loads(path.read_text())
    if (RESULTS / "emulator.json").exists():
        runs["emulator, no profile"] = json.loads((RESULTS / "emulator.json").read_text())
    names = list(runs)
    rows = [
        "| task | "
        + " | ".join(f"{n}: fastest first (items/s)" for n in names)
        + " | ours ÷ ceiling | same order as the real server? |",
        "| --- | " + " | ".join("---" for _ in names) + " | --- | --- |",
    ]
    reference = runs["real server"]
    for label in reference["jobs"]:
        if not all(run["speeds"].get(label) for run in runs.values()):
            continue
        cells = []
        for run in runs.values():
            speeds = run["speeds"][label]
            cells.append(
                " > ".join(
                    f"{short(n, label)} ({speeds[n]:.1f})" for n in sorted(speeds, key=lambda n: -speeds[n])
                )
            )
        verdicts, ratios = [], []
        for name in names[1:]:
            wrong = disagreements(reference["speeds"][label], runs[name]["speeds"][label], label)
            verdicts.append(f"{name}: " + (f"**no** ({', '.join(wrong)})" if wrong else "yes"))
        for run in runs.values():
            speeds = run["speeds"][label]
            both = {"ours", "aiohttp"} <= set(speeds)
            ratios.append(f"{speeds['ours'] / speeds['aiohttp']:.2f}" if both else "—")
        rows.append(
            f"| {label} | " + " | ".join(cells) + f" | {' / '.join(ratios)} | {'; '.join(verdicts)} |"
        )
    dates = "; ".join(f"{n}: {run['date']}" for n, run in runs.items())
    return f"""{RANKING}

The contenders ordered by speed (items per second of the median round) on the real server, on
emulators with a latency profile measured from that server (`bench/compare/server_costs.py`, see
docs/emulator.md) and on the emulator without one, from the last run of each
(`bench/compare/results/*.json`; {dates}). Two runs order the contenders the same way when every pair
is in the same order in both, pairs within {TIE:.0%} of each other in either run counting as level
(their order is noise); "ours ÷ ceiling" gives the ratio of our client's speed (`upload_documents` in
an ingest, `anythingllm-bridge` in a chat or a search) to the ceiling's in each run, in the order of
the columns. The profile is meant to rank strategies as the server does, not to predict
its exact speed.

{chr(10).join(rows)}
"""


def save_results(mode: str, jobs: list[Job], cells: dict[tuple[str, str], Cell]) -> None:
    RESULTS.mkdir(exist_ok=True)
    speeds: dict[str, dict[str, float]] = {}
    for (label, name), cell in cells.items():
        if cell.wall:
            speeds.setdefault(label, {})[name] = cell.items / cell.wall
    data = {
        "date": dt.date.today().isoformat(),
        "jobs": [job.label for job in jobs],
        "speeds": speeds,
        "cells": {f"{label} | {name}": asdict(cell) for (label, name), cell in cells.items()},
    }
    (RESULTS / f"{mode}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default=os.environ.get("ANYTHINGLLM_URL"), help="a real server (or ANYTHINGLLM_URL)"
    )
    parser.add_argument(
        "--key", default=os.environ.get("ANYTHINGLLM_API_KEY"), help="its API key (or ANYTHINGLLM_API_KEY)"
    )
    parser.add_argument("--latency-profile", metavar="NAME|FILE", help="emulators with this latency profile")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of the 120-file ingest, chat, stream, search"
    )
    parser.add_argument(
        "--long-rounds", type=int, default=1, help="rounds of larger ingests (>200 files, mixed)"
    )
    parser.add_argument("--files", type=int, nargs="+", default=[120, 600], help="small-file ingests")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed-corpus ingest")
    parser.add_argument("--queries", type=int, default=40, help="chats / streams / searches per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=("ingest", "mixed", *QUERY_TASKS),
        default=["ingest", "mixed", *QUERY_TASKS],
    )
    parser.add_argument("--no-readme", action="store_true", help="print the table only (results not saved)")
    parser.add_argument("--verbose", action="store_true", help="print every round")
    parser.add_argument(
        "--ranking", action="store_true", help="only rewrite the ranking section from the saved results"
    )
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if args.ranking:
        ranking = ranking_section()
        if ranking is None:
            parser.error("--ranking needs results/real.json and a results/emulator-<profile>.json")
        write_section(README, RANKING, ranking)
        print(ranking)
        return
    if args.no_mixed and "mixed" in args.tasks:
        args.tasks.remove("mixed")
    if args.url and not args.key:
        parser.error("--url needs --key (or ANYTHINGLLM_API_KEY)")
    if args.url and args.latency_profile:
        parser.error("--latency-profile is for emulators; leave out --url")
    mode, about, started = mode_of(args), machine(), time.perf_counter()
    target = args.url or f"emulators ({args.latency_profile or 'no latency profile'})"
    print(f"bench/compare against {target}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        jobs, cells = run_all(args, Path(tmp))
    body, missed = table(jobs, cells)
    text = section(mode, body, missed, args, about, time.perf_counter() - started)
    print(text)
    if not args.no_readme:
        save_results(mode, jobs, cells)
        write_section(README, heading(mode), text)
        ranking = ranking_section()
        if ranking:
            write_section(README, RANKING, ranking)
        print(f"written to {README.relative_to(HERE.parent.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
