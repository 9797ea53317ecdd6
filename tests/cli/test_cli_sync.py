"""``allm sync`` as a user meets it: bad files among good ones, the prune guard, bounds on concurrency
and open files, shards, and what a piped run prints while it waits for the server."""

from __future__ import annotations

import json
import os
import resource
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cli_support import KEY, Allm, environment, one_line_error, start_allm, without_dac_override

from anythingllm_bridge.client import AnythingLLM
from anythingllm_bridge.ingest import Marker
from anythingllm_bridge.validation import NOT_REGULAR


def keys_in(api: AnythingLLM, slug: str) -> list[str]:
    markers = [Marker.parse(d.metadata.get("docSource")) for d in api.get_workspace(slug).documents]
    return sorted(m.key for m in markers if m is not None)


def run_allm(home: Path, url: str, *args: str, preexec: Any = None, limit_files: int | None = None) -> Any:
    """``allm ARGS`` as a subprocess, optionally without root's read-anything capability and with at
    most ``limit_files`` open files."""
    dac = preexec

    def setup() -> None:
        if dac is not None:
            dac()
        if limit_files is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, hard))

    return subprocess.run(
        [sys.executable, "-m", "anythingllm_bridge.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(home, url, KEY),
        cwd=home,
        timeout=300,
        preexec_fn=setup if (dac is not None or limit_files is not None) else None,
    )


def test_one_bad_file_never_stops_the_others(
    allm: Allm, api: AnythingLLM, home: Path, tmp_path: Path
) -> None:
    slug = api.create_workspace("Bad files").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# good\n")
    (folder / "other.md").write_text("# other\n")
    with open(os.fsencode(folder) + b"/caf\xe9.md", "wb") as odd:  # a name that is not UTF-8
        odd.write(b"# cafe\n")
    os.mkfifo(folder / "pipe.md")
    locked = folder / "locked.md"
    locked.write_text("# locked\n")
    locked.chmod(0o000)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "sock.md"))
    args = ["sync", str(folder), "-w", slug, "--types", "md", "--json"]
    try:
        result = run_allm(home, allm.url, *args, preexec=without_dac_override())
    finally:
        listener.close()
        locked.chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)  # valid JSON, whatever the names
    assert report["uploaded"] == ["caf\\xe9.md", "good.md", "other.md"]
    assert report["rejected"] == {
        "pipe.md": NOT_REGULAR,
        "sock.md": NOT_REGULAR,
    }
    assert report["failed"] == {"locked.md": "cannot be read: permission denied"}
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: locked.md could not be synced: cannot be read: permission denied; 2 file(s)"
    )
    assert last.endswith("; see the report for why")  # running it again would not help
    assert keys_in(api, slug) == sorted([os.fsdecode(b"caf\xe9.md"), "good.md", "other.md"])

    text = allm("sync", str(folder), "-w", slug, "--types", "md", check=False)
    assert "caf\\xe9.md" not in text.stdout  # unchanged: not listed ...
    assert "pipe.md: is not a regular file" in text.stdout
    assert "unchanged      3" in text.stdout  # ... but counted
    assert "uploaded       1  locked.md" in text.stdout  # readable again: synced now


