"""``allm`` when things go wrong: bad input, the wrong server, outages, Ctrl-C.

Each case ends in one ``error:`` line that says what failed and what to do, with exit code 1 for a
failure, 2 for a usage error and 130 for Ctrl-C, and never a traceback or an exception's class name.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_support import KEY, Allm, environment, one_line_error, start_allm, without_dac_override

from anythingllm_bridge.client import AnythingLLM
from support import closed_port, mark, requests_since

CLASS_NAME = re.compile(r"\b\w*(?:Error|Exception)\b")  # AnythingLLMServerError, ValueError, ...


def no_class_name(line: str) -> str:
    assert not CLASS_NAME.search(line), line
    return line


def wait_for(condition: Any, proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``condition`` (no timing assumption beyond a generous limit) while ``proc`` runs."""
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


# --------------------------------------------------------------------------- stand-in servers


class _Plain(SimpleHTTPRequestHandler):
    """Any plain web server: files of an empty folder, 404 pages, 501 for POST."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Slow(BaseHTTPRequestHandler):
    """A slow server: a GET gets no answer, a POST streams two words of an answer and then nothing,
    until the test ends. ``arrived`` is set once a request is in."""

    arrived: threading.Event
    release: threading.Event

    def do_GET(self) -> None:
        self.arrived.set()
        self.release.wait(60)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in ("Partial ", "answer"):
            event = {"uuid": "u1", "type": "textResponseChunk", "textResponse": word, "close": False}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.release.wait(60)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    yield from serve(_Plain)


@pytest.fixture
def slow_server() -> Iterator[tuple[str, threading.Event]]:
    """The slow server's URL, and the event set once a request reached it."""
    arrived, release = threading.Event(), threading.Event()
    handler = type("SlowHandler", (_Slow,), {"arrived": arrived, "release": release})
    try:
        for url in serve(handler):
            yield url, arrived
    finally:
        release.set()


# --------------------------------------------------------------------------- wrong servers, outages


def test_health_with_nothing_listening_says_the_key_was_not_checked(allm: Allm) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = allm("--url", url, "health", check=False)
    no_class_name(one_line_error(result, "cannot", url))
    assert "reachable no" in result.stdout
    assert "answering no" in result.stdout
    assert "api key   not checked" in result.stdout


def test_health_during_an_outage_reports_three_separate_truths(allm: Allm, emu: Any) -> None:
    emu.emulator.faults.outage(3600)
    try:
        result = allm("health", check=False)
        data = json.loads(allm("health", "--json", check=False).stdout)
    finally:
        emu.emulator.faults.clear()
    no_class_name(one_line_error(result, "503", "try again later"))
    assert "reachable yes" in result.stdout
    assert "answering no" in result.stdout
    assert "api key   not checked" in result.stdout
    assert (data["reachable"], data["answering"], data["authenticated"]) == (True, False, None)


def test_a_plain_web_server_is_named_as_not_anythingllm(
    allm: Allm, plain_server: str, tmp_path: Path
) -> None:
    health = allm("--url", plain_server, "health", check=False)
    no_class_name(one_line_error(health, plain_server, "is not an AnythingLLM server"))
    assert "answering not an AnythingLLM" in health.stdout
    assert "api key   not checked" in health.stdout

    listing = allm("--url", plain_server, "workspaces", "list", check=False)
    no_class_name(one_line_error(listing, "is not an AnythingLLM server", "ANYTHINGLLM_URL"))
    created = allm("--url", plain_server, "workspaces", "create", "Docs", check=False)
    one_line_error(created, "is not an AnythingLLM server")

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.csv").write_text("a,b\n1,2\n")
    synced = allm("--url", plain_server, "sync", str(folder), "-w", "docs", "--types", "csv", check=False)
    line = one_line_error(synced, "is not an AnythingLLM server")
    assert "does not exist" not in line


def test_https_to_a_plain_http_server_says_to_use_http(allm: Allm, emu: Any) -> None:
    https = emu.url.replace("http://", "https://")
    line = one_line_error(allm("--url", https, "workspaces", "list", check=False), "does not speak TLS")
    assert f"use {emu.url}" in line
    assert "verify_ssl" not in line
    one_line_error(allm("--url", https, "health", check=False), "does not speak TLS")


# --------------------------------------------------------------------------- documents


