"""Sync acceptance: a folder into a workspace over real HTTP to the emulator."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ingest_support import TYPES, Syncer

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import AnythingLLMError, IngestError
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, Marker, NullProgress, sync
from anythingllm_bridge.resilience.breaker import BreakerEvent, CircuitState
from anythingllm_bridge.validation import FileValidator
from support import docpaths, mark, no_sleep, requests_since, uploads

GOOD = ["cities.csv", "kittens.pdf", "sub/product.json"]


async def our_documents(client: AnythingLLMClient) -> list[Any]:
    return [d for d in await client.list_documents() if Marker.parse(d.doc_source) is not None]


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


async def test_first_sync_uploads_embeds_and_reports_rejected_files(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str
) -> None:
    report = await run_sync()
    assert report.uploaded == GOOD
    assert list(report.rejected) == ["chart.pdf"]
    assert "PNG" in report.rejected["chart.pdf"] or "png" in report.rejected["chart.pdf"]
    assert report.failed == {}
    locations = {report.outcomes[key].location for key in GOOD}
    assert sorted(await docpaths(client, workspace)) == sorted(locations)
    titles = sorted(d.title for d in await our_documents(client))
    assert titles == ["cities.csv", "kittens.pdf", "product.json"]  # the PNG never reached the server


async def test_second_sync_of_unchanged_files_sends_nothing(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, emulator: Any
) -> None:
    first = await run_sync()
    start = mark(emulator)
    second = await run_sync()
    sent = requests_since(emulator, start)
    assert uploads(sent) == 0
    assert [r for r in sent if r.method != "GET"] == []
    assert second.unchanged == GOOD
    assert second.uploaded == []
    assert sorted(await docpaths(client, workspace)) == sorted(first.outcomes[k].location for k in GOOD)


async def test_a_changed_file_replaces_its_old_version_everywhere(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, docs: Path
) -> None:
    first = await run_sync()
    old = first.outcomes["cities.csv"].location
    (docs / "cities.csv").write_text("city,country\nOslo,Norway\nLima,Peru\nHue,Vietnam\n")
    touch_later(docs / "cities.csv")
    second = await run_sync()
    assert second.replaced == ["cities.csv"]
    assert second.unchanged == ["kittens.pdf", "sub/product.json"]
    new = second.outcomes["cities.csv"].location
    assert new
    assert new != old
    in_workspace = await docpaths(client, workspace)
    on_server = {d.location for d in await client.list_documents()}
    assert new in in_workspace
    assert new in on_server
    assert old not in in_workspace
    assert old not in on_server
    assert len(in_workspace) == 3


async def test_a_touched_but_identical_file_is_not_sent(run_sync: Syncer, docs: Path, emulator: Any) -> None:
    await run_sync()
    touch_later(docs / "kittens.pdf")
    start = mark(emulator)
    report = await run_sync()
    assert report.unchanged == GOOD
    assert uploads(requests_since(emulator, start)) == 0


async def test_prune_removes_documents_whose_file_is_gone_and_only_those(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, docs: Path, tmp_path: Path
) -> None:
    someone_else = tmp_path / "theirs.txt"
    someone_else.write_text("uploaded by a colleague, not by sync")
    theirs = await client.upload_file(someone_else, workspaces=[workspace])
    first = await run_sync()
    gone = first.outcomes["sub/product.json"].location
    (docs / "sub" / "product.json").unlink()

    kept = await run_sync()
    assert kept.gone == ["sub/product.json"]
    assert kept.removed == []
    assert gone in await docpaths(client, workspace)

    pruned = await run_sync(prune=True)
    assert pruned.removed == ["sub/product.json"]
    in_workspace = await docpaths(client, workspace)
    assert gone not in in_workspace
    assert gone not in {d.location for d in await client.list_documents()}
    assert theirs.location in in_workspace  # a document sync did not upload is never touched
    assert len(in_workspace) == 3


async def test_dry_run_prints_the_plan_and_sends_nothing(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, docs: Path, emulator: Any
) -> None:
    await run_sync()
    (docs / "new.md").write_text("# brand new\n")
    (docs / "cities.csv").write_text("city,country\nRome,Italy\n")
    touch_later(docs / "cities.csv")
    (docs / "kittens.pdf").unlink()
    start = mark(emulator)
    plan = await run_sync(dry_run=True, prune=True)
    sent = requests_since(emulator, start)
    assert [r for r in sent if r.method != "GET"] == []
    assert plan.dry_run
    assert plan.uploaded == ["new.md"]
    assert plan.replaced == ["cities.csv"]
    assert plan.removed == ["kittens.pdf"]
    assert plan.unchanged == ["sub/product.json"]
    assert len(await docpaths(client, workspace)) == 3
    real = await run_sync(prune=True)  # the dry run left the manifest as it was
    assert (real.uploaded, real.replaced, real.removed) == (["new.md"], ["cities.csv"], ["kittens.pdf"])


async def test_an_unknown_workspace_stops_the_sync_before_anything_is_sent(
    client: AnythingLLMClient, docs: Path, tmp_path: Path, emulator: Any
) -> None:
    from anythingllm_bridge.errors import IngestError

    start = mark(emulator)
    with pytest.raises(IngestError, match="workspace 'nope' does not exist"):
        await sync(client, FolderSource(docs), FileManifestStore(tmp_path / "m.json"), workspace="nope")
    assert uploads(requests_since(emulator, start)) == 0
    slug = (await client.create_workspace("Team Handbook")).workspace.slug
    assert slug == "team-handbook"
    for given, hint in (
        ("Team-Handbook", "slugs are lower case; did you mean 'team-handbook'?"),
        ("team handbook", "that is the name of workspace 'team-handbook'; pass its slug"),
        ("nope", "create it first (allm workspaces create NAME) and pass its slug"),
    ):
        with pytest.raises(IngestError) as refused:
            await sync(client, FolderSource(docs), workspace=given)
        assert str(refused.value) == f"workspace {given!r} does not exist: {hint}"
    assert uploads(requests_since(emulator, start)) == 0


def many_files(root: Path, count: int) -> list[str]:
    shutil.rmtree(root)
    root.mkdir()
    keys = []
    for n in range(count):
        (root / f"note-{n:02d}.txt").write_text(f"note number {n}: the quick brown fox {n * 7}\n")
        keys.append(f"note-{n:02d}.txt")
    return keys


async def assert_exactly(client: AnythingLLMClient, workspace: str, keys: list[str]) -> None:
    """The workspace holds each file once, and the server holds no extra copy of ours."""
    ours = await our_documents(client)
    titles = Counter(d.title for d in ours)
    assert titles == Counter(Path(k).name for k in keys)
    in_workspace = await docpaths(client, workspace)
    assert sorted(in_workspace) == sorted(d.location for d in ours)


async def test_an_interrupted_sync_resumes_to_the_same_state_without_duplicates(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, docs: Path, emulator: Any
) -> None:
    keys = many_files(docs, 12)
    faults = emulator.emulator.faults
    # the connection drops after the server did the work (the document exists, the answer is lost) ...
    faults.add(method="POST", path="/api/v1/document/upload", drop="after_headers", times=2)
    # ... and before it did anything
    faults.add(method="POST", path="/api/v1/document/upload", drop="before_headers", times=2)
    first = await run_sync(concurrency=3, max_passes=1)  # one pass: the run ends with the losses
    assert len(first.failed) == 4, first.failed
    assert len(first.uploaded) == 8

    faults.clear()
    # the listing that finds those copies fails (through the client's 4 attempts): the resumed files
    # wait for a second pass
    faults.add(method="GET", path="/api/v1/documents", status=500, times=4)
    start = mark(emulator)
    second = await run_sync(concurrency=3)
    assert second.failed == {}
    assert second.passes == 2
    # the two documents that landed although their answer was lost are in the workspace (found by
    # their marker): unchanged; only the two the server never handled are sent
    assert len(second.uploaded) == 2
    assert sorted(second.uploaded + [k for k in second.unchanged if k in first.failed]) == sorted(
        first.failed
    )
    assert uploads(requests_since(emulator, start)) == 2
    await assert_exactly(client, workspace, keys)

    third = await run_sync()
    assert third.unchanged == keys


async def test_one_sync_recovers_lost_answers_in_a_second_pass_without_sending_twice(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, docs: Path, emulator: Any
) -> None:
    keys = many_files(docs, 12)
    faults = emulator.emulator.faults
    faults.add(method="POST", path="/api/v1/document/upload", drop="after_headers", times=2)  # landed
    faults.add(method="POST", path="/api/v1/document/upload", drop="before_headers", times=2)  # did not
    start = mark(emulator)
    report = await run_sync(concurrency=3)
    assert report.failed == {}
    assert report.uploaded == keys  # each file once, with its final outcome
    assert report.passes == 2
    assert report.to_json()["passes"] == 2
    # 12 sent in the first pass; in the second, the 2 that landed are adopted by their marker and
    # only the 2 the server never handled are sent again
    assert uploads(requests_since(emulator, start)) == 14
    await assert_exactly(client, workspace, keys)
    assert (await run_sync()).unchanged == keys


async def test_one_sync_waits_out_an_open_breaker_and_tries_the_failed_file_again(
    workspace: str, docs: Path, emulator: Any, tmp_path: Path
) -> None:
    keys = many_files(docs, 3)
    faults = emulator.emulator.faults
    faults.add(method="POST", path="/api/v1/document/upload", status=503, times=1)
    events: list[BreakerEvent] = []
    waits: list[float] = []
    start = mark(emulator)
    async with AnythingLLMClient(
        emulator.url,
        emulator.api_key,
        max_retries=0,
        failure_threshold=1,  # the 503 opens the breaker: the next upload is refused unsent
        recovery_timeout=600,  # and it stays open until the wait below has passed, however slow the machine
        on_breaker_change=events.append,
    ) as breaking:

        async def sleep(seconds: float) -> None:  # the breaker's wait, passed without waiting
            waits.append(seconds)
            breaking.breaker.reset()

        report = await Syncer(breaking, workspace, docs, tmp_path / "manifest.json")(
            concurrency=1, sleep=sleep, max_wait=900
        )
    assert report.failed == {}
    assert report.uploaded == keys
    assert report.stopped is None
    assert report.passes == 2  # the 503'd file, in a second pass
    assert len(waits) == 1  # the breaker's retry_in, waited out once
    assert 590 < waits[0] <= 600
    assert [e.new_state for e in events][:1] == [CircuitState.OPEN]
    assert uploads(requests_since(emulator, start)) == 4  # 3 files + the one the 503 refused


async def test_a_breaker_open_for_longer_than_max_wait_stops_the_sync_saying_why(
    workspace: str, docs: Path, emulator: Any, tmp_path: Path
) -> None:
    keys = many_files(docs, 3)
    emulator.emulator.faults.add(method="POST", path="/api/v1/document/upload", status=503, times=1)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    start = mark(emulator)
    async with AnythingLLMClient(
        emulator.url, emulator.api_key, max_retries=0, failure_threshold=1, recovery_timeout=600
    ) as breaking:
        report = await Syncer(breaking, workspace, docs, tmp_path / "manifest.json")(
            concurrency=1, sleep=sleep, max_wait=30
        )
    assert waits == []  # a wait that cannot fit is not begun
    assert report.uploaded == []
    assert sorted(report.failed) == keys
    assert report.stopped is not None
    assert "lets the next call through only in" in report.stopped
    assert "more than the 30 s left of the 30 s the sync may wait for it (--max-wait" in report.stopped
    assert report.warnings == [f"stopped waiting: {report.stopped}; the files not sent yet are not tried"]
    assert all(report.outcomes[key].transient for key in keys)  # worth running again later
    assert uploads(requests_since(emulator, start)) == 1  # the 503'd one; nothing after the breaker opened


async def test_the_first_read_survives_one_dropped_connection_but_not_two(
    run_sync: Syncer, workspace: str, docs: Path, emulator: Any
) -> None:
    keys = many_files(docs, 2)
    faults = emulator.emulator.faults
    # the client's 4 attempts all dropped: the sync tries the read once more (breaker still closed)
    faults.add(method="GET", path=f"/api/v1/workspace/{workspace}", drop="before_headers", times=4)
    assert (await run_sync()).uploaded == keys
    faults.add(method="GET", path=f"/api/v1/workspace/{workspace}", drop="before_headers", times=8)
    with pytest.raises(AnythingLLMError):  # twice: as for a server that is not there, it gives up
        await run_sync()


async def test_a_file_the_server_refuses_is_not_tried_again(
    run_sync: Syncer, workspace: str, docs: Path, emulator: Any
) -> None:
    keys = many_files(docs, 3)
    faults = emulator.emulator.faults
    faults.add(method="POST", path="/api/v1/document/upload", status=422, times=1)
    start = mark(emulator)
    report = await run_sync(concurrency=1)
    assert len(report.failed) == 1
    assert len(report.uploaded) == 2
    assert sorted([*report.failed, *report.uploaded]) == keys
    assert report.passes == 1
    assert uploads(requests_since(emulator, start)) == 3


async def test_retry_bounds_must_make_sense(run_sync: Syncer) -> None:
    with pytest.raises(IngestError, match="max_passes"):
        await run_sync(max_passes=0)
    with pytest.raises(IngestError, match="max_wait"):
        await run_sync(max_wait=-1)


class StopAfter(NullProgress):
    """Cancels the sync (as Ctrl-C would) once ``n`` files have been uploaded."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.task: asyncio.Task[Any] | None = None

    def sent(self, key: str, size: int) -> None:
        self.n -= 1
        if self.n == 0 and self.task is not None:
            self.task.cancel()


