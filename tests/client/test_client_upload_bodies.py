"""Upload bodies: small files are sent as bytes, large ones streamed from an open file — either way
the server receives every byte and the raw UTF-8 file name, also when the upload is retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.client.resources.documents import SMALL_FILE_BYTES


def text_of(size: int) -> str:
    line = "Line {:07d} of the observatory log: the dome opened at dusk.\n"
    lines = [line.format(number) for number in range(size // len(line.format(0)) + 1)]
    return "".join(lines)[:size]


@pytest.mark.parametrize("size", [64, SMALL_FILE_BYTES, SMALL_FILE_BYTES + 1, 3 * SMALL_FILE_BYTES])
async def test_every_byte_and_the_name_arrive_also_on_a_retry(
    emu_client: AnythingLLMClient, emulator: Any, tmp_path: Path, size: int
) -> None:
    name = f"journal été №{size}.txt"
    path = tmp_path / name
    text = text_of(size)
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size == size
    # The first attempt is refused (503, retried): the second must send the whole file again.
    emulator.emulator.faults.add("POST", "/api/v1/document/upload", status=503, times=1)

    result = await emu_client.upload_file(path)

    assert result.document.title == name
    assert result.document.page_content == text
    uploads = [r for r in emulator.emulator.faults.requests if r.path == "/api/v1/document/upload"]
    assert len(uploads) == 2
    assert all("Content-Length" in r.headers for r in uploads)  # never chunked: the size is known
