"""Progress output: bars on a terminal, plain lines elsewhere; what a sync waits for; one set of bars
whatever the passes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.ingest import FolderSource, sync
from anythingllm_bridge.ingest.progress import LineProgress, RichProgress, make_progress


def drive(progress: object) -> None:
    progress.start(3, 3000)  # type: ignore[attr-defined]
    progress.file_done("a.csv", 1000, "uploaded")  # type: ignore[attr-defined]
    progress.file_done("b.pdf", 1000, "rejected", "is really a PNG image")  # type: ignore[attr-defined]
    progress.file_done("c.json", 1000, "failed", "server error")  # type: ignore[attr-defined]
    progress.embedded(1)  # type: ignore[attr-defined]
    progress.finish()  # type: ignore[attr-defined]


def test_plain_lines_name_each_file_and_the_reason_it_was_not_sent() -> None:
    stream = io.StringIO()
    drive(LineProgress(stream))
    assert stream.getvalue().splitlines() == [
        "sending 3 file(s), 3.0 kB",
        "uploaded  a.csv (1.0 kB)",
        "rejected  b.pdf (1.0 kB): is really a PNG image",
        "failed    c.json (1.0 kB): server error",
        "embedded  1 document(s) in the workspace",
    ]


def test_bars_on_a_terminal_show_uploads_with_bytes_and_embedding() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    drive(RichProgress(console))
    text = stream.getvalue()
    assert "upload" in text
    assert "embed" in text
    assert "3.0 kB/3.0 kB" in text
    assert "B/s" in text  # the byte rate
    assert "3/3" in text
    assert "b.pdf: is really a PNG image" in text


def test_make_progress_picks_lines_for_a_pipe_and_nothing_when_quiet() -> None:
    assert isinstance(make_progress(stream=io.StringIO()), LineProgress)
    assert not isinstance(make_progress(quiet=True), LineProgress | RichProgress)


class EndsTheOutageWhenWaiting(LineProgress):
    """Plain lines, and the outage ends once the sync says what it waits for."""

    def __init__(self, faults: Any, stream: io.StringIO) -> None:
        super().__init__(stream)
        self.faults = faults

    def waiting(self, what: str, seconds: float) -> None:
        super().waiting(what, seconds)
        self.faults.outage(0)


async def test_a_sync_waiting_out_an_outage_says_so(emulator: Any, workspace: str, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# a\n")
    faults = emulator.emulator.faults
    faults.outage(3600)  # until the sync says it waits
    stream = io.StringIO()
    async with AnythingLLMClient(
        emulator.url, emulator.api_key, max_retries=0, failure_threshold=1, recovery_timeout=0.2
    ) as client:
        report = await sync(
            client, FolderSource(root), workspace=workspace, progress=EndsTheOutageWhenWaiting(faults, stream)
        )
    assert report.uploaded == ["a.md"]
    waits = [line for line in stream.getvalue().splitlines() if line.startswith("waiting")]
    assert waits
    assert "circuit breaker open" in waits[0]
    assert "GET /v1/workspace/" in waits[0]


def test_a_wait_shows_on_the_bars_and_as_a_line_before_them() -> None:
    stream = io.StringIO()
    progress = RichProgress(Console(file=stream, force_terminal=True, width=160))
    progress.waiting("the server is failing (circuit breaker open); trying GET /x again", 12.0)
    progress.start(2, 2000)
    progress.waiting("POST /v1/document/upload failed (503); trying again", 4.0)
    upload = progress.bars.tasks[0]
    assert upload.fields["extra"] == "waiting 4 s: POST /v1/document/upload failed (503); trying again"
    progress.file_done("a.md", 1000, "uploaded")  # work goes on: the bar shows the bytes again
    assert upload.fields["extra"].startswith("1.0 kB/2.0 kB")
    progress.finish()
    assert "waiting 12 s: the server is failing" in stream.getvalue()


async def test_after_a_second_pass_the_bars_are_one_set_and_never_overrun(
    emulator: Any, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for n in range(4):
        (root / f"n{n}.md").write_text(f"# note {n}\n" + "words " * 100)
    faults = emulator.emulator.faults
    faults.add("POST", "/api/v1/document/upload", drop="after_headers", times=1)  # landed, answer lost
    faults.add("POST", "/api/v1/document/upload", status=503, times=1)  # refused
    stream = io.StringIO()
    progress = RichProgress(Console(file=stream, force_terminal=True, width=160))
    async with AnythingLLMClient(emulator.url, emulator.api_key, max_retries=0) as client:
        report = await sync(client, FolderSource(root), workspace=workspace, progress=progress, concurrency=1)
    assert report.passes == 2
    assert report.uploaded == ["n0.md", "n1.md", "n2.md", "n3.md"]
    assert progress.state() == {"upload": (4, 4), "embed": (4, 4)}  # one set of bars, each file once
    assert len(progress.bars.tasks) == 2
    assert progress.done_bytes == progress.total_bytes == sum(f.stat().st_size for f in root.iterdir())
    text = stream.getvalue()
    assert "failed" not in text  # the files a later pass settled were never shown as failed
    assert "outcome is unknown" not in text


async def test_plain_lines_say_a_file_is_retried_not_that_it_failed(
    emulator: Any, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# a\n")
    emulator.emulator.faults.add("POST", "/api/v1/document/upload", status=503, times=1)
    stream = io.StringIO()
    async with AnythingLLMClient(emulator.url, emulator.api_key, max_retries=0) as client:
        report = await sync(client, FolderSource(root), workspace=workspace, progress=LineProgress(stream))
    assert report.uploaded == ["a.md"]
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"listing {root} ..."
    assert lines[1] == "sending 1 file(s), 4 B"
    assert lines[2].startswith("retrying  a.md: server error 503")
    assert lines[3] == "pass 2: trying 1 file(s) again"
    assert lines[4:] == [
        "sent      a.md (4 B)",
        "uploaded  a.md (4 B)",
        "embedded  1 document(s) in the workspace",
    ]
    assert not any(line.startswith("failed") for line in lines)


def test_the_send_bar_advances_per_upload_before_the_workspace_confirms_it() -> None:
    stream = io.StringIO()
    progress = RichProgress(Console(file=stream, force_terminal=True, width=160))
    progress.busy("listing /srv/docs")  # before the bars: a line
    progress.start(2, 2000)
    progress.sent("a.md", 1000)
    assert progress.state() == {"upload": (1, 2), "embed": (0, 2)}
    progress.sent("b.md", 1000)
    progress.embedded(1)
    progress.file_done("a.md", 1000, "uploaded")  # counted by its upload already
    assert progress.state() == {"upload": (2, 2), "embed": (1, 2)}
    progress.file_done("b.md", 1000, "failed", "not in the workspace")
    assert progress.state() == {"upload": (2, 2), "embed": (1, 1)}
    progress.finish()
    assert "listing /srv/docs ..." in stream.getvalue()


async def test_plain_lines_show_listing_hashing_and_each_upload(
    client: AnythingLLMClient, workspace: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("a.md", "b.md"):
        (root / name).write_text("# x\n")
    stream = io.StringIO()
    await sync(client, FolderSource(root), workspace=workspace, progress=LineProgress(stream))
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"listing {root} ..."
    assert lines.index("sending 2 file(s), 8 B") < lines.index("sent      a.md (4 B)")
    assert lines.index("sent      a.md (4 B)") < lines.index("uploaded  a.md (4 B)")
    stream.truncate(0)
    stream.seek(0)
    (root / "b.md").write_text("# b, changed\n")  # 13 B
    await sync(client, FolderSource(root), workspace=workspace, progress=LineProgress(stream))
    assert stream.getvalue().splitlines()[:2] == [
        f"listing {root} ...",
        "hashing 2 file(s), 17 B ...",  # no cache: every file with a document is read
    ]


def test_control_characters_in_keys_and_reasons_are_shown_escaped() -> None:
    stream = io.StringIO()
    progress = LineProgress(stream)
    progress.start(1, 10)
    progress.file_done("evil\x1b[2J.md", 10, "failed", "cannot be read: evil\x1b[2J.md\nis gone")
    progress.note("the cache evil\x1b]0;title\x07 is odd")
    assert stream.getvalue().splitlines()[1:] == [
        "failed    evil\\x1b[2J.md (10 B): cannot be read: evil\\x1b[2J.md\\nis gone",
        "the cache evil\\x1b]0;title\\x07 is odd",
    ]
