"""Progress output: bars on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

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
