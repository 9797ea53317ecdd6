"""``allm sync`` end to end against the emulator and (marked ``integration``) a real AnythingLLM:
a folder lands in the workspace with every file embedded once, and an unchanged second run sends
nothing. The command runs as a subprocess, as a person at a terminal runs it."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import KEY, Allm

from anythingllm_bridge.client import AnythingLLM
from anythingllm_bridge.testing import EmulatorThread
from support import NEEDS_REAL, REAL_KEY, REAL_URL

FILES = 24


@pytest.fixture(params=["emulator", pytest.param("real", marks=pytest.mark.integration)])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(url, key) of the server: a fresh emulator, or the real one of ANYTHINGLLM_URL."""
    if request.param == "real":
        if not (REAL_URL and REAL_KEY):
            pytest.skip(NEEDS_REAL)
        yield REAL_URL, REAL_KEY
    else:
        with EmulatorThread(api_key=KEY) as running:
            yield running.url, KEY


def stored_with(api: AnythingLLM, tag: str) -> list[str]:
    return sorted(d.location for d in api.list_documents() if d.location and tag in d.location)


def test_sync_embeds_each_file_once_and_an_unchanged_rerun_sends_nothing(
    target: tuple[str, str], tmp_path: Path
) -> None:
    url, key = target
    tag = f"allm-test-sync-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "source"
    folder.mkdir()
    for index in range(FILES):
        (folder / f"{tag}-{index:02d}.txt").write_text(
            f"Sync note {index}: the pulsar {index} tracks north.\n"
        )
    (tmp_path / "home").mkdir()
    allm = Allm(url, tmp_path / "home")
    with AnythingLLM(url, key) as api:
        slug = api.create_workspace(tag).workspace.slug
        run = ("sync", str(folder), "--workspace", slug, "--concurrency", "8", "--types", "txt")
        try:
            allm(*run, key=key)
            documents = api.get_workspace(slug).documents
            titles = Counter(str(d.metadata.get("title")) for d in documents)
            assert titles == Counter(f"{tag}-{index:02d}.txt" for index in range(FILES))
            stored = stored_with(api, tag)
            assert sorted(d.docpath for d in documents) == stored

            allm(*run, key=key)  # nothing changed: nothing sent, nothing removed
            assert sorted(d.docpath for d in api.get_workspace(slug).documents) == stored
            assert stored_with(api, tag) == stored
        finally:
            api.delete_workspace(slug)
            api.delete_documents_from_server(stored_with(api, tag))