def test_removing_a_document_that_is_not_there_fails_and_removes_nothing(
    allm: Allm, api: AnythingLLM, tmp_path: Path
) -> None:
    file = tmp_path / "kept.csv"
    file.write_text("a,b\n1,2\n")
    location = api.upload_file(file).location
    before = {d.location for d in api.list_documents()}
    missing = "custom-documents/not-there.json"
    line = one_line_error(allm("docs", "remove", location, missing, "--yes", check=False), missing)
    assert "nothing was removed" in line
    assert location not in line
    assert {d.location for d in api.list_documents()} == before

    slug = api.create_workspace("Remove checks").workspace.slug
    line = one_line_error(allm("docs", "remove", location, "-w", slug, check=False), location, slug)


def test_deleting_documents_from_the_server_asks_first(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    file = tmp_path / "asked.csv"
    file.write_text("a,b\n1,2\n")
    location = api.upload_file(file).location
    one_line_error(allm("docs", "remove", location, check=False), "--yes", code=2)  # not a terminal

    no = run_at_a_terminal(allm, ["docs", "remove", location], answer="n")
    assert no.returncode == 1
    assert "Delete 1 document(s)" in no.stdout
    assert "error: not confirmed: nothing was deleted" in no.stdout
    assert location in {d.location for d in api.list_documents()}

    yes = run_at_a_terminal(allm, ["docs", "remove", location], answer="y")
    assert yes.returncode == 0, yes.stdout
    assert location not in {d.location for d in api.list_documents()}


def run_at_a_terminal(allm: Allm, args: list[str], *, answer: str) -> subprocess.CompletedProcess[str]:
    """``allm ARGS`` on a pseudo-terminal, typing ``answer`` at its prompt; stdout and stderr both
    arrive on the terminal (``stdout`` of the result)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anythingllm_bridge.cli", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=environment(allm.home, allm.url, KEY),
        cwd=allm.home,
    )
    os.close(follower)
    seen = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, f"no output from allm: {seen!r}"
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: allm ended
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(leader, f"{answer}\n".encode())
                answered = True
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, seen.decode().replace("\r\n", "\n"), "")


def test_upload_and_sync_refuse_an_empty_list_of_file_types(allm: Allm, tmp_path: Path) -> None:
    file = tmp_path / "a.csv"
    file.write_text("a,b\n1,2\n")
    for types in ("", ",,", " . "):
        one_line_error(allm("docs", "upload", str(file), "--types", types, check=False), "--types", code=2)
        one_line_error(
            allm("sync", str(tmp_path), "-w", "x", "--types", types, check=False), "--types", code=2
        )
    empty = {"ALLOWED_FILE_TYPES": ""}
    one_line_error(allm("docs", "upload", str(file), check=False, env=empty), "ALLOWED_FILE_TYPES")
    one_line_error(allm("sync", str(tmp_path), "-w", "x", check=False, env=empty), "ALLOWED_FILE_TYPES")


def test_a_file_that_becomes_unreadable_between_two_syncs_is_one_line(
    allm: Allm, api: AnythingLLM, home: Path, tmp_path: Path
) -> None:
    slug = api.create_workspace("Permissions").workspace.slug
    folder = tmp_path / "docs"
    folder.mkdir()
    file = folder / "a.csv"
    file.write_text("a,b\n1,2\n")
    args = ["sync", str(folder), "-w", slug, "--types", "csv"]
    allm(*args)
    file.chmod(0o000)
    os.utime(file)  # changed: the second sync must read it again
    try:
        second = subprocess.run(
            [sys.executable, "-m", "anythingllm_bridge.cli", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=environment(home, allm.url, KEY),
            cwd=home,
            timeout=120,
            preexec_fn=without_dac_override(),
        )
    finally:
        file.chmod(0o644)
    assert second.returncode == 1, (second.stdout, second.stderr)
    assert "Traceback" not in second.stderr
    last = second.stderr.strip().splitlines()[-1]  # after the progress lines
    assert last.startswith("error: "), second.stderr
    assert last.startswith("error: a.csv could not be synced: cannot be read: permission denied;")
    no_class_name(last)


# --------------------------------------------------------------------------- threads and answers


def test_a_thread_in_a_workspace_that_does_not_exist(allm: Allm) -> None:
    line = one_line_error(allm("threads", "new", "nope", check=False), "workspace 'nope' does not exist")
    assert "thread" not in line


def test_a_thread_slug_that_is_taken(allm: Allm, api: AnythingLLM) -> None:
    slug = api.create_workspace("Taken slugs").workspace.slug
    allm("threads", "new", slug, "--slug", "taken-thread")
    line = one_line_error(allm("threads", "new", slug, "--slug", "taken-thread", check=False), "taken-thread")
    assert "is taken" in line
    assert "prisma" not in line.lower()


def test_a_cut_stream_puts_the_error_below_the_partial_answer(allm: Allm, api: AnythingLLM, emu: Any) -> None:
    slug = api.create_workspace("Cut streams").workspace.slug
    emu.emulator.faults.add("POST", f"/api/v1/workspace/{slug}/stream-chat", cut_stream_after=3)
    result = allm("ask", slug, "tell me everything", "--mode", "chat", check=False)
    assert result.stdout  # the part that arrived
    assert result.stdout.endswith("\n")  # so the error line starts a line of its own on a terminal
    no_class_name(one_line_error(result, "the answer stopped in the middle"))


def test_ctrl_c_during_a_streamed_answer(slow_server: tuple[str, threading.Event], home: Path) -> None:
    url, _ = slow_server
    proc = start_allm("ask", "docs", "a slow question", env=environment(home, url, KEY), cwd=home)
    assert proc.stdout is not None
    seen = ""
    while "answer" not in seen:  # the partial answer has arrived: the stream is in progress
        assert proc.poll() is None, proc.communicate()
        seen += proc.stdout.read(1)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (seen + rest) == "Partial answer\n"  # the error line starts a line of its own
    assert err == "error: interrupted\n"


def test_ctrl_c_while_waiting_for_the_server(slow_server: tuple[str, threading.Event], home: Path) -> None:
    url, arrived = slow_server
    proc = start_allm("workspaces", "list", env=environment(home, url, KEY), cwd=home)
    wait_for(arrived.is_set, proc, "the request")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out == ""
    assert err == "error: interrupted\n"


# --------------------------------------------------------------------------- usage errors (exit 2)


def test_empty_arguments_are_usage_errors_and_send_nothing(allm: Allm, api: AnythingLLM, emu: Any) -> None:
    slug = api.create_workspace("Empty input").workspace.slug
    start = mark(emu)
    one_line_error(allm("ask", slug, "", check=False), "QUESTION", "must not be empty", code=2)
    one_line_error(allm("ask", slug, "   ", check=False), "QUESTION", code=2)
    one_line_error(allm("search", slug, "", check=False), "QUERY", code=2)
    one_line_error(allm("workspaces", "create", "", check=False), "NAME", code=2)
    one_line_error(allm("workspaces", "show", "", check=False), "SLUG", code=2)
    one_line_error(allm("sync", ".", "--workspace", "", check=False), "--workspace", code=2)
    assert requests_since(emu, start) == []


def test_contradicting_or_missing_options_are_usage_errors(allm: Allm, api: AnythingLLM) -> None:
    slug = api.create_workspace("Usage errors").workspace.slug
    line = one_line_error(
        allm("ask", slug, "hello", "--thread", "t", "--session", "s", check=False), "--session", code=2
    )
    assert line.endswith("(see: allm ask --help)")
    one_line_error(allm("workspaces", "update", slug, check=False), "nothing to update", code=2)
    one_line_error(allm("demo", "--keep", check=False), "--keep", "--real", code=2)
    one_line_error(allm("-q", "-v", "workspaces", "list", check=False), "--quiet", code=2)
    one_line_error(allm("ask", slug, check=False), "missing argument 'QUESTION'", code=2)
    one_line_error(allm("workspaces", "list", "--bogus", check=False), "--bogus", code=2)
    misplaced = allm("workspaces", "list", "-q", check=False)  # an option of allm itself
    one_line_error(misplaced, "put it before the command", code=2)


def test_a_workspace_name_that_exists_is_refused_unless_allowed(allm: Allm, api: AnythingLLM) -> None:
    first = api.create_workspace("Twice Named").workspace
    line = one_line_error(allm("workspaces", "create", "twice named", check=False), first.slug)
    assert "--allow-duplicate" in line
    assert [w.name for w in api.list_workspaces()].count("Twice Named") == 1
    second = allm.json("workspaces", "create", "Twice Named", "--allow-duplicate")
    assert second["slug"] != first.slug
