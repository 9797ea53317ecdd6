"""The real ``allm`` entry point, run as a subprocess against the emulator on 127.0.0.1.

Every command must do its work (checked on the emulator, not only by the exit code) and every
expected failure must print one clear line and exit non-zero.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cli_support import KEY, Allm, environment, one_line_error, start_allm

from anythingllm_bridge.client import AnythingLLM
from anythingllm_bridge.ingest import Marker
from support import S3Server, closed_port, mark, requests_since, uploads

# --------------------------------------------------------------------------- commands that work


def test_health(allm: Allm) -> None:
    result = allm("health")
    assert "reachable yes" in result.stdout
    assert "answering yes" in result.stdout
    assert "api key   accepted" in result.stdout
    assert "breaker   closed" in result.stdout
    data = allm.json("health")
    assert data["reachable"] is True
    assert data["answering"] is True
    assert data["authenticated"] is True


def test_workspaces_create_list_show_update_delete(allm: Allm, api: AnythingLLM) -> None:
    created = allm.json("workspaces", "create", "CLI Docs", "--mode", "query", "--top-n", "6")
    slug = created["slug"]
    ws = api.get_workspace(slug)
    assert (ws.name, ws.chat_mode, ws.top_n) == ("CLI Docs", "query", 6)

    assert slug in [w["slug"] for w in allm.json("workspaces", "list")]
    assert slug in allm("workspaces", "list").stdout
    assert allm.json("workspaces", "show", slug)["name"] == "CLI Docs"

    allm("workspaces", "update", slug, "--name", "CLI Docs v2", "--mode", "chat")
    ws = api.get_workspace(slug)
    assert (ws.name, ws.slug, ws.chat_mode) == ("CLI Docs v2", slug, "chat")

    allm("workspaces", "delete", slug, "--yes")
    assert slug not in [w.slug for w in api.list_workspaces()]


def test_docs_upload_list_remove(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    slug = api.create_workspace("Docs CLI").workspace.slug
    file = tmp_path / "cities.csv"
    file.write_text("city,country\nOslo,Norway\nLima,Peru\n")
    (uploaded,) = allm.json("docs", "upload", str(file), "--workspace", slug)
    location = uploaded["location"]
    assert uploaded["status"] == "uploaded"
    assert location in api.get_workspace(slug).docpaths

    assert location in [d["location"] for d in allm.json("docs", "list", "--workspace", slug)]
    assert location in [d["location"] for d in allm.json("docs", "list")]

    allm("docs", "remove", location, "--workspace", slug)
    assert location not in api.get_workspace(slug).docpaths
    assert location in {d.location for d in api.list_documents()}  # only out of the workspace
    assert allm.json("docs", "remove", location, "--yes") == {"removed": [location], "from": "server"}
    assert location not in {d.location for d in api.list_documents()}


def test_docs_upload_rejects_a_disguised_binary(allm: Allm, tmp_path: Path) -> None:
    fake = tmp_path / "report.pdf"
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 200)
    result = allm("docs", "upload", str(fake), check=False)
    line = one_line_error(result, "rejected", "report.pdf")
    assert line.count("report.pdf") == 1  # the name once, then the reason


def write_samples(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "faq.md").write_text(
        "# FAQ\n\nTelescope tours must be booked two days ahead at the front desk.\n"
    )
    (root / "visitors.csv").write_text("month,visitors\nJanuary,412\nFebruary,388\n")
    (root / "telescopes.json").write_text('{"telescopes": [{"name": "Big Ears", "aperture_m": 2.4}]}')
    return root


def test_sync_twice_dry_run_and_prune(allm: Allm, api: AnythingLLM, emu: Any, tmp_path: Path) -> None:
    slug = api.create_workspace("Sync CLI").workspace.slug
    folder = write_samples(tmp_path / "samples")
    types = "md,csv,json"
    first = allm.json("sync", str(folder), "--workspace", slug, "--types", types)
    assert first["uploaded"] == ["faq.md", "telescopes.json", "visitors.csv"]
    assert api.get_workspace(slug).docpaths == set(first["locations"].values())

    start = mark(emu)
    second = allm.json("sync", str(folder), "--workspace", slug, "--types", types)
    assert second["uploaded"] == []
    assert second["counts"]["unchanged"] == 3
    assert uploads(requests_since(emu, start)) == 0

    (folder / "visitors.csv").unlink()
    (folder / "notes.md").write_text("# notes\n")
    start = mark(emu)
    plan = allm("sync", str(folder), "--workspace", slug, "--types", types, "--dry-run", "--prune")
    assert "dry run" in plan.stdout
    assert "notes.md" in plan.stdout
    assert [r for r in requests_since(emu, start) if r.method != "GET"] == []

    pruned = allm.json("sync", str(folder), "--workspace", slug, "--types", types, "--prune")
    assert pruned["uploaded"] == ["notes.md"]
    assert pruned["removed"] == ["visitors.csv"]
    assert first["locations"]["visitors.csv"] not in api.get_workspace(slug).docpaths
    assert len(api.get_workspace(slug).documents) == 3


def test_sync_prints_a_readable_report(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    slug = api.create_workspace("Sync report").workspace.slug
    folder = write_samples(tmp_path / "samples")
    (folder / "chart.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    result = allm("sync", str(folder), "--workspace", slug, "--types", "md,csv,json,pdf", check=False)
    assert "uploaded       3" in result.stdout
    assert "rejected       1" in result.stdout
    assert "chart.pdf:" in result.stdout
    assert result.returncode == 1  # a rejected file is not synced: the others are, and the exit says so
    last = result.stderr.strip().splitlines()[-1]
    assert last == "error: 1 file(s) rejected (chart.pdf); see the report for why"


def test_sync_max_passes_and_max_wait_bound_how_long_a_sync_keeps_trying(
    allm: Allm, api: AnythingLLM, emu: Any, tmp_path: Path
) -> None:
    slug = api.create_workspace("Passes").workspace.slug
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "faq.md").write_text("# FAQ\n\nTelescope tours must be booked two days ahead.\n")
    no_retries = {"ANYTHINGLLM_MAX_RETRIES": "0"}  # every 503 reaches the sync itself
    faults = emu.emulator.faults
    faults.add(method="POST", path="/api/v1/document/upload*", status=503, times=1)
    one_pass = allm(
        "sync", str(folder), "-w", slug, "--types", "md", "--max-passes", "1", "--json",
        check=False, env=no_retries,
    )  # fmt: skip
    assert one_pass.returncode == 1
    report = json.loads(one_pass.stdout)
    assert report["passes"] == 1
    assert list(report["failed"]) == ["faq.md"]
    assert "503" in report["failed"]["faq.md"]
    assert api.get_workspace(slug).documents == []
    last = one_pass.stderr.strip().splitlines()[-1]
    assert last.startswith("error: faq.md could not be synced: ")
    assert last.endswith("; run the same command again to retry them")  # a 503 may pass

    # the same from the environment, with the default of 10 passes: the second pass lands it
    faults.add(method="POST", path="/api/v1/document/upload*", status=503, times=1)
    converged = allm.json("sync", str(folder), "-w", slug, "--types", "md", env=no_retries)
    assert converged["passes"] == 2
    assert converged["uploaded"] == ["faq.md"]
    faults.add(method="POST", path="/api/v1/document/upload*", status=503, times=1)
    (folder / "faq.md").write_text("# FAQ\n\nchanged\n")
    from_env = allm(
        "sync", str(folder), "-w", slug, "--types", "md", "--json", check=False,
        env={**no_retries, "INGEST_MAX_PASSES": "1"},
    )  # fmt: skip
    assert from_env.returncode == 1
    assert json.loads(from_env.stdout)["passes"] == 1

    bad = allm("sync", str(folder), "-w", slug, "--max-passes", "0", check=False)
    assert bad.returncode != 0
    assert "--max-passes" in bad.stderr
    bad = allm("sync", str(folder), "-w", slug, "--max-wait", "-1", check=False)
    assert bad.returncode != 0
    assert "--max-wait" in bad.stderr


def test_search_and_ask(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    slug = api.create_workspace("Ask CLI").workspace.slug
    allm("sync", str(write_samples(tmp_path / "s")), "--workspace", slug, "--types", "md,csv,json")

    hits = allm.json("search", slug, "telescope tours booked")
    assert hits
    assert any("faq" in (hit.get("metadata", {}).get("title") or "") for hit in hits)
    assert "faq.md" in allm("search", slug, "telescope tours booked").stdout

    streamed = allm("ask", slug, "How are telescope tours booked?", "--mode", "query")
    assert "sources:" in streamed.stdout
    assert "faq.md" in streamed.stdout.split("sources:")[1]
    answer = streamed.stdout.split("sources:")[0].strip()
    assert answer

    whole = allm.json("ask", slug, "How are telescope tours booked?", "--mode", "query")
    assert whole["text"]
    assert any(s.get("title") == "faq.md" for s in whole["sources"])
    history = api.get_workspace_chats(slug)
    assert len([turn for turn in history if turn.role == "user"]) == 2

    plain = allm("ask", slug, "How are telescope tours booked?", "--mode", "query", "--no-stream")
    assert "sources:" in plain.stdout

    session = allm.json("ask", slug, "Anything about visitors?", "--session", "user-42")
    assert session["text"]
    assert [t.role for t in api.get_workspace_chats(slug, session_id="user-42")] == ["user", "assistant"]


def test_threads_new_list_ask_history_delete(allm: Allm, api: AnythingLLM) -> None:
    slug = api.create_workspace("Threads CLI").workspace.slug
    thread = allm.json("threads", "new", slug, "--name", "Support")
    tslug = thread["slug"]
    assert tslug in [t.slug for t in api.list_threads(slug)]
    assert tslug in [t["slug"] for t in allm.json("threads", "list", slug)]

    allm("ask", slug, "Hello there", "--thread", tslug, "--mode", "chat")
    turns = allm.json("threads", "history", slug, tslug)
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[0]["content"] == "Hello there"

    allm("threads", "delete", slug, tslug)
    assert tslug not in [t.slug for t in api.list_threads(slug)]


# --------------------------------------------------------------------------- bad input


def test_unknown_workspace(allm: Allm) -> None:
    one_line_error(allm("workspaces", "show", "no-such-ws", check=False), "no-such-ws")
    one_line_error(allm("ask", "no-such-ws", "hello", check=False), "no-such-ws")
    one_line_error(allm("search", "no-such-ws", "hello", check=False), "no-such-ws")


def test_unknown_workspace_for_sync(allm: Allm, tmp_path: Path) -> None:
    folder = write_samples(tmp_path / "samples")
    line = one_line_error(allm("sync", str(folder), "--workspace", "no-such-ws", check=False), "no-such-ws")
    assert "does not exist" in line


def test_wrong_api_key(allm: Allm) -> None:
    line = one_line_error(allm("workspaces", "list", key="WRONG-KEY", check=False), "API key")
    assert "WRONG-KEY" not in line
    one_line_error(allm("health", key="WRONG-KEY", check=False), "API key")


def test_missing_api_key(allm: Allm, emu: Any) -> None:
    start = mark(emu)
    line = one_line_error(allm("workspaces", "list", key=None, check=False), "ANYTHINGLLM_API_KEY")
    assert "looked in the environment" in line
    assert requests_since(emu, start) == []  # nothing sent without a key


def test_unreachable_server(allm: Allm) -> None:
    url = f"http://127.0.0.1:{closed_port()}"  # nothing listens there
    one_line_error(allm("workspaces", "list", url=url, check=False), "cannot reach", url)
    health = allm("--url", url, "health", check=False)
    one_line_error(health, "127.0.0.1")
    assert "reachable no" in health.stdout
    assert "api key   not checked" in health.stdout  # never tried: not "not accepted"


def test_sync_to_an_unreachable_server_says_so_not_that_the_breaker_opened(
    allm: Allm, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"  # nothing listens there
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# a\n")
    result = allm("sync", str(folder), "-w", "x", "--types", "md", url=url, check=False)
    line = one_line_error(result, "cannot reach", url)
    assert "circuit" not in line
    assert "breaker" not in line


def test_missing_folder(allm: Allm, tmp_path: Path) -> None:
    missing = tmp_path / "not-here"
    one_line_error(
        allm("sync", str(missing), "--workspace", "x", check=False), "does not exist", str(missing)
    )


def test_bad_url_setting(allm: Allm) -> None:
    line = one_line_error(allm("workspaces", "list", url="localhost:3001", check=False), "ANYTHINGLLM_URL")
    assert "from environment" in line
    usage = allm("--url", "localhost:3001", "workspaces", "list", check=False)
    one_line_error(usage, "--url", "http://", code=2)


# --------------------------------------------------------------------------- emulator and demo


def test_emulator_command_serves_the_api(allm: Allm, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYTHINGLLM_")}
    proc = start_allm("emulator", "--port", "0", "--key", "EMU-KEY", env=env, cwd=home)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first
        url = first.split("listening on ")[1].strip()
        created = Allm(url, home)("workspaces", "create", "From emulator cmd", key="EMU-KEY")
        assert "slug: from-emulator-cmd" in created.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_demo_runs_end_to_end(allm: Allm) -> None:
    result = allm("demo", key=None, url="http://127.0.0.1:9")  # the demo ignores both: it has its own
    out = result.stdout
    assert "started the built-in AnythingLLM emulator" in out
    assert "uploaded       4" in out
    assert "star-chart.pdf:" in out
    assert "upload requests the emulator received during this sync: 0" in out
    assert "sources:" in out
    assert "closed" in out
    assert "stopped the emulator" in out


def test_demo_real_runs_against_the_configured_server_and_cleans_up(allm: Allm, api: AnythingLLM) -> None:
    before = {w.slug for w in api.list_workspaces()}
    documents_before = {d.location for d in api.list_documents()}
    result = allm("demo", "--real")
    assert "started the built-in" not in result.stdout
    assert "uploaded       4" in result.stdout
    assert "sources:" in result.stdout
    assert "removed 4 document(s)" in result.stdout
    assert {w.slug for w in api.list_workspaces()} == before
    assert {d.location for d in api.list_documents()} == documents_before


def test_demo_real_needs_a_key(allm: Allm) -> None:
    one_line_error(allm("demo", "--real", key=None, check=False), "ANYTHINGLLM_API_KEY")


def test_verbose_logs_carry_the_trace_id_the_server_received(allm: Allm, emu: Any) -> None:
    start = mark(emu)
    result = allm("--verbose", "workspaces", "list")
    (request,) = [r for r in requests_since(emu, start) if r.path == "/api/v1/workspaces"]
    assert request.request_id
    assert f"[trace {request.request_id}]" in result.stderr
    assert "GET /v1/workspaces" in result.stderr
    assert KEY not in result.stderr


def test_sync_prints_plain_progress_lines_when_not_on_a_terminal(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    slug = api.create_workspace("Progress lines").workspace.slug
    folder = write_samples(tmp_path / "samples")
    result = allm("sync", str(folder), "--workspace", slug, "--types", "md,csv,json")
    lines = result.stderr.splitlines()
    assert lines[0] == f"listing {folder} ..."
    assert lines[1].startswith("sending 3 file(s)")
    assert sorted(line.split()[1] for line in lines if line.startswith("uploaded")) == [
        "faq.md",
        "telescopes.json",
        "visitors.csv",
    ]
    assert "\x1b[" not in result.stderr  # no terminal control codes in a pipe


def test_sync_archives_sent_files_into_the_configured_storage(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    slug = api.create_workspace("Archive CLI").workspace.slug
    folder = write_samples(tmp_path / "samples")
    storage = tmp_path / "storage"
    allm(
        "sync",
        str(folder),
        "--workspace",
        slug,
        "--types",
        "md,csv,json",
        "--archive",
        env={"STORAGE_TYPE": "local", "STORAGE_PATH": str(storage)},
    )
    archived = sorted(str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file())
    assert archived == ["processed/csv/visitors.csv", "processed/json/telescopes.json", "processed/md/faq.md"]


def test_sync_from_an_s3_prefix(allm: Allm, api: AnythingLLM, s3_server: S3Server, bucket: str) -> None:
    s3 = s3_server.admin()
    s3.put_object(Bucket=bucket, Key="team/faq.md", Body=b"# FAQ\n\nTours are booked two days ahead.\n")
    s3.put_object(Bucket=bucket, Key="team/visitors.csv", Body=b"month,visitors\nJanuary,412\n")
    s3.put_object(Bucket=bucket, Key="other/skip.csv", Body=b"a,b\n1,2\n")
    slug = api.create_workspace("S3 CLI").workspace.slug
    env = {
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "S3_REGION": "us-east-1",
    }
    args = ("sync", f"s3://{bucket}/team", "--workspace", slug, "--types", "md,csv", "--json")
    first = json.loads(allm(*args, env=env).stdout)
    assert first["uploaded"] == ["faq.md", "visitors.csv"]
    assert api.get_workspace(slug).docpaths == set(first["locations"].values())
    second = json.loads(allm(*args, env=env).stdout)
    assert second["uploaded"] == []
    assert second["counts"]["unchanged"] == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["other/skip.csv", "team/faq.md", "team/visitors.csv"]  # the sync never writes its source
    assert first["source_id"] == f"s3://{bucket}/team"


def test_ctrl_c_during_sync_saves_the_manifest_and_a_rerun_resumes(
    allm: Allm, api: AnythingLLM, emu: Any, tmp_path: Path, home: Path
) -> None:
    import re
    import signal
    import time

    slug = api.create_workspace("Ctrl-C").workspace.slug
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(8):
        (folder / f"note-{n}.md").write_text(f"# note {n}\n\nsome text {n}\n")
    faults = emu.emulator.faults
    slow = faults.add(method="POST", path="/api/v1/document/upload", latency=0.5, times=None)
    start = len(faults.requests)
    proc = start_allm(
        "sync",
        str(folder),
        "-w",
        slug,
        "--types",
        "md",
        "-c",
        "1",
        env=environment(home, emu.url, KEY),
        cwd=home,
    )
    try:
        deadline = time.monotonic() + 60
        while uploads(requests_since(emu, start)) < 3:  # wait until the sync is under way
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        faults.remove(slow)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.endswith("; run the same command again to resume")
    found = re.search(r"interrupted after (\d+) upload\(s\) into the workspace \((\d+) of them", last)
    assert found is not None, last
    before = len(api.get_workspace(slug).documents)
    assert before < 8
    assert 2 <= int(found[1]) <= before  # the uploads it counts are there (one more may have landed)

    resumed = allm.json("sync", str(folder), "--workspace", slug, "--types", "md", "-c", "1")
    assert resumed["failed"] == {}
    assert len(api.get_workspace(slug).documents) == 8
    ours = [d for d in api.list_documents() if Marker.parse(d.doc_source) is not None]
    notes = sorted(d.title or "" for d in ours if (d.title or "").startswith("note-"))
    assert notes == sorted(f"note-{n}.md" for n in range(8))  # each file once: nothing sent twice
