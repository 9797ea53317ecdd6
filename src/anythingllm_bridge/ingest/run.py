"""Running a sync: make a workspace hold exactly the valid files of a source, each once.

The workspace is the truth: every document a sync uploads carries a marker (:mod:`.marker`)
naming the source, the file's key and its content hash, and a sync starts from the workspace's
listing. One run:

1. reads the workspace (one request) and lists the source; files this run's rules refuse
   (type, size, not a regular file) are reported ``rejected`` without being read;
2. plans (:mod:`.plan`): a file whose newest copy in the workspace has its content is unchanged.
   The content hash comes from the cache (:mod:`.manifest`) when the file's size and mtime (or
   ETag) are as recorded, else from reading the file — and only for files that have a copy to
   compare with. So an unchanged re-sync reads nothing, and one without its cache (a new machine,
   a lost state folder) reads the files but sends nothing for unchanged ones;
3. refuses a prune that looks like absence, not deletion (:func:`.plan.prune_refusal`);
4. sends, at most ``concurrency`` files at once: validate the content (a refused file is
   reported with its reason, never sent), hash it, upload it with ``addToWorkspaces`` and its
   marker; then one ``ensure_embedded`` checks every upload against one read of the workspace and
   embeds again only what the server left out;
5. cleans up on the listing taken after its uploads: per key, copies older than the newest copy
   of the content this run holds are removed (old versions, duplicates a concurrent sync left:
   :mod:`.copies` says why every run agrees and the last copy always stays), and with ``prune``
   the copies of keys that left the source (or this run's rules).

Transient failures (``resilience.is_transient``) are tried again within the run, in passes: a call
the open breaker refuses waits it out (within ``max_wait`` seconds in all); a file that failed
transiently — a lost answer, retries spent, left out of the workspace, a copy not removed — is
re-planned against a fresh listing in a further pass, at most ``max_passes`` passes in all. An
upload whose outcome is unknown, or that the workspace does not show, may have left a document on
the server: before sending such a file again the run looks for it (``GET /v1/documents``, by its
marker) and embeds it instead. Permanent failures (validation, other 4xx, file errors) are
reported at once. One bad file never stops the others.

A sync with a :class:`.shard.Shard` handles only the keys of its share, and cleans up only
among their documents.

Documents an older anythingllm-bridge synced (:class:`.marker.LegacyMarker`) are taken as older
copies of the file of this run (its shard, its rules) whose key hash they carry: that file is sent
with its marker and the legacy copies go with the clean-up of step 5, as replaced, never as a
prune. The ones that match no such file are left alone (they may be another source's) and counted
in the report (``legacy_kept``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from anythingllm_bridge.errors import (
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    IngestError,
    StorageError,
)
from anythingllm_bridge.ingest.copies import Copy, copies_in, legacy_in, newest, surplus
from anythingllm_bridge.ingest.keys import printable
from anythingllm_bridge.ingest.manifest import (
    CHOOSE_ANOTHER,
    FileManifestStore,
    Manifest,
    ManifestEntry,
    ManifestStore,
    stamp_matches,
)
from anythingllm_bridge.ingest.marker import LegacyMarker, Marker
from anythingllm_bridge.ingest.plan import Action, PlanItem, SyncPlan, make_plan, prune_refusal
from anythingllm_bridge.ingest.progress import NullProgress, Progress, human_bytes
from anythingllm_bridge.ingest.report import FileOutcome, Status, SyncReport
from anythingllm_bridge.ingest.send import Result, Sender, Sent, describe
from anythingllm_bridge.ingest.shard import Shard
from anythingllm_bridge.ingest.source import (
    Listing,
    Source,
    SourceFile,
    folder_location,
    overlap,
    source_location,
    storage_location,
)
from anythingllm_bridge.ingest_config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_PASSES,
    DEFAULT_MAX_WAIT,
    MAX_CONCURRENCY,
)
from anythingllm_bridge.resilience.breaker import CircuitState
from anythingllm_bridge.resilience.breaker_wait import BreakerWait
from anythingllm_bridge.resilience.transient import is_transient
from anythingllm_bridge.tracing import get_logger

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.client.models import Workspace
    from anythingllm_bridge.storage import StorageClient
    from anythingllm_bridge.validation import FileValidator

__all__ = ["MAX_CONCURRENCY", "MAX_PASSES", "MAX_WAIT", "PruneRefusedError", "sync"]

logger = get_logger("anythingllm_bridge.ingest")

MAX_PASSES = DEFAULT_MAX_PASSES  # INGEST_MAX_PASSES, --max-passes
MAX_WAIT = DEFAULT_MAX_WAIT  # INGEST_MAX_WAIT, --max-wait
#: How many unconfirmed uploads of one file the cache remembers, to look for what they left.
MAX_UPLOADS = 20
#: Where ``archive`` puts the files a sync sends (``processed/<type>/<key>``).
ARCHIVE_PREFIX = "processed/"


class PruneRefusedError(IngestError):
    """A prune would remove what looks like absence rather than deletion (the source lists no
    file, or more than half of the sync's documents would go): nothing was sent or removed.
    ``reason`` says what the prune would have done and why it was refused, ``count`` is how many
    files' documents it would have removed (``max_delete=count`` allows it); a dry run's
    ``report`` holds its whole plan (``None`` for a real run, which did nothing)."""

    def __init__(self, reason: str, *, count: int, report: SyncReport | None = None) -> None:
        super().__init__(
            f"{reason}; nothing was sent or removed. If the files are really gone, run again with "
            f"max_delete={count}"
        )
        self.reason = reason
        self.count = count
        self.report = report


async def sync(
    client: AnythingLLMClient,
    source: Source,
    store: ManifestStore | None = None,
    *,
    workspace: str,
    validator: FileValidator | None = None,
    prune: bool = False,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    archive: StorageClient | None = None,
    progress: Progress | None = None,
    source_id: str | None = None,
    shard: Shard | str | None = None,
    max_delete: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_passes: int = MAX_PASSES,
    max_wait: float = MAX_WAIT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SyncReport:
    """Make ``workspace`` hold exactly the valid files of ``source``, each once (see the module
    documentation); ``anythingllm_bridge.ingest.run_sync`` does the same from settings.

    ``store`` is the cache that spares reading unchanged files (``None``: every file with a copy
    in the workspace is read and hashed). ``source_id`` names the source in the markers instead of
    ``source.identity`` (the same content at different paths on different machines).
    ``shard`` (``Shard`` or ``"I/N"``) limits the run to its share of the keys. ``max_delete``
    allows a prune to remove up to that many files' documents, past the guard. ``max_passes``
    bounds the passes (1 = no second pass), ``max_wait`` the seconds spent in all waiting for an
    open circuit breaker; ``sleep`` is what waits (the breaker runs on the real clock, so a sleep
    that does not really wait would spin until it recovers). ``validator`` judges each file (its
    name and size when listed, its content when read); without one every regular file is sent.

    Raises :class:`IngestError` when the sync cannot start (unknown workspace, a source that
    cannot be listed, bad arguments) and :class:`PruneRefusedError` when the prune guard stops it;
    everything about single files is in the returned :class:`SyncReport`.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise IngestError(f"concurrency must be a whole number, got {concurrency!r}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise IngestError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency}")
    if max_passes < 1:
        raise IngestError(f"max_passes must be at least 1, got {max_passes}")
    if not max_wait >= 0:
        raise IngestError(f"max_wait must be at least 0 seconds, got {max_wait}")
    if max_delete is not None and max_delete < 0:
        raise IngestError(f"max_delete must be at least 0, got {max_delete}")
    try:
        share = Shard.parse(shard) if isinstance(shard, str) else shard or Shard(0, 1)
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    identity = source_id if source_id is not None else source.identity
    if not identity.strip():
        raise IngestError("source_id must not be empty")
    refuse_writes_into(
        source,
        cache=store.path if isinstance(store, FileManifestStore) else None,
        archive=storage_location(archive, ARCHIVE_PREFIX) if archive is not None else None,
    )
    started = clock()
    run = _Run(
        client=client,
        source=source,
        store=store,
        workspace=workspace,
        identity=identity,
        shard=share,
        validator=validator,
        archive=archive,
        progress=progress or NullProgress(),
        concurrency=concurrency,
        prune=prune,
        max_delete=max_delete,
        max_passes=max_passes,
        max_wait=max_wait,
        sleep=sleep,
    )
    try:
        return await run.execute(dry_run=dry_run)
    finally:
        run.report.elapsed = clock() - started


def refuse_writes_into(source: Source, *, cache: Path | None = None, archive: str | None = None) -> None:
    """Raise :class:`IngestError` when a sync would write into its own ``source``: its ``cache``
    file inside the source folder, or the ``archive`` (a location as
    :func:`.source.storage_location` gives it) overlapping the source. A sync only ever reads its
    source: what it wrote there would come back as files to sync."""
    place = source_location(source)
    if place is None:
        return
    if cache is not None and folder_location(cache).startswith(place):
        raise IngestError(
            f"the sync cache {cache} is inside the source {source.description}, and a sync never "
            f"writes into its source: {CHOOSE_ANOTHER}"
        )
    if archive is not None and overlap(archive, place):
        raise IngestError(
            f"the archive ({archive}) overlaps the source {source.description}, and a sync never "
            "writes into its source: archive elsewhere (STORAGE_PATH, or S3_BUCKET and a source prefix "
            "outside processed/)"
        )


@dataclass
class _Run:
    client: AnythingLLMClient
    source: Source
    store: ManifestStore | None
    workspace: str
    identity: str
    shard: Shard
    validator: FileValidator | None
    archive: StorageClient | None
    progress: Progress
    concurrency: int
    prune: bool
    max_delete: int | None
    max_passes: int
    max_wait: float
    sleep: Callable[[float], Awaitable[None]]
    cache: Manifest = field(init=False)
    listing: Listing = field(init=False)
    sender: Sender = field(init=False)

    def __post_init__(self) -> None:
        manifest = self.store.description if self.store is not None else "(none)"
        self.report = SyncReport(
            workspace=self.workspace,
            source=self.source.description,
            source_id=self.identity,
            manifest=manifest,
            shard=str(self.shard) if self.shard.count > 1 else None,
        )
        self.cache = Manifest(source=self.identity)
        self.gate = asyncio.Semaphore(self.concurrency)  # files read or sent at once
        # What the listing says, judged once: the files of this run's shard, those this run's rules
        # refuse (key -> why), and the key hashes of the others (what a legacy marker names them by).
        self.files: dict[str, SourceFile] = {}
        self.refused: dict[str, str] = {}
        self.legacy: dict[str, str] = {}
        # What the run knows per key across passes: the content it holds (confirmed in the
        # workspace), what the first pass sent each file for, and the files whose final outcome
        # the progress display has been told. Which files are worth another pass is in the report
        # (a failed outcome that is ``transient``); what the uploads left is the sender's.
        self.held: dict[str, str] = {}
        self.intent: dict[str, tuple[Status, str]] = {}
        self.settled: set[str] = set()
        self._parsed: tuple[Workspace, dict[str, list[Copy]]] | None = None  # the last listing parsed
        # the client whose calls, refused by the open breaker, wait it out within max_wait in all,
        # and whose waits the progress display shows
        self.waiting = BreakerWait(
            self.max_wait,
            sleep=self.sleep,
            on_wait=self._breaker_wait,
            on_retry=self._retry_wait,
            on_refuse=self._stop_waiting,
        )
        self.patient = self.client.with_options(breaker_wait=self.waiting)

    def _sender(self) -> Sender:
        """What sends this run's files: made once the workspace's slug and the cache are known."""
        return Sender(
            client=self.patient,
            source=self.source,
            cache=self.cache,
            identity=self.identity,
            workspace=self.workspace,
            gate=self.gate,
            remember=self._remember,
            validator=self.validator,
            archive=self.archive,
            stopped=lambda: self.report.stopped,
            warn=self._warn,
        )

    @property
    def retry(self) -> set[str]:
        """The keys whose outcome is a transient failure: worth another pass."""
        return {key for key, o in self.report.outcomes.items() if o.status is Status.FAILED and o.transient}

    # ------------------------------------------------------------------ top level

    async def execute(self, *, dry_run: bool) -> SyncReport:
        self.report.dry_run = dry_run
        self._say_if_throttled()
        listing = await self._first_read()
        self.workspace = listing.slug
        self.report.workspace = listing.slug
        if self.store is not None:
            self.cache = await self.store.load(source=self.identity, write=not dry_run)
            self._take_notes()
        self.sender = self._sender()
        self.progress.busy(f"listing {printable(self.source.description)}")
        try:
            self.listing = await self.source.scan()
            self.files = {f.key: f for f in self.listing.files if f.key in self.shard}
            self._report_listing_problems()
            self._apply_listed_rules()
            self._count_legacy_kept(listing)
            plan = await self._plan(listing, scope=None)
            held = sum(1 for copies in self._ours(listing).values() if any(not c.legacy for c in copies))
            refusal = prune_refusal(
                plan,
                held,
                source_empty=not self.listing.files,
                max_delete=self.max_delete,
                where=f"workspace {self.workspace!r}",
            )
            removing = len(plan.of(Action.REMOVE))
            self.report.gone = list(plan.gone)
            self._warn_of_other_sources(listing, plan)
            if dry_run:
                await self._dry_run(plan)  # the plan is shown even when the guard refuses it
                if refusal is not None:
                    raise PruneRefusedError(refusal, count=removing, report=self.report)
                return self.report
            if refusal is not None:
                raise PruneRefusedError(refusal, count=removing)
            try:
                if plan.to_send:
                    self.progress.start(len(plan.to_send), sum(item.size for item in plan.to_send))
                await self._apply(plan, listing)
                await self._further_passes()
            finally:
                self.progress.finish()
        finally:
            if self.store is not None:
                try:
                    if not dry_run:
                        await self.store.flush(self.cache)
                finally:
                    await self.store.close()
                    self._take_notes()
        return self.report

    async def _further_passes(self) -> None:
        """Try the files that failed transiently again, re-planned against a fresh listing.

        A pass that cannot even read the workspace (the server failing) is not counted: the run
        tries to start it again — the client's retries and the breaker's wait pace those tries —
        up to ``max_passes`` times in a row, so an outage longer than a pass does not use up the
        passes the files need."""
        starts_failed = 0
        while (retry := self.retry) and self.report.passes < self.max_passes and not self.report.stopped:
            try:
                listing = await self._read()
                plan = await self._plan(listing, scope=retry)
            except (AnythingLLMError, StorageError, OSError) as exc:
                starts_failed += 1
                self._warn(f"pass {self.report.passes + 1} could not start: {describe(exc)}")
                if starts_failed >= self.max_passes or not is_transient(exc):
                    break
                continue
            starts_failed = 0
            self.report.passes += 1
            self.progress.note(f"pass {self.report.passes}: trying {len(retry)} file(s) again")
            await self._apply(plan, listing)
        for key in sorted(self.retry - self.settled):  # what no pass settled is final now
            outcome = self.report.outcomes[key]
            self._settle(key, outcome.size, Status.FAILED, outcome.detail)

    # ------------------------------------------------------------------ reading

    async def _first_read(self) -> Workspace:
        """The workspace before anything is planned. An error answer worth another try (429, 5xx)
        is tried up to ``max_passes`` times. A connection failure may mean no server at all: it is
        tried once more, only while the breaker is still closed and without waiting for it, so an
        unreachable server fails the sync within the client's own retries — with the connection
        error, even when those retries opened the breaker."""
        unreachable: AnythingLLMConnectionError | None = None
        for attempt in range(1, self.max_passes + 1):
            try:
                return await self._read(patient=unreachable is None)
            except AnythingLLMConnectionError as exc:
                closed = self.client.breaker.state is CircuitState.CLOSED
                if unreachable is not None or not closed or attempt == self.max_passes:
                    raise
                unreachable = exc
            except AnythingLLMError as exc:
                if unreachable is not None:  # the breaker our own tries opened: say what they met
                    raise unreachable from None
                if attempt == self.max_passes or not is_transient(exc):
                    raise
            logger.warning("reading workspace %r failed; trying again", self.workspace)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, *, patient: bool = True) -> Workspace:
        try:
            return await (self.patient if patient else self.client).get_workspace(self.workspace)
        except AnythingLLMNotFoundError as exc:
            raise IngestError(f"workspace {self.workspace!r} does not exist: {await self._meant()}") from exc

    async def _meant(self) -> str:
        """What to do about a workspace that does not exist: the slug of the one it may mean (a
        slug in other letter cases, or a workspace's name), else how to make it."""
        wanted = self.workspace.casefold()
        try:
            workspaces = await self.client.list_workspaces()
        except AnythingLLMError:
            workspaces = []
        for workspace in workspaces:
            if workspace.slug.casefold() == wanted:
                return f"slugs are lower case; did you mean {workspace.slug!r}?"
        for workspace in workspaces:
            if (workspace.name or "").casefold() == wanted:
                return f"that is the name of workspace {workspace.slug!r}; pass its slug"
        return "create it first (allm workspaces create NAME) and pass its slug"

    def _report_listing_problems(self) -> None:
        """What the listing could not see: failed, and its documents kept (what it refuses is
        judged with the plan)."""
        for key, reason in self.listing.unreadable.items():
            if key in self.shard:
                self._outcome(key, Status.FAILED, f"{reason}; its documents are kept")
        for prefix, reason in self.listing.unlisted.items():  # every shard is blind there
            self._outcome(prefix, Status.FAILED, f"{reason}; the documents of its files are kept")

    def _apply_listed_rules(self) -> None:
        """Judge every file of the shard by its name and size (this run's rules) once, and know
        the key hashes of the ones it may send (what a legacy marker names a key by)."""
        for file in self.files.values():
            reason = self.validator.check_listed(file.name, file.size) if self.validator else None
            if reason is not None and file.size >= 0:
                self.refused[file.key] = reason
            else:
                self.legacy[LegacyMarker.hash_key(file.key)] = file.key

    def _count_legacy_kept(self, listing: Workspace) -> None:
        """Count (and log once) the documents an older anythingllm-bridge synced that this run
        leaves alone: those of no file it may send, except another shard's files."""
        elsewhere = {LegacyMarker.hash_key(f.key) for f in self.listing.files if f.key not in self.shard}
        kept = legacy_in(listing.documents, skip=lambda digest: digest in self.legacy or digest in elsewhere)
        self.report.legacy_kept = len(kept)
        if kept:
            logger.warning(
                "%d document(s) in workspace %r were synced by an older anythingllm-bridge and match "
                "no file this sync sends; they are left alone",
                len(kept),
                self.workspace,
            )

    # ------------------------------------------------------------------ planning

    def _ours(self, listing: Workspace) -> dict[str, list[Copy]]:
        """Our copies in ``listing``, by key, in this run's shard (parsed once per listing)."""
        if self._parsed is None or self._parsed[0] is not listing:
            copies = copies_in(
                listing.documents,
                source=self.identity,
                workspace=self.workspace,
                wanted=self.shard.__contains__,
                legacy=self.legacy,
            )
            self._parsed = (listing, copies)
        return self._parsed[1]

    async def _plan(self, listing: Workspace, *, scope: set[str] | None) -> SyncPlan:
        """The plan for ``scope`` (every key of the shard when ``None``) against ``listing``.

        With ``prune``, the content of every file that would replace a document of ours is
        judged first (its head is read): a file validation now refuses has its document removed
        as no longer allowed, so the prune guard counts it and a dry run shows it."""

        def wanted(key: str) -> bool:
            return key in self.shard and (scope is None or key in scope)

        ours = {key: copies for key, copies in self._ours(listing).items() if wanted(key)}
        files = [f for f in self.files.values() if wanted(f.key)]
        rejected = {f.key: self.refused[f.key] for f in files if f.key in self.refused}
        rejected.update((key, why) for key, why in self.listing.refused.items() if wanted(key))
        allowed = [f for f in files if f.key not in self.refused]
        hashes: dict[str, str] = {}
        to_hash: list[SourceFile] = []
        for file in allowed:
            entry = self.cache.entries.get(file.key)
            if entry is not None and stamp_matches(file, entry):
                hashes[file.key] = entry.sha256
            elif file.key in ours:
                to_hash.append(file)
        unreadable = await self._hash_all(to_hash, hashes)
        allowed = [file for file in allowed if file.key not in unreadable]

        def plan_of(allowed: list[SourceFile]) -> SyncPlan:
            return make_plan(
                allowed,
                hashes,
                ours,
                prune=self.prune,
                rejected=rejected,
                unknown=lambda key: self.listing.hides(key) or key in unreadable,
            )

        plan = plan_of(allowed)
        if self.prune:
            refused = await self._judge_content(plan.of(Action.REPLACE))
            if refused:
                rejected.update(refused)
                plan = plan_of([file for file in allowed if file.key not in refused])
        removing = {item.key for item in plan.of(Action.REMOVE)}
        for key, reason in rejected.items():
            if key in removing:
                continue  # reported once its documents are removed
            kept = "; its document stays (prune removes it)" if key in ours else ""
            self._outcome(key, Status.REJECTED, reason + kept, size=self._size(key))
        return plan

    async def _judge_content(self, items: Sequence[PlanItem]) -> dict[str, str]:
        """Key → why validation refuses the content, for the ``items`` that would replace a
        document of ours (at most ``concurrency`` read at once, only their heads). A file that
        cannot be read is left to the send, which reports it."""
        refused: dict[str, str] = {}

        async def judge(item: PlanItem) -> None:
            assert item.file is not None
            try:
                async with self.gate, self.source.local_path(item.file) as path:
                    _, reason = await asyncio.to_thread(self.sender.examine, path)
            except (OSError, StorageError):
                return
            if reason is not None:
                refused[item.key] = reason

        marked = [item for item in items if any(not copy.legacy for copy in item.copies)]
        if self.validator is not None:
            await asyncio.gather(*(judge(item) for item in marked))
        return refused

    def _warn_of_other_sources(self, listing: Workspace, plan: SyncPlan) -> None:
        """Warn when files this run would upload as new are in the workspace already, synced from
        another source id: most likely the same files from another path or machine, which would
        end up in the workspace twice unless both runs name the source the same (``source_id``)."""
        new = {item.key for item in plan.of(Action.UPLOAD)}
        others: dict[str, set[str]] = {}
        for document in listing.documents:
            marker = Marker.parse(document.metadata.get("docSource"))
            if (
                marker is not None
                and marker.key in new
                and marker.source != self.identity
                and marker.workspace == self.workspace
            ):
                others.setdefault(marker.source, set()).add(marker.key)
        for other, keys in sorted(others.items(), key=lambda found: -len(found[1])):
            shown = ", ".join(printable(key) for key in sorted(keys)[:3])
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            self._warn(
                f"{len(keys)} file(s) this sync uploads ({shown}{more}) are in workspace "
                f"{self.workspace!r} already, synced from source id {printable(other)!r}: if they are "
                f"the same files, give --source-id {printable(other)!r} (source_id=) so they are not "
                "in the workspace twice"
            )

    def _size(self, key: str) -> int:
        """The listed size of ``key``'s file (0 when it lists none)."""
        file = self.files.get(key)
        return max(file.size, 0) if file is not None else 0

    async def _hash_all(self, files: Sequence[SourceFile], hashes: dict[str, str]) -> set[str]:
        """Hash ``files`` (at most ``concurrency`` at once) into ``hashes`` and the cache; the keys
        that could not be read (each reported failed)."""
        failed: set[str] = set()

        async def hash_one(file: SourceFile) -> None:
            try:
                async with self.gate:
                    digest = await self.source.sha256(file)
            except (OSError, StorageError) as exc:
                self._outcome(file.key, Status.FAILED, f"cannot be read: {describe(exc)}", size=file.size)
                failed.add(file.key)
                return
            hashes[file.key] = digest
            await self._remember(file, digest)

        if files:
            size = human_bytes(sum(max(file.size, 0) for file in files))
            self.progress.busy(f"hashing {len(files)} file(s), {size}")
        await asyncio.gather(*(hash_one(file) for file in files))
        return failed

    async def _remember(
        self,
        file: SourceFile,
        sha: str,
        *,
        upload: str | None = None,
        pending: bool = False,
        confirmed: bool = False,
    ) -> None:
        """Record in the cache that ``file`` (as listed) has content ``sha``; and, given ``upload``,
        that this upload may have left a document (``pending``: no answer yet; ``confirmed``: it is
        in the workspace, so earlier uploads' documents need not be looked for any more)."""
        old = self.cache.entries.get(file.key)
        uploads = list(old.uploads) if old is not None else []
        still = old is not None and old.pending is not None
        if upload is not None:
            uploads = [upload] if confirmed else [*[u for u in uploads if u != upload], upload][-MAX_UPLOADS:]
            still = pending
        self.cache.entries[file.key] = ManifestEntry(
            key=file.key,
            sha256=sha,
            size=file.size,
            mtime_ns=file.mtime_ns,
            etag=file.etag,
            uploads=uploads,
            pending=sha if still else None,
        )
        # a dry run writes nothing; without a size there is no stamp to know the file by
        if self.store is not None and file.size >= 0 and not self.report.dry_run:
            await self.store.record(self.cache, file.key)

    # ------------------------------------------------------------------ one pass

    async def _apply(self, plan: SyncPlan, listing: Workspace) -> None:
        """Send what the plan sends, check it in the workspace, then clean up."""
        first = self.report.passes == 1
        for item in plan.items:
            if item.action is Action.UNCHANGED and item.sha256 is not None:
                self.held[item.key] = item.sha256
                if first or item.key not in self.intent:
                    self._outcome(item.key, Status.UNCHANGED, "", location=_newest_location(item))
                else:  # a later pass found what an earlier one sent (its answer had been lost)
                    self._found(item)
            elif item.action in (Action.UPLOAD, Action.REPLACE) and first:
                status = Status.UPLOADED if item.action is Action.UPLOAD else Status.REPLACED
                self.intent[item.key] = (status, item.reason)
        sent = await self.sender.send(
            plan.to_send, listing.docpaths, fresh=not listing.documents, done=self._after_send
        )
        final: Workspace | None = listing
        if sent:
            final = await self._check(sent)
        removals = plan.of(Action.REMOVE)
        if final is not None:
            await self._clean_up(final, {item.key for item in plan.items}, removals)
        else:
            for item in removals:
                why = "could not read the workspace to remove its documents"
                self._outcome(item.key, Status.FAILED, why, transient=True)

    async def _after_send(self, result: Result) -> None:
        """One file's send is over: a file not sent is reported at once (sent ones once checked)."""
        if isinstance(result, Sent):
            self.progress.sent(result.item.key, result.size)
        elif result.refused:
            await self._refused(result.item, result.detail, result.size)
        else:
            self._failed(result.item.key, result.detail, size=result.size, transient=result.transient)

    def _found(self, item: PlanItem) -> None:
        status, detail = self.intent[item.key]
        self._outcome(item.key, status, detail, location=_newest_location(item), size=item.size)
        if item.key not in self.settled:
            self.progress.embedded(1)
        self._settle(item.key, item.size, status)

    async def _check(self, sent: list[Sent]) -> Workspace | None:
        """Check every sent document against the workspace (and embed the missing once); the
        listing the check ended with, ``None`` when the workspace could not be read."""
        try:
            check = await self.patient.ensure_embedded(self.workspace, [s.location for s in sent])
        except AnythingLLMError as exc:
            for done in sent:
                why = f"uploaded as {done.location}; could not check the workspace: {describe(exc)}"
                self._failed(done.item.key, why, size=done.size, transient=is_transient(exc))
                self.sender.unaccounted.add(done.item.key)
            return None
        confirmed = 0
        for done in sent:
            key = done.item.key
            if done.location in check.missing:
                why = f"uploaded as {done.location} but not in the workspace: {check.missing[done.location]}"
                self._failed(key, why, size=done.size, transient=True)
                self.sender.unaccounted.add(key)
                continue
            confirmed += 1
            self.held[key] = done.sha256
            self.sender.unaccounted.discard(key)
            if done.item.file is not None and done.upload:  # no earlier upload's document to look for
                await self._remember(done.item.file, done.sha256, upload=done.upload, confirmed=True)
            if done.adopted and not done.resumed:  # taken out of the workspace, not changed
                status, detail = Status.UNCHANGED, "re-embedded (its document was on the server)"
            else:
                status, detail = self.intent.get(key, (Status.UPLOADED, done.item.reason))
            self._outcome(key, status, detail, location=done.location, size=done.size)
            self._settle(key, done.size, status)
        self.progress.embedded(confirmed)
        return check.workspace

    async def _refused(self, item: PlanItem, reason: str, size: int) -> None:
        """A file whose content validation refuses: rejected; with prune its copies go too (not
        its legacy copies: those are only ever replaced, so they stay and are counted)."""
        marked = [copy.docpath for copy in item.copies if not copy.legacy]
        self.report.legacy_kept += len(item.copies) - len(marked)
        if self.prune and marked:
            try:
                await self.patient.delete_documents_from_server(marked)
            except AnythingLLMError as exc:
                reason += f"; its document could not be removed: {describe(exc)}"
            else:
                reason += "; its document was removed"
        elif marked:
            reason += "; its document stays (prune removes it)"
        self._outcome(item.key, Status.REJECTED, reason, size=size)
        self._settle(item.key, size, Status.REJECTED, reason)

    # ------------------------------------------------------------------ cleaning up

    async def _clean_up(self, listing: Workspace, keys: set[str], removals: Sequence[PlanItem]) -> None:
        """On the listing taken after this pass's uploads: remove the copies older than the ones
        this run holds, and (prune) the copies of removed keys."""
        ours = self._ours(listing)
        doomed: dict[str, str] = {}
        older: dict[str, list[Copy]] = {}
        for key, sha in self.held.items():
            copies = ours.get(key, ())
            if len(copies) > 1 and key in keys:  # one copy is its own keeper, or not ours to judge
                older[key] = surplus(copies, sha)
                doomed.update((copy.docpath, key) for copy in older[key])
        for item in removals:
            doomed.update((copy.docpath, item.key) for copy in ours.get(item.key, []) if not copy.legacy)
        if doomed:
            try:
                await self.patient.delete_documents_from_server(list(doomed))
            except AnythingLLMError as exc:
                for key in sorted(set(doomed.values())):
                    outcome = self.report.outcomes.get(key)
                    what = "its old copies are" if key in older else "its documents are"
                    why = f"{what} still in the workspace, could not remove them: {describe(exc)}"
                    size, location = (outcome.size, outcome.location) if outcome else (0, None)
                    self._failed(key, why, size=size, location=location, transient=is_transient(exc))
                return
        for item in removals:
            if item.reason.startswith("no longer allowed: "):
                why = item.reason.removeprefix("no longer allowed: ") + "; its document was removed"
                self._outcome(item.key, Status.REJECTED, why, size=self._size(item.key))
            else:
                self._outcome(item.key, Status.REMOVED, item.reason)
        for key, copies in older.items():
            outcome = self.report.outcomes.get(key)
            if copies and outcome is not None and outcome.status is Status.UNCHANGED:
                extra = f"{len(copies)} older cop{'y' if len(copies) == 1 else 'ies'} removed"
                detail = f"{outcome.detail}; {extra}" if outcome.detail else extra
                self.report.outcomes[key] = FileOutcome(
                    key, outcome.status, detail, outcome.location, outcome.size
                )
        if doomed:
            self.progress.note(f"removed {len(doomed)} document(s) from the workspace and the server")

    # ------------------------------------------------------------------ dry run

    async def _dry_run(self, plan: SyncPlan) -> None:
        """Report the plan; files that would be sent are validated too (reads only their heads),
        so the plan shows what would be rejected."""

        async def would_send(item: PlanItem) -> None:
            assert item.file is not None
            try:
                async with self.gate, self.source.local_path(item.file) as path:
                    _, reason = await asyncio.to_thread(self.sender.examine, path)
            except (OSError, StorageError) as exc:
                self._outcome(item.key, Status.FAILED, f"cannot be read: {describe(exc)}", size=item.size)
                return
            if reason is not None:
                self._outcome(item.key, Status.REJECTED, reason, size=item.size)
            else:
                status = Status.UPLOADED if item.action is Action.UPLOAD else Status.REPLACED
                self._outcome(item.key, status, f"would send: {item.reason}", size=item.size)

        for item in plan.items:
            if item.action is Action.UNCHANGED:
                self._outcome(item.key, Status.UNCHANGED, "", location=_newest_location(item))
            elif item.action is Action.REMOVE:
                self._outcome(item.key, Status.REMOVED, f"would remove: {item.reason}")
        await asyncio.gather(*(would_send(item) for item in plan.to_send))

    # ------------------------------------------------------------------ progress and report

    def _breaker_wait(self, what: str, seconds: float) -> None:
        self.progress.waiting(f"the server is failing (circuit breaker open); trying {what} again", seconds)

    def _stop_waiting(self, retry_in: float) -> None:
        """The breaker stays open longer than the wait left: the run stops trying (once)."""
        if self.report.stopped is not None:
            return
        budget, left = self.waiting.budget, self.waiting.left
        allowed = f"the {budget:g} s the sync may wait for it (--max-wait, INGEST_MAX_WAIT)"
        if left < 1:
            why = f"the server kept failing, and {allowed} are spent"
        else:
            why = (
                f"the server kept failing, and its circuit breaker lets the next call through only "
                f"in {retry_in:.0f} s, more than the {left:.0f} s left of {allowed}"
            )
        self.report.stopped = why
        self._warn(f"stopped waiting: {why}; the files not sent yet are not tried")

    def _retry_wait(self, what: str, seconds: float, reason: str) -> None:
        if seconds >= 1:  # shorter waits pass before anyone could read about them
            self.progress.waiting(f"{what} failed ({reason}); trying again", seconds)

    def _say_if_throttled(self) -> None:
        config = getattr(self.client, "config", None)
        allowed = config.calls_at_once if config else self.concurrency
        if allowed < self.concurrency:
            self._warn(
                f"sync(concurrency={self.concurrency}) sends at most {allowed} file(s) at once: the "
                "client allows that many calls in flight (max_concurrency, max_connections_per_host); "
                "run_sync sizes its client"
            )

    def _warn(self, message: str) -> None:
        """Something the sync's user should know that is no file's outcome: in the report's
        warnings, and shown now."""
        logger.warning("%s", message)
        self.report.warnings.append(message)
        self.progress.note(message)

    def _take_notes(self) -> None:
        """The cache's notes not yet passed on (see ``Manifest.notes``), as warnings."""
        while self.cache.notes:
            message = self.cache.notes.pop(0)
            self.report.warnings.append(message)  # logged by the cache already
            self.progress.note(message)

    def _settle(self, key: str, size: int, status: Status, detail: str = "") -> None:
        """Tell the progress display a file's final outcome, once."""
        if key not in self.settled:
            self.settled.add(key)
            self.progress.file_done(key, size, status.value, detail)

    def _failed(
        self, key: str, detail: str, *, size: int = 0, location: str | None = None, transient: bool = False
    ) -> None:
        """A failure: worth another pass (``transient``, and passes left) or final."""
        self._outcome(key, Status.FAILED, detail, location=location, size=size, transient=transient)
        if transient and self.report.passes < self.max_passes:
            self.progress.retrying(key, detail)
        else:
            self._settle(key, size, Status.FAILED, detail)

    def _outcome(
        self,
        key: str,
        status: Status,
        detail: str = "",
        *,
        location: str | None = None,
        size: int = 0,
        transient: bool = False,
    ) -> None:
        transient = transient and status is Status.FAILED
        self.report.outcomes[key] = FileOutcome(key, status, detail, location, max(size, 0), transient)


def _newest_location(item: PlanItem) -> str | None:
    latest = newest(item.copies)
    return latest.docpath if latest is not None else None
