"""Fault-storm soak: sync ``SOAK_DOCS`` documents (default 1,000) into the emulator while it fails at
random with a fixed seed, then check that the workspace holds each document exactly once.

The storm, on every ``/api`` request: 20 % answer 503, 5 % 429 with ``Retry-After: 1``, 2.5 % drop the
connection before answering (the request was read, not handled), 2.5 % drop it after the answer's headers
(the request was handled, the answer is lost), 3 % are 50 ms slower and 1 % 300 ms slower; 5 % of the
documents added to the workspace are silently left out (200 all the same); and a 3-second outage (every
request 503) starts when half the documents have landed.

The client runs with its defaults (3 retries, breaker at 5 failures) except a fast retry sleep (waits are
recorded, not slept) and a 0.25 s breaker recovery, so the run takes seconds, not minutes.

A sync is what a user runs: ``anythingllm_bridge.ingest.sync``, once, with its defaults. It has to land
every file in that one run: a call the open breaker refused waits out ``retry_in`` (really: the breaker
runs on the real clock) and is made again, and a file that failed for a transient reason (an upload whose
answer was lost, retries run out, a document left out of the workspace, an old version not removed) is
tried again in a further pass, re-planned as a next run would (a lost upload is adopted by its marker).
Its report must account for every file once, with no failure; then a second sync must send nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hardening_support import SUMMARY, FastSleep

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.errors import AnythingLLMCircuitOpenError, AnythingLLMError
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, Marker, NullProgress, SyncReport, sync
from anythingllm_bridge.ingest.run import MAX_PASSES
from anythingllm_bridge.resilience.breaker import BreakerEvent, CircuitState
from anythingllm_bridge.testing import run_emulator
from anythingllm_bridge.testing.faults import FaultInjector
from anythingllm_bridge.validation import FileValidator

SOAK_API_KEY = "SOAK-TEST-API-KEY"
DOCS = int(os.environ.get("SOAK_DOCS", "1000"))
OUTAGE_SECONDS = 3.0
RECOVERY_TIMEOUT = 0.25
SEED = 20261122
T = TypeVar("T")


def storm(faults: FaultInjector) -> list[str]:
    """Add the random faults (first matching rule wins, so each chance is given relative to what the
    earlier rules left) and the embedding loss; returns the rule ids."""
    rules = [
        faults.add("*", "/api/*", status=503, probability=0.20, seed=SEED + 1, times=None),
        faults.add(
            "*", "/api/*", status=429, retry_after="1", probability=0.05 / 0.80, seed=SEED + 2, times=None
        ),
        faults.add("*", "/api/*", drop="before_headers", probability=0.025 / 0.75, seed=SEED + 3, times=None),
        faults.add("*", "/api/*", drop="after_headers", probability=0.025 / 0.725, seed=SEED + 4, times=None),
        faults.add("*", "/api/*", latency=0.05, probability=0.03 / 0.70, seed=SEED + 5, times=None),
        faults.add("*", "/api/*", latency=0.3, probability=0.01 / 0.67, seed=SEED + 6, times=None),
    ]
    faults.lose_embeddings(fraction=0.05, seed=SEED + 7, update_embeddings=True)
    return rules


class OutageHalfway(NullProgress):
    """Starts the outage when half of the documents have been uploaded; keeps the sync's notes."""

    def __init__(self, faults: FaultInjector, at: int) -> None:
        self.faults, self.at, self.uploaded = faults, at, 0
        self.started_at: float | None = None
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def file_done(self, key: str, size: int, status: str, detail: str = "") -> None:
        if status in ("uploaded", "replaced"):
            self.uploaded += 1
            if self.uploaded == self.at and self.started_at is None:
                self.started_at = time.monotonic()
                self.faults.outage(OUTAGE_SECONDS)


async def sync_once(
    client: AnythingLLMClient, root: Path, manifest: Path, slug: str, progress: NullProgress
) -> SyncReport:
    """One sync, as a user runs it."""
    return await sync(
        client,
        FolderSource(root),
        FileManifestStore(manifest),
        workspace=slug,
        validator=FileValidator(allowed_file_types=["txt"]),
        progress=progress,
    )


async def patiently(read: Callable[[], Awaitable[T]]) -> T:
    """The test's own reads, under the storm: tried again until one gets through."""
    for _ in range(30):
        try:
            return await read()
        except AnythingLLMCircuitOpenError as exc:
            await asyncio.sleep(exc.retry_in)
        except AnythingLLMError:
            continue
    raise AssertionError("30 reads in a row failed")


