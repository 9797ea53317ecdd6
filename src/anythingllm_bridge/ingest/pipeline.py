"""Sync a source into a workspace: validate → archive → upload → embed → verify, resumably.

Per file, with at most ``concurrency`` files in flight:

1. validate the content (a rejected file is reported with its reason and never sent);
2. optionally archive it into a storage under ``processed/<type>/<key>``;
3. record the upload as *pending* in the manifest, upload it with a marker in ``docSource``
   (``anythingllm-bridge:<sync id>:<key hash>:<sha256>``), record its location;
4. embed it into the workspace. Embedding runs beside the uploads in batches (one
   ``update-embeddings`` call takes many documents); the client checks each batch against the
   workspace and the pipeline asks once more for any document the server silently dropped.

Then, for the whole run: the previous versions of replaced files (and, with ``prune``, documents
whose file is gone) are removed from the workspace and the server — only after the new version is
confirmed in the workspace. The manifest is updated after every step, so an interrupted run
resumes: an uploaded-but-not-embedded document is embedded, and a pending upload whose document
did land is found again by its marker and adopted instead of being uploaded twice. Documents
without our marker are never touched.

One run converges by itself under transient failures, in *passes*:

* a call refused by the open circuit breaker (nothing was sent) waits out the breaker's
  ``retry_in`` and is made again, in place, for at most ``max_wait`` seconds of waiting per run
  (the client does this: the run's calls carry one ``BreakerWait`` budget of ``max_wait``);
* a file that failed for a transient reason (``resilience.is_transient``) — an upload whose answer
  was lost (outcome unknown), a 429/5xx or a broken connection after the client's own retries, a
  document the server left out
  of the workspace, an old version not yet removed — is tried again in a further pass, at most
  ``max_passes`` passes in all. Each pass re-plans those files against the manifest and the
  workspace exactly as the next run would (a lost upload is adopted by its marker, an uploaded
  document re-embedded), so nothing is sent twice. Permanent failures (validation, other 4xx,
  storage and file errors) are not tried again.

The report holds each file once, with its final outcome, and how many passes ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from anythingllm_bridge.config import Settings
from anythingllm_bridge.errors import (
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    FileValidationError,
    IngestError,
    StorageError,
)
from anythingllm_bridge.ingest.manifest import Manifest, ManifestEntry, ManifestStore
from anythingllm_bridge.ingest.plan import Action, PlanItem, SyncPlan, make_plan
from anythingllm_bridge.ingest.progress import NullProgress, Progress
from anythingllm_bridge.ingest.source import Source, SourceFile, sha256_file
from anythingllm_bridge.resilience.breaker import CircuitState
from anythingllm_bridge.resilience.breaker_wait import BreakerWait
from anythingllm_bridge.resilience.transient import is_transient
from anythingllm_bridge.tracing import get_logger

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.storage import StorageClient
    from anythingllm_bridge.validation import FileValidator

__all__ = ["FileOutcome", "SyncReport", "marker_for", "sync"]

logger = get_logger("anythingllm_bridge.ingest")

MARKER_PREFIX = "anythingllm-bridge:"
EMBED_BATCH = 32
MAX_PASSES: int = Settings.model_fields["ingest_max_passes"].default  # INGEST_MAX_PASSES, --max-passes
MAX_WAIT: float = Settings.model_fields["ingest_max_wait"].default  # INGEST_MAX_WAIT, --max-wait
Status = Literal["uploaded", "replaced", "unchanged", "removed", "rejected", "failed"]
STATUSES: tuple[Status, ...] = ("uploaded", "replaced", "unchanged", "removed", "rejected", "failed")


@dataclass(frozen=True, slots=True)
class FileOutcome:
    key: str
    status: Status
    detail: str = ""
    location: str | None = None
    size: int = 0


@dataclass(slots=True)
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do): one outcome per file."""

    workspace: str
    source: str
    manifest: str
    dry_run: bool = False
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    """Files that left the source but whose documents were kept (no ``prune``)."""
    elapsed: float = 0.0
    passes: int = 1
    """How many passes the run took (1 when nothing had to be tried again)."""

    def keys(self, status: Status) -> list[str]:
        return sorted(k for k, o in self.outcomes.items() if o.status == status)

    def details(self, status: Status) -> dict[str, str]:
        return {k: self.outcomes[k].detail for k in self.keys(status)}

    @property
    def uploaded(self) -> list[str]:
        return self.keys("uploaded")

    @property
    def replaced(self) -> list[str]:
        return self.keys("replaced")

    @property
    def unchanged(self) -> list[str]:
        return self.keys("unchanged")

    @property
    def removed(self) -> list[str]:
        return self.keys("removed")

    @property
    def rejected(self) -> dict[str, str]:
        return self.details("rejected")

    @property
    def failed(self) -> dict[str, str]:
        return self.details("failed")

    @property
    def ok(self) -> bool:
        """True when nothing failed (rejected files are the user's to fix, not a failure)."""
        return not self.failed

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for outcome in self.outcomes.values():
            counts[outcome.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "source": self.source,
            "manifest": self.manifest,
            "dry_run": self.dry_run,
            "uploaded": self.uploaded,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "rejected": self.rejected,
            "failed": self.failed,
            "gone": self.gone,
            "counts": self.counts(),
            "locations": {k: o.location for k, o in sorted(self.outcomes.items()) if o.location},
            "elapsed": round(self.elapsed, 3),
            "passes": self.passes,
        }