async def test_a_cancelled_sync_resumes_without_duplicates(
    client: AnythingLLMClient, workspace: str, docs: Path, tmp_path: Path
) -> None:
    keys = many_files(docs, 10)
    manifest = tmp_path / "manifest.json"
    stopper = StopAfter(4)

    async def run(progress: Any = None) -> Any:
        return await sync(
            client,
            FolderSource(docs),
            FileManifestStore(manifest),
            workspace=workspace,
            validator=FileValidator(allowed_file_types=TYPES),
            concurrency=2,
            progress=progress,
        )

    task = asyncio.create_task(run(stopper))
    stopper.task = task
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the sync was meant to be cancelled")
    resumed = await run()
    assert resumed.failed == {}
    await assert_exactly(client, workspace, keys)
    # the 4 uploads that went through before the interruption are found, not sent again (one more
    # may have been on its way: concurrency 2)
    assert len(resumed.uploaded) <= len(keys) - 4
    assert len(resumed.unchanged) >= 4


async def test_a_document_taken_out_of_the_workspace_is_embedded_again_without_upload(
    run_sync: Syncer, client: AnythingLLMClient, workspace: str, emulator: Any
) -> None:
    first = await run_sync()
    location = first.outcomes["kittens.pdf"].location
    assert location is not None
    await client.update_embeddings(workspace, deletes=[location])
    start = mark(emulator)
    second = await run_sync()
    assert uploads(requests_since(emulator, start)) == 0
    assert second.unchanged == GOOD
    assert second.outcomes["kittens.pdf"].detail.startswith("re-embedded")
    assert location in await docpaths(client, workspace)