@pytest.mark.soak
async def test_a_fault_storm_sync_ends_with_every_document_exactly_once(tmp_path: Path) -> None:
    started = time.monotonic()
    root = tmp_path / "docs"
    keys = []
    for i in range(DOCS):
        key = f"part-{i // 100:03}/doc-{i:05}.txt"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(f"Document {i} of the soak. It mentions the number {i * 7919 % 10007}.\n")
        keys.append(key)
    manifest = tmp_path / "state" / "manifest.json"
    events: list[BreakerEvent] = []
    sleep = FastSleep()

    async with (
        run_emulator(api_key=SOAK_API_KEY) as running,
        AnythingLLMClient(
            running.url,
            running.api_key,
            sleep=sleep,
            recovery_timeout=RECOVERY_TIMEOUT,
            on_breaker_change=events.append,
        ) as client,
    ):
        faults = running.emulator.faults
        slug = (await client.create_workspace("Soak")).workspace.slug
        rules = storm(faults)
        outage = OutageHalfway(faults, DOCS // 2)

        final = await sync_once(client, root, manifest, slug, outage)

        # the one run accounts for every file, once, and every one landed
        assert sorted(final.outcomes) == keys
        assert final.rejected == {}
        assert final.failed == {}
        assert final.uploaded == keys  # final outcomes: a file landed in a later pass is "uploaded"
        assert 1 < final.passes <= MAX_PASSES

        # right after that run, the workspace holds exactly the documents: none lost, none twice, the
        # ones the report names
        docpaths = [doc.docpath for doc in (await patiently(lambda: client.get_workspace(slug))).documents]
        assert len(docpaths) == len(set(docpaths)) == DOCS
        assert set(docpaths) == {final.outcomes[k].location for k in keys}

        # the storm really happened
        hits = {rule["id"]: rule["hits"] for rule in faults.active() if rule["kind"] == "rule"}
        assert sorted(hits) == sorted(rules)
        assert all(hits.values()), hits
        outage_answers = sum(1 for r in faults.requests if r.fault == "outage")
        assert outage.started_at is not None
        assert outage_answers > 0
        assert faults.embeddings_lost > 0
        assert 1.0 in sleep.waits  # Retry-After: 1 was honoured
        opened = sum(e.old_state is CircuitState.CLOSED and e.new_state is CircuitState.OPEN for e in events)
        closed = sum(e.new_state is CircuitState.CLOSED for e in events)
        assert opened >= 1
        assert closed >= 1
        requests = len(faults.requests) if len(faults.requests) < 10_000 else "over 10,000"

        # a second sync (the storm still on) uploads nothing and embeds nothing ...
        faults.clear_requests()
        second = await sync_once(client, root, manifest, slug, NullProgress())
        sent_again = {
            k: (o.status, o.detail, o.location) for k, o in second.outcomes.items() if o.status != "unchanged"
        }
        assert sent_again == {}
        assert second.unchanged == keys
        assert [r.path for r in faults.requests if r.method == "POST"] == []  # no upload, no embedding
        # ... it may still delete from the server (not the workspace) an old copy whose deletion failed
        # before: the pipeline leaves that to the next sync, and it does not touch the workspace
        cleanup = [r for r in faults.requests if r.method == "DELETE"]
        assert {r.path for r in cleanup} <= {"/api/v1/system/remove-documents"}

        # and then the server holds no copy of ours but those in the workspace, one per file
        after = [doc.docpath for doc in (await patiently(lambda: client.get_workspace(slug))).documents]
        assert sorted(after) == sorted(docpaths)
        listed = await patiently(client.list_documents)
        ours = [d for d in listed if Marker.parse(d.doc_source) is not None]
        assert sorted(d.location or "" for d in ours) == sorted(docpaths)
        assert Counter(d.title for d in ours) == Counter(Path(k).name for k in keys)
        assert {second.outcomes[k].location for k in keys} == set(docpaths)  # the manifest agrees

    elapsed = time.monotonic() - started
    SUMMARY.append(
        f"soak: {DOCS} documents in {elapsed:.1f} s; one sync of {final.passes} passes "
        f"({final.elapsed:.1f} s; {[n for n in outage.notes if n.startswith('pass ')]}), "
        f"then an unchanged one of {second.passes}; "
        f"{requests} requests: {sum(hits.values())} hit by a random fault, {outage_answers} by the outage; "
        f"{faults.embeddings_lost} embeddings lost; breaker opened {opened}x, closed {closed}x; "
        f"unchanged re-sync: 0 uploads, {len(cleanup)} clean-up request(s) for leftover copies"
    )
