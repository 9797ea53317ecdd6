"""The README's library quick start (also the API reference's, which includes it) runs as printed
against the emulator: only the server URL and the key are the emulator's."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import anythingllm_bridge
from anythingllm_bridge.testing import EmulatorThread

README = Path(__file__).parents[2] / "README.md"
SAMPLE_PDF = Path(anythingllm_bridge.__file__).parent / "cli" / "demo_data" / "observatory-handbook.pdf"


def quick_start() -> list[str]:
    """The Python blocks between the README's quickstart markers (what the reference includes)."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"\[start:quickstart\] -->\n(.*?)<!-- --8<-- \[end:quickstart\]", text, re.DOTALL)
    assert section is not None, "README.md has lost its quickstart markers"
    return re.findall(r"```python\n(.*?)```", section.group(1), re.DOTALL)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The emulator, and a working folder with the files the quick start uploads."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(SAMPLE_PDF, tmp_path / "report.pdf")
    (tmp_path / "a.md").write_text("# Notes\nThe report is about telescopes.\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("telescope,aperture\nBig Glorp,600\n", encoding="utf-8")
    with EmulatorThread(api_key="README-KEY") as running:
        yield running


def run(block: str, served: Any) -> None:
    code = block.replace("http://localhost:3001", served.url).replace("YOUR-API-KEY", served.api_key)
    exec(compile(code, "README.md quick start", "exec"), {"__name__": "readme"})


def test_the_quick_start_has_an_async_and_a_blocking_example() -> None:
    blocks = quick_start()
    assert len(blocks) == 2
    assert "AnythingLLMClient(" in blocks[0]
    assert "AnythingLLM(" in blocks[1]


def test_the_async_quick_start_runs(served: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(quick_start()[0], served)
    printed = capsys.readouterr().out
    assert "reachable=True" in printed
    assert printed.count(" embedded ") == 2  # a.md and b.csv, uploaded and confirmed
    workspace = served.emulator.store.workspace("docs")
    assert [t.name for t in served.emulator.store.workspace_threads(workspace)] == ["Analysis Thread"]


def test_the_blocking_quick_start_runs(served: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(quick_start()[1], served)
    assert "STUB ANSWER" in capsys.readouterr().out  # the emulator's answer, streamed