class FailWorkspaceReadsOnceSending(NullProgress):
    """When sending starts, the next ``times`` reads of the workspace answer 500."""

    def __init__(self, faults: Any, slug: str, times: int) -> None:
        self.faults, self.slug, self.times = faults, slug, times

    def start(self, files: int, total_bytes: int) -> None:
        self.faults.add("GET", f"/api/v1/workspace/{self.slug}", status=500, times=self.times)


async def test_a_pass_that_cannot_start_is_tried_again_not_counted(
    workspace: str, docs: Path, emulator: Any, tmp_path: Path
) -> None:
    keys = many_files(docs, 3)
    faults = emulator.emulator.faults
    # the check after sending cannot read the workspace (4 attempts): every file needs a pass 2, and
    # the first start of pass 2 fails too (4 attempts); with two passes allowed, pass 2 still runs
    progress = FailWorkspaceReadsOnceSending(faults, workspace, times=8)
    async with AnythingLLMClient(
        emulator.url, emulator.api_key, sleep=no_sleep, max_retries=3, failure_threshold=100
    ) as patient:
        report = await Syncer(patient, workspace, docs, tmp_path / "manifest.json")(
            concurrency=1, max_passes=2, progress=progress
        )
    assert report.failed == {}
    assert report.uploaded == keys
    assert report.passes == 2


class UploadsSeenAtEachAnswer(NullProgress):
    """Notes, as each upload's answer arrives, how many uploads the emulator has received."""

    def __init__(self, emulator: Any, start: int) -> None:
        self.emulator = emulator
        self.since = start
        self.counts: list[int] = []

    def sent(self, key: str, size: int) -> None:
        self.counts.append(uploads(requests_since(self.emulator, self.since)))


async def test_into_a_fresh_workspace_the_first_file_goes_alone(
    run_sync: Syncer, docs: Path, emulator: Any
) -> None:
    """As ``upload_documents`` does: a real server drops concurrent first embeddings into a fresh
    workspace (they race to create its vector table)."""
    keys = many_files(docs, 5)
    # slow uploads: had the others started with the first, they would be in the log by its answer
    emulator.emulator.faults.add("POST", "/api/v1/document/upload", latency=0.2, times=None)
    start = mark(emulator)
    seen = UploadsSeenAtEachAnswer(emulator, start)
    report = await run_sync(concurrency=4, progress=seen)
    assert report.uploaded == keys
    assert seen.counts[0] == 1  # when the first upload's answer came, the server had seen it alone
    assert uploads(requests_since(emulator, start)) == 5