def marker_for(sync_id: str, key: str, sha256: str) -> str:
    """The ``docSource`` that identifies a document uploaded by this sync for this file version."""
    return f"{_key_marker(sync_id, key)}{sha256}"


def _key_marker(sync_id: str, key: str) -> str:
    key_hash = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{MARKER_PREFIX}{sync_id}:{key_hash}:"


async def sync(
    client: AnythingLLMClient,
    source: Source,
    store: ManifestStore,
    *,
    workspace: str,
    validator: FileValidator | None = None,
    prune: bool = False,
    dry_run: bool = False,
    concurrency: int = 4,
    archive: StorageClient | None = None,
    progress: Progress | None = None,
    embed_batch: int = EMBED_BATCH,
    clock: Callable[[], float] = time.monotonic,
    max_passes: int = MAX_PASSES,
    max_wait: float = MAX_WAIT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SyncReport:
    """Make ``workspace`` hold exactly the valid files of ``source`` (see the module docstring).

    Raises :class:`IngestError` when the sync cannot start (unknown workspace, missing source,
    unreadable manifest); per-file problems are reported in the returned :class:`SyncReport`.
    Connection-level failures after the start (breaker open, server gone) are reported per file
    too; the manifest is always left consistent, so running the same sync again resumes.

    Transient failures are tried again within the run: ``max_passes`` bounds the passes over the
    files (1 = no second pass), ``max_wait`` the seconds spent in all waiting for an open circuit
    breaker, ``sleep`` is what waits (the breaker runs on the real clock, so this is not the
    client's retry ``sleep``: a sleep that does not really wait would spin until the breaker
    recovers).
    """
    if max_passes < 1:
        raise IngestError(f"max_passes must be at least 1, got {max_passes}")
    if not max_wait >= 0:
        raise IngestError(f"max_wait must be at least 0 seconds, got {max_wait}")
    if concurrency < 1:
        raise IngestError(f"concurrency must be at least 1, got {concurrency}")
    if embed_batch < 1:
        raise IngestError(f"embed_batch must be at least 1, got {embed_batch}")
    started = clock()
    run = _Run(
        client=client,
        source=source,
        store=store,
        workspace=workspace,
        validator=validator,
        archive=archive,
        progress=progress or NullProgress(),
        concurrency=concurrency,
        embed_batch=embed_batch,
        max_passes=max_passes,
        max_wait=max_wait,
        sleep=sleep,
    )
    try:
        return await run.execute(prune=prune, dry_run=dry_run)
    finally:
        run.report.elapsed = clock() - started


_Sent = tuple[PlanItem, str, int]  # item, location, size


@dataclass
class _Run:
    client: AnythingLLMClient
    source: Source
    store: ManifestStore
    workspace: str
    validator: FileValidator | None
    archive: StorageClient | None
    progress: Progress
    concurrency: int
    embed_batch: int
    max_passes: int
    max_wait: float
    sleep: Callable[[float], Awaitable[None]]

    def __post_init__(self) -> None:
        self.report = SyncReport(
            workspace=self.workspace, source=self.source.description, manifest=self.store.description
        )
        self.manifest = Manifest(workspace=self.workspace, source=self.source.description)
        self._embed_queue: asyncio.Queue[_Sent | None] = asyncio.Queue()
        self._adopted: set[str] = set()  # locations found from an interrupted run (maybe embedded)
        self._transient: set[str] = set()  # keys whose failure is worth another pass
        self._intent: dict[str, tuple[Status, str]] = {}  # first pass: what each sent file is for
        # the client whose calls, refused by the open breaker, wait it out within max_wait in all
        self.patient = self.client.with_options(breaker_wait=BreakerWait(self.max_wait, sleep=self.sleep))

    # ------------------------------------------------------------------ top level

    async def execute(self, *, prune: bool, dry_run: bool) -> SyncReport:
        self.report.dry_run = dry_run
        docpaths = await self._first_read()
        self.manifest = await self.store.load(workspace=self.workspace, source=self.source.description)
        try:
            files = await self.source.scan()
            plan = await make_plan(
                files, self.manifest, self.source.sha256, prune=prune, workspace_docpaths=docpaths
            )
            self.report.gone = list(plan.gone)
            if dry_run:
                await self._dry_run(plan)
            else:
                try:
                    await self._apply(plan)
                    await self._further_passes(files, prune=prune)
                finally:
                    await self.store.flush(self.manifest)
        finally:
            await self.store.close()
        return self.report

    async def _apply(self, plan: SyncPlan) -> None:
        if self.report.passes == 1:
            for item in plan.to_send:
                self._intent[item.key] = (_sent_status(item), item.reason)
        await self._refresh_unchanged(plan)
        to_send = await self._reembed_missing(plan)
        try:
            adoptable = await self._adoptable(to_send)
        except AnythingLLMError as exc:  # without the listing an interrupted upload could land twice
            resumed = {i.key for i in to_send if i.entry is not None and i.entry.pending}
            for item in to_send:
                if item.key in resumed:
                    why = f"could not look for the copy an interrupted upload may have left: {_describe(exc)}"
                    self._outcome(item.key, "failed", why, size=item.size, transient=is_transient(exc))
            to_send, adoptable = [i for i in to_send if i.key not in resumed], {}
        await self._send_all(to_send, adoptable)
        removals = plan.of(Action.REMOVE)
        if to_send or removals or any(e.stale for e in self.manifest.entries.values()):
            try:
                docpaths = await self._workspace_docpaths()
            except AnythingLLMError as exc:  # what was sent is reported; removals wait
                logger.warning("workspace unreadable after sending; removal waits for next sync: %s", exc)
                self._not_removed(removals, exc)
            else:
                await self._remove_old_versions(docpaths)
                await self._prune(removals, docpaths)

    async def _further_passes(self, files: Sequence[SourceFile], *, prune: bool) -> None:
        """Try the files that failed transiently again, re-planned as the next run would."""
        while self._transient and self.report.passes < self.max_passes:
            retry = set(self._transient)
            self.report.passes += 1
            self.progress.note(f"pass {self.report.passes}: trying {len(retry)} file(s) again")
            try:
                docpaths = await self._workspace_docpaths()
                plan = await make_plan(
                    files, self.manifest, self.source.sha256, prune=prune, workspace_docpaths=docpaths
                )
            except (AnythingLLMError, StorageError, OSError) as exc:  # this pass is spent; they stay failed
                logger.warning("pass %d could not start: %s", self.report.passes, _describe(exc))
                continue
            try:
                await self._apply(SyncPlan(items=[item for item in plan.items if item.key in retry]))
            except AnythingLLMError as exc:  # what this pass could not do is left failed; next pass
                logger.warning("pass %d stopped: %s", self.report.passes, _describe(exc))

    async def _first_read(self) -> set[str]:
        """The workspace before anything is planned. An error answer worth another try (429, 5xx)
        is tried up to ``max_passes`` times. A connection failure may mean no server at all: it is
        tried once more, only while the breaker is still closed and without waiting for it, so an
        unreachable server fails the sync within the client's own retries."""
        connection_failed = False
        for attempt in range(1, self.max_passes + 1):
            try:
                return await self._workspace_docpaths(patient=not connection_failed)
            except AnythingLLMConnectionError:
                closed = self.client.breaker.state is CircuitState.CLOSED
                if connection_failed or not closed or attempt == self.max_passes:
                    raise
                connection_failed = True
            except AnythingLLMError as exc:
                if connection_failed or attempt == self.max_passes or not is_transient(exc):
                    raise
            logger.warning("reading workspace %r failed; trying again", self.workspace)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _workspace_docpaths(self, *, patient: bool = True) -> set[str]:
        try:
            workspace = await (self.patient if patient else self.client).get_workspace(self.workspace)
        except AnythingLLMNotFoundError as exc:
            raise IngestError(
                f"workspace {self.workspace!r} does not exist: create it first "
                "(allm workspaces create NAME) and pass its slug"
            ) from exc
        return set(workspace.docpaths)

    async def _dry_run(self, plan: SyncPlan) -> None:
        """Report the plan; files that would be sent are validated too (reads only their heads),
        so the plan shows what would be rejected."""
        gate = asyncio.Semaphore(self.concurrency)

        async def would_send(item: PlanItem) -> None:
            assert item.file is not None
            async with gate, self.source.local_path(item.file) as path:
                reason = await self._validate(path)
            if reason is not None:
                self._outcome(item.key, "rejected", reason, size=item.size)
            else:
                self._outcome(item.key, _sent_status(item), f"would send: {item.reason}", size=item.size)

        for item in plan.items:
            if item.action is Action.UNCHANGED:
                self._outcome(item.key, "unchanged", item.reason, item.entry)
            elif item.action is Action.REMOVE:
                self._outcome(item.key, "removed", f"would remove: {item.reason}", item.entry)
        await asyncio.gather(*(would_send(item) for item in plan.to_send))

    # ------------------------------------------------------------------ before sending

    async def _refresh_unchanged(self, plan: SyncPlan) -> None:
        for item in plan.of(Action.UNCHANGED):
            entry, file = item.entry, item.file
            if entry is not None and file is not None and item.reason == "touched" and file.size >= 0:
                entry.size, entry.mtime_ns, entry.etag = file.size, file.mtime_ns, file.etag
                await self.store.record(self.manifest, item.key)
            self._outcome(item.key, "unchanged", "", entry)

    async def _reembed_missing(self, plan: SyncPlan) -> list[PlanItem]:
        """Documents we uploaded that are not in the workspace (a run cut between upload and
        embed, or someone took them out) are embedded again; only what that does not bring back
        is uploaded again. Returns what is left to send."""
        missing = {  # an entry with an upload in flight is resumed as a replace instead (adoption
            i.entry.location: i  # finds its copy if it landed); re-embedding would leave it pending
            for i in plan.items
            if i.reason == "missing from the workspace"
            and i.entry is not None
            and i.entry.location
            and not i.entry.pending
        }
        back: set[str] = set()
        if missing:
            self.progress.note(f"embedding {len(missing)} document(s) missing from the workspace")
            try:
                update = await self.patient.update_embeddings(self.workspace, adds=list(missing))
                back = set(update.added) | set(update.skipped)
            except AnythingLLMError as exc:
                if self.report.passes < self.max_passes and is_transient(exc):
                    # a further pass embeds them again: cheaper than uploading every one again
                    logger.warning("re-embedding failed; the next pass tries again: %s", exc)
                    for item in missing.values():
                        why = f"in storage as {item.entry.location if item.entry else '?'} but not "
                        self._outcome(
                            item.key, "failed", f"{why}re-embedded: {_describe(exc)}", transient=True
                        )
                    deferred = {item.key for item in missing.values()}
                    return [i for i in plan.to_send if i.key not in deferred]
                logger.warning("re-embedding failed; those files will be uploaded again: %s", exc)
        for location in back:
            item = missing[location]
            self._outcome(item.key, "unchanged", "re-embedded", item.entry)
        returned = {missing[location].key for location in back}
        return [i for i in plan.to_send if i.key not in returned]

    async def _adoptable(self, items: Sequence[PlanItem]) -> dict[str, list[tuple[str, str]]]:
        """Our marked documents on the server, by key marker: (sha256, location) pairs.

        Only asked when a previous run was cut during an upload (a pending entry); otherwise
        empty, and no request is made.
        """
        if not any(item.entry is not None and item.entry.pending for item in items):
            return {}
        found: dict[str, list[tuple[str, str]]] = {}
        prefix = f"{MARKER_PREFIX}{self.manifest.sync_id}:"
        for document in await self.patient.list_documents():
            marker = document.doc_source or ""
            if marker.startswith(prefix) and document.location:
                key_marker, _, sha = marker.rpartition(":")
                found.setdefault(key_marker + ":", []).append((sha, document.location))
        return found

    # ------------------------------------------------------------------ sending

    async def _send_all(self, items: Sequence[PlanItem], adoptable: dict[str, list[tuple[str, str]]]) -> None:
        if not items:
            return
        self.progress.start(len(items), sum(max(i.size, 0) for i in items))
        queue: asyncio.Queue[PlanItem] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)

        async def uploader() -> None:
            while not queue.empty():
                await self._send_one(queue.get_nowait(), adoptable)

        embedder = asyncio.create_task(self._embedder())
        try:
            await asyncio.gather(*(uploader() for _ in range(min(self.concurrency, len(items)))))
            self._embed_queue.put_nowait(None)
            await embedder
        finally:
            if not embedder.done():
                embedder.cancel()
            self.progress.finish()

    async def _send_one(self, item: PlanItem, adoptable: dict[str, list[tuple[str, str]]]) -> None:
        file = item.file
        assert file is not None
        size = max(file.size, 0)
        try:
            async with self.source.local_path(file) as path:
                if file.size < 0:
                    size = path.stat().st_size
                reason = await self._validate(path)
                if reason is not None:
                    self._outcome(item.key, "rejected", reason, size=size)
                    self.progress.file_done(item.key, size, "rejected", reason)
                    return
                sha: str = item.sha256 if item.sha256 else await asyncio.to_thread(sha256_file, path)
                location = await self._adopt(item, sha, size, adoptable)
                if location is None:
                    await self._archive(path, item.key)
                    location = await self._upload(item, path, sha, size)
        except (AnythingLLMError, StorageError, IngestError, FileValidationError, OSError) as exc:
            detail = _describe(exc)
            self._outcome(item.key, "failed", detail, size=size, transient=is_transient(exc))
            self.progress.file_done(item.key, size, "failed", detail)
            return
        self.progress.file_done(item.key, size, _sent_status(item))
        self._embed_queue.put_nowait((item, location, size))

    async def _validate(self, path: Path) -> str | None:
        if self.validator is None:
            return None
        try:
            valid, error = await asyncio.to_thread(self.validator.validate_file, path)
        except FileValidationError as exc:
            return exc.reason
        if valid:
            return None
        reason = error or "rejected by validation"
        for prefix in (f"{path}: ", f"{path.name}: "):  # the report already names the file
            reason = reason.removeprefix(prefix)
        return reason

    async def _adopt(
        self, item: PlanItem, sha: str, size: int, adoptable: dict[str, list[tuple[str, str]]]
    ) -> str | None:
        """A document that an interrupted run uploaded for exactly this version, if any.

        Other marked documents of the same file (older versions, or a second copy uploaded by a
        retried run) are ours too: they are queued for removal with the previous version."""
        candidates = adoptable.get(_key_marker(self.manifest.sync_id, item.key), [])
        current = item.entry.location if item.entry else None
        superseded = set(item.entry.stale) if item.entry else set()  # never adopt what is to be erased
        same = sorted(
            loc for digest, loc in candidates if digest == sha and loc != current and loc not in superseded
        )
        others = [loc for digest, loc in candidates if digest != sha and loc != current]
        if not same:
            if others and item.entry is not None:
                item.entry.stale = _unique([*item.entry.stale, *others])
                await self.store.record(self.manifest, item.key)
            return None
        keep, *duplicates = same
        entry = self._new_entry(item, sha, keep, size=size)
        entry.stale = _unique([*entry.stale, *duplicates, *others])
        self.manifest.entries[item.key] = entry
        await self.store.record(self.manifest, item.key)
        logger.info("adopted %s from an interrupted run: %s", item.key, keep)
        self._adopted.add(keep)
        return keep

    async def _archive(self, path: Path, key: str) -> None:
        if self.archive is None:
            return
        kind = await self._kind(path)
        await self.archive.upload_file(path, f"processed/{kind}/{key}")

    async def _kind(self, path: Path) -> str:
        detect = getattr(self.validator, "detect_type", None)
        if detect is not None:
            kind = await asyncio.to_thread(detect, path)
            if isinstance(kind, str) and kind:
                return kind
        return path.suffix.lower().lstrip(".") or "other"

    async def _upload(self, item: PlanItem, path: Path, sha: str, size: int) -> str:
        pending = self.manifest.entries.get(item.key) or ManifestEntry(key=item.key)
        pending.pending = sha
        self.manifest.entries[item.key] = pending
        await self.store.record(self.manifest, item.key)

        marker = {"docSource": marker_for(self.manifest.sync_id, item.key, sha)}
        # refused by the open breaker means not processed (an upload that may have been is an
        # outcome-unknown error instead), so sending it again once the breaker lets us is safe
        result = await self.patient.upload_file(path, metadata=marker)
        entry = self._new_entry(item, sha, result.location, size=size)
        self.manifest.entries[item.key] = entry
        await self.store.record(self.manifest, item.key)
        return result.location

    def _new_entry(self, item: PlanItem, sha: str, location: str, *, size: int) -> ManifestEntry:
        previous = self.manifest.entries.get(item.key)
        stale = list(previous.stale) if previous else []
        if previous is not None and previous.location and previous.location != location:
            stale.append(previous.location)
        file = item.file
        return ManifestEntry(
            key=item.key,
            sha256=sha,
            size=size,
            mtime_ns=file.mtime_ns if file else None,
            etag=file.etag if file else None,
            location=location,
            uploaded_at=time.time(),
            stale=_unique([loc for loc in stale if loc != location]),  # the current one is never erased
        )

    # ------------------------------------------------------------------ embedding

    async def _embedder(self) -> None:
        """Embed uploaded documents in batches while uploads go on."""
        finished = False
        while not finished:
            first = await self._embed_queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.embed_batch and not self._embed_queue.empty():
                following = self._embed_queue.get_nowait()
                if following is None:
                    finished = True
                    break
                batch.append(following)
            await self._embed(batch)

    async def _embed(self, batch: list[_Sent]) -> None:
        locations = [location for _, location, _ in batch]
        confirmed: set[str] = set()
        error = ""
        transient = True  # the server leaving a document out is worth another pass
        # Documents uploaded just now cannot be in the workspace yet: no need for the client
        # to look first. Adopted ones may be (embedding them twice would duplicate them). A call
        # the open breaker refuses was not sent: the client waits the breaker out and sends it then.
        fresh = not any(location in self._adopted for location in locations)
        calls = 0

        async def embed(adds: list[str], look_first: bool) -> set[str]:
            nonlocal calls
            calls += 1
            update = await self.patient.update_embeddings(self.workspace, adds=adds, skip_existing=look_first)
            if update.missing and calls == 1:
                # The server answered 200 yet left some out: ask once more for those.
                self.progress.note(f"{len(update.missing)} document(s) not embedded; asking again")
                return set(update.added) | set(update.skipped) | await embed(list(update.missing), True)
            return set(update.added) | set(update.skipped)

        try:
            confirmed = await embed(locations, not fresh)
        except AnythingLLMError as exc:
            error = _describe(exc)
            transient = is_transient(exc)
        for item, location, size in batch:
            if location in confirmed:
                self._outcome(item.key, _sent_status(item), item.reason, location=location, size=size)
            else:
                why = error or "the server left it out of the workspace"
                self._outcome(
                    item.key,
                    "failed",
                    f"uploaded as {location} but not embedded: {why}",
                    size=size,
                    transient=transient,
                )
        self.progress.embedded(len([loc for loc in locations if loc in confirmed]))

    # ------------------------------------------------------------------ after sending

    async def _remove_old_versions(self, docpaths: set[str]) -> None:
        """Remove superseded locations, but only once the new version is in the workspace."""
        entries = [
            e
            for e in self.manifest.entries.values()
            if e.stale and (e.location is None or e.location in docpaths)
        ]
        if not entries:
            return
        locations = _unique([loc for e in entries for loc in e.stale])
        try:
            await self._erase(locations, docpaths)
        except AnythingLLMError as exc:
            logger.warning("old versions not removed yet (the next sync retries): %s", exc)
            for entry in entries:  # the workspace may hold two versions: not ok until the next sync
                if any(loc in docpaths for loc in entry.stale):
                    why = f"sent as {entry.location}, but its old version is still in the workspace"
                    self._outcome(
                        entry.key,
                        "failed",
                        f"{why} ({_describe(exc)}); the next sync removes it",
                        entry,
                        transient=is_transient(exc),
                    )
            return
        for entry in entries:
            entry.stale = []
            await self.store.record(self.manifest, entry.key)

    async def _prune(self, items: Sequence[PlanItem], docpaths: set[str]) -> None:
        if not items:
            return
        locations: list[str] = []
        for item in items:
            if item.entry is not None:
                locations.extend(loc for loc in [item.entry.location, *item.entry.stale] if loc)
        try:
            await self._erase(_unique(locations), docpaths)
        except AnythingLLMError as exc:
            self._not_removed(items, exc)
            return
        for item in items:
            self.manifest.entries.pop(item.key, None)
            await self.store.record(self.manifest, item.key)
            self._outcome(item.key, "removed", item.reason, item.entry)

    def _not_removed(self, items: Sequence[PlanItem], exc: AnythingLLMError) -> None:
        """Report files whose documents were to be removed, and were not, as failed."""
        why = f"could not remove: {_describe(exc)}"
        for item in items:
            self._outcome(item.key, "failed", why, item.entry, transient=is_transient(exc))

    async def _erase(self, locations: list[str], docpaths: set[str]) -> None:
        """Take documents out of the workspace, then delete them from the server."""
        embedded = [loc for loc in locations if loc in docpaths]
        if embedded:  # both calls are safe to repeat
            await self.patient.update_embeddings(self.workspace, deletes=embedded)
        await self.patient.delete_documents_from_server(locations)

    # ------------------------------------------------------------------ report

    def _outcome(
        self,
        key: str,
        status: Status,
        detail: str = "",
        entry: ManifestEntry | None = None,
        *,
        location: str | None = None,
        size: int = 0,
        transient: bool = False,
    ) -> None:
        if status == "failed" and transient:
            self._transient.add(key)
        else:
            self._transient.discard(key)
        if self.report.passes > 1 and status in ("uploaded", "replaced", "unchanged") and key in self._intent:
            status, detail = self._intent[key]  # a later pass finished what the first one began
        self.report.outcomes[key] = FileOutcome(
            key=key,
            status=status,
            detail=detail,
            location=location or (entry.location if entry else None),
            size=size or (entry.size if entry else 0),
        )


def _sent_status(item: PlanItem) -> Status:
    """What sending ``item`` makes of it: a new file is uploaded, a known one replaced."""
    return "uploaded" if item.action is Action.UPLOAD else "replaced"


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    known = AnythingLLMError | StorageError | IngestError | FileValidationError
    return text if isinstance(exc, known) else f"{type(exc).__name__}: {text}"