def test_a_prune_that_looks_like_an_unmounted_disk_is_refused(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    slug = api.create_workspace("Guard").workspace.slug
    folder = tmp_path / "mnt"
    folder.mkdir()
    for name in ("a.md", "b.md"):
        (folder / name).write_text(f"# {name}\n")
    allm("sync", str(folder), "-w", slug, "--types", "md")
    for name in ("a.md", "b.md"):
        (folder / name).unlink()
    refused = allm("sync", str(folder), "-w", slug, "--types", "md", "--prune", check=False)
    assert refused.stderr.splitlines()[0] == f"listing {folder} ..."  # the progress, then the error
    words = ("2 of the 2 file(s)", "the source lists no file at all", "--max-delete 2")
    line = one_line_error(refused, *words, after=1)
    assert "nothing was sent or removed" in line
    assert keys_in(api, slug) == ["a.md", "b.md"]
    dry = ["sync", str(folder), "-w", slug, "--types", "md", "--prune", "--dry-run", "--json"]
    plan = allm(*dry, check=False)
    assert json.loads(plan.stdout)["removed"] == ["a.md", "b.md"]  # the plan is shown, then refused
    one_line_error(plan, "--max-delete 2")
    pruned = allm.json("sync", str(folder), "-w", slug, "--types", "md", "--prune", "--max-delete", "all")
    assert pruned["removed"] == ["a.md", "b.md"]
    assert keys_in(api, slug) == []
    bad = allm("sync", str(folder), "-w", slug, "--max-delete", "many", check=False)
    one_line_error(bad, "--max-delete", code=2)
    alone = allm("sync", str(folder), "-w", slug, "--max-delete", "3", check=False)
    one_line_error(alone, "--max-delete only applies with --prune", code=2)


def test_concurrency_outside_1_to_64_is_a_usage_error(allm: Allm, tmp_path: Path) -> None:
    for value in ("0", "65", "10000"):
        result = allm("sync", str(tmp_path), "-w", "x", "--concurrency", value, check=False)
        assert result.returncode == 2, result.stderr
        assert "--concurrency" in result.stderr
        assert "Traceback" not in result.stderr
    for bad in ("3", "1/0", "4/4", "x/2"):
        one_line_error(allm("sync", str(tmp_path), "-w", "x", "--shard", bad, check=False), "--shard", code=2)


def test_open_files_stay_bounded_at_the_highest_concurrency(
    allm: Allm, api: AnythingLLM, home: Path, tmp_path: Path
) -> None:
    slug = api.create_workspace("Many files").workspace.slug
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(400):
        (folder / f"n{n:03d}.md").write_text(f"# note {n}\n")
    result = run_allm(
        home,
        allm.url,
        "sync",
        str(folder),
        "-w",
        slug,
        "--types",
        "md",
        "-c",
        "64",
        "--json",
        limit_files=256,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert len(report["uploaded"]) == 400  # more files than the process may hold open at once
    assert len(keys_in(api, slug)) == 400


def test_shards_from_the_command_line(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    slug = api.create_workspace("Shards").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(12):
        (folder / f"n{n:02d}.md").write_text(f"# note {n}\n")
    shares = [
        allm.json("sync", str(folder), "-w", slug, "--types", "md", "--shard", f"{i}/3") for i in range(3)
    ]
    assert sorted(key for share in shares for key in share["uploaded"]) == [f"n{n:02d}.md" for n in range(12)]
    assert [share["shard"] for share in shares] == ["0/3", "1/3", "2/3"]
    assert len({share["manifest"] for share in shares}) == 3  # a cache per shard: they can run side by side
    assert len(keys_in(api, slug)) == 12


def test_a_piped_sync_says_what_it_waits_for_during_an_outage(
    emu: Any, api: AnythingLLM, home: Path, tmp_path: Path
) -> None:
    slug = api.create_workspace("Outage").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# a\n")
    faults = emu.emulator.faults
    env = environment(home, emu.url, KEY)
    env.update(
        ANYTHINGLLM_MAX_RETRIES="0", ANYTHINGLLM_FAILURE_THRESHOLD="1", ANYTHINGLLM_RECOVERY_TIMEOUT="0.3"
    )
    faults.outage(3600)  # until the sync has said that it waits
    proc = start_allm("sync", str(folder), "-w", slug, "--types", "md", env=env, cwd=home)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120  # only a bound on a broken run; the test waits for the line
        while not any(line.startswith("waiting") for line in lines):
            assert time.monotonic() < deadline, lines
            line = proc.stderr.readline()
            assert line or proc.poll() is None, lines
            lines.append(line.rstrip("\n"))
        faults.outage(0)
        out, err = proc.communicate(timeout=120)
    finally:
        faults.outage(0)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (lines, err)
    waiting = next(line for line in lines if line.startswith("waiting"))
    assert "the server is failing (circuit breaker open); trying GET /v1/workspace/" in waiting
    assert "uploaded       1" in out


def test_a_manifest_path_that_is_not_a_cache_is_refused_untouched(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    slug = api.create_workspace("Not a cache").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# a\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a cache\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in (
        (notes, ("notes.txt", "is not one", "not overwritten")),
        (fifo, ("fifo", "not a regular file")),
        (folder / "cache.json", ("is inside the source",)),
    ):
        result = allm("sync", str(folder), "-w", slug, "--types", "md", "--manifest", str(path), check=False)
        one_line_error(result, *words, "--manifest")
    assert notes.read_text() == "my notes, not a cache\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in folder.iterdir()) == ["a.md"]
    assert keys_in(api, slug) == []


def test_a_dry_run_creates_nothing_and_an_unwritable_cache_only_costs_a_warning(
    allm: Allm, api: AnythingLLM, home: Path, tmp_path: Path
) -> None:
    slug = api.create_workspace("No cache").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# a\n")
    plan = allm.json("sync", str(folder), "-w", slug, "--types", "md", "--dry-run")
    assert plan["uploaded"] == ["a.md"]
    assert not (home / "state" / "anythingllm-bridge").exists()  # not even the state folder
    blocked = tmp_path / "a-file"
    blocked.write_text("where the state folder would be\n")
    env = {"XDG_STATE_HOME": str(blocked)}  # no one can make a folder inside a file, root included
    result = allm("sync", str(folder), "-w", slug, "--types", "md", env=env)
    assert "uploaded       1  a.md" in result.stdout
    assert f"warning    cannot write the sync cache {blocked}/" in result.stdout
    assert "--manifest or MANIFEST_PATH" in result.stdout
    assert keys_in(api, slug) == ["a.md"]


def test_an_archive_inside_the_source_is_refused_even_in_a_dry_run(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    slug = api.create_workspace("Archive inside").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# a\n")
    env = {"STORAGE_TYPE": "local", "STORAGE_PATH": str(folder / "store")}
    for extra in (["--dry-run"], []):
        args = ["sync", str(folder), "-w", slug, "--types", "md", "--archive", *extra]
        one_line_error(allm(*args, env=env, check=False), "overlaps the source", "STORAGE_PATH")
    assert sorted(p.name for p in folder.iterdir()) == ["a.md"]  # nothing written into the source
    assert keys_in(api, slug) == []
