"""Sending a sync's files: validate each, hash it, upload it with its marker — or take up the
document an earlier upload of the same content left on the server.

One :class:`Sender` serves a whole run (every pass). It sends at most ``concurrency`` files at once
(the run's gate), into a fresh workspace the first one alone (``first_alone``), and hands the run
each file's result the moment it has one (:class:`Sent` or :class:`NotSent`), so what the run shows
moves with every upload. It keeps what it knows about its own uploads: the ids it gave them (in
their markers), and which files' last upload is unaccounted for (an answer lost, an upload the
workspace does not show): before such a file is sent again, the document that upload may have left
on the server is looked for (``GET /v1/documents``, by its marker) and embedded instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from anythingllm_bridge.client.resources.embeddings import first_alone
from anythingllm_bridge.errors import (
    AnythingLLMError,
    FileValidationError,
    IngestError,
    StorageError,
    os_reason,
)
from anythingllm_bridge.ingest.keys import CONTROL
from anythingllm_bridge.ingest.manifest import Manifest, stamp_matches
from anythingllm_bridge.ingest.marker import Marker
from anythingllm_bridge.ingest.plan import Action, PlanItem
from anythingllm_bridge.ingest.source import Source, sha256_file
from anythingllm_bridge.resilience.transient import is_transient
from anythingllm_bridge.tracing import get_logger

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLMClient
    from anythingllm_bridge.storage import StorageClient
    from anythingllm_bridge.validation import FileValidator

__all__ = ["MAX_NAME_BYTES", "NotSent", "Sender", "Sent", "describe", "upload_name"]

#: The longest file name, in bytes of UTF-8, an upload is sent under.
MAX_NAME_BYTES = 255

logger = get_logger("anythingllm_bridge.ingest")

_Stored = dict[tuple[str, str], list[tuple[str, str]]]
"""(key, sha256) → (location, upload id) of documents our uploads left outside the workspace."""


@dataclass(frozen=True, slots=True)
class Sent:
    """A file this pass put on the server (uploaded, or found there): where, what content, size."""

    item: PlanItem
    location: str
    sha256: str
    size: int
    upload: str = ""
    adopted: bool = False
    """Not uploaded: the document an earlier upload left was found on the server."""
    resumed: bool = False
    """Its earlier upload was unaccounted for (what was adopted finishes that upload)."""


@dataclass(frozen=True, slots=True)
class NotSent:
    """A file this pass did not put on the server: why (``detail``), its size, whether trying again
    later may help (``transient``), and whether validation refused its content (``refused``)."""

    item: PlanItem
    detail: str
    size: int = 0
    transient: bool = False
    refused: bool = False


Result = Sent | NotSent
Remember = Callable[..., Awaitable[None]]


@dataclass
class Sender:
    """Sends the files of a run (see the module documentation).

    ``client`` is the run's patient client (it waits out an open breaker); ``remember(file, sha,
    upload=..., pending=...)`` records in the cache that an upload may have left a document.
    """

    client: AnythingLLMClient
    source: Source
    cache: Manifest
    identity: str
    workspace: str
    gate: asyncio.Semaphore
    remember: Remember
    validator: FileValidator | None = None
    archive: StorageClient | None = None
    uploads: dict[str, set[str]] = field(default_factory=dict)
    """Key → ids of the uploads this run made."""
    unaccounted: set[str] = field(default_factory=set)
    """Keys whose last upload may have left a document on the server that nobody accounted for."""
    stopped: Callable[[], str | None] = lambda: None
    """Why the run stopped trying, if it did (the server failing for longer than it may wait):
    the files not sent yet are not tried, each fails at once with this reason."""
    warn: Callable[[str], None] = lambda message: logger.warning("%s", message)
    """Tells the sync's user something that is no file's outcome (the run puts it in its report)."""

    async def send(
        self,
        items: Sequence[PlanItem],
        embedded: set[str],
        *,
        fresh: bool,
        done: Callable[[Result], Awaitable[None]],
    ) -> list[Sent]:
        """Send ``items`` (at most ``concurrency`` at once; into a ``fresh`` workspace the first one
        alone, see ``first_alone``), telling ``done`` each file's result as soon as it is known;
        what landed on the server. ``embedded``: the locations the workspace holds already."""
        if not items:
            return []
        stored = await self._stored_copies(items, embedded)
        if isinstance(stored, AnythingLLMError):  # what may be there already is not sent again now
            why = f"could not look for the copy an earlier upload may have left: {describe(stored)}"
            for item in items:
                if self.maybe_stored(item):
                    await done(NotSent(item, why, item.size, transient=is_transient(stored)))
            items = [item for item in items if not self.maybe_stored(item)]
            stored = {}

        async def send(item: PlanItem) -> Result:
            async with self.gate:
                if (stopped := self.stopped()) is not None:
                    result: Result = NotSent(item, f"not sent: {stopped}", item.size, transient=True)
                else:
                    result = await self._send_one(item, stored)
                await done(result)
                return result

        results = await first_alone(
            items, send, fresh, lambda result: isinstance(result, Sent), size=lambda item: item.size
        )
        sent = [result for result in results if isinstance(result, Sent)]
        adopted = {s.location for s in sent if s.adopted}
        leftovers = [loc for copies in stored.values() for loc, _ in copies if loc not in adopted]
        if leftovers:  # stored, never embedded, not needed: an interrupted upload's extra copies
            try:
                await self.client.delete_documents_from_server(leftovers)
            except AnythingLLMError as exc:
                self.warn(
                    f"could not delete {len(leftovers)} unused stored document(s) an interrupted upload left "
                    f"on the server (not in the workspace): {describe(exc)}"
                )
        return sent

    def maybe_stored(self, item: PlanItem) -> bool:
        """True when an earlier upload of this file may have left a document on the server."""
        entry = self.cache.entries.get(item.key)
        return item.key in self.unaccounted or (entry is not None and entry.pending is not None)

    def examine(self, path: Path) -> tuple[int, str | None]:
        """(In a worker thread.) The file's size and why validation refuses it (``None``: valid).
        Raises ``OSError`` when it cannot be read (gone, no permission): that is a failure to
        report, not a file to refuse."""
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):  # a symlink is left to validation, which refuses it
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        return info.st_size, self.validator.inspect(path).reason if self.validator is not None else None

    # ------------------------------------------------------------------ one file

    async def _send_one(self, item: PlanItem, stored: _Stored) -> Result:
        file = item.file
        assert file is not None
        size = max(file.size, 0)
        try:
            async with self.source.local_path(file) as path:
                found, reason = await asyncio.to_thread(self.examine, path)
                size = found if file.size < 0 else size
                if reason is not None:
                    return NotSent(item, reason, size, refused=True)
                sha: str = await asyncio.to_thread(sha256_file, path)
                copies = stored.get((item.key, sha))
                if copies:
                    location, upload = copies.pop(0)
                    resumed = self.maybe_stored(item)
                    sent = Sent(item, location, sha, size, upload, adopted=True, resumed=resumed)
                else:
                    upload = secrets.token_hex(6)
                    self.uploads.setdefault(item.key, set()).add(upload)
                    await self.remember(file, sha, upload=upload, pending=True)
                    await self._archive(path, item.key)
                    sent = Sent(item, await self._upload(path, item.key, sha, upload), sha, size, upload)
                if self.source.changed(file, path):
                    self.unaccounted.add(item.key)
                    why = f"changed while it was being synced (sent as {sent.location}); it is sent again"
                    return NotSent(item, why, size, transient=True)
                await self.remember(file, sha, upload=upload)
                return sent
        except (AnythingLLMError, StorageError, IngestError, FileValidationError, OSError, ValueError) as exc:
            if isinstance(exc, AnythingLLMError) and is_transient(exc):
                self.unaccounted.add(item.key)
            detail = describe(exc)
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                detail = f"cannot be read: {detail}"
            return NotSent(item, detail, size, transient=is_transient(exc))

    async def _upload(self, path: Path, key: str, sha: str, upload: str) -> str:
        """Upload the file with its marker; its location.

        The server stores an upload under the name it is sent with, in one folder for every upload
        at once, so two uploads of the same name at the same time (two syncs of one source) would
        take each other's file: each is sent under a name of its own (the upload id added), and
        its title (what people see in citations) is the file's name. An upload the open breaker
        refused was not sent, so the client sends it once the breaker lets it (an upload that may
        have been processed is an outcome-unknown error instead)."""
        name = CONTROL.sub("_", Path(key).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        marker = Marker(self.identity, key, sha, self.workspace, upload)
        result = await self.client.upload_file(
            path,
            workspaces=self.workspace,
            metadata={"title": name, "docSource": marker.to_doc_source()},
            filename=upload_name(name, upload),
            verify=False,
        )
        return result.location

    async def _archive(self, path: Path, key: str) -> None:
        if self.archive is None:
            return
        kind = self.validator.detect_type(path) if self.validator is not None else None
        kind = kind if kind and kind != "other" else path.suffix.lower().lstrip(".") or "other"
        await self.archive.upload_file(path, f"processed/{kind}/{key}")

    # ------------------------------------------------------------------ earlier uploads

    def _uploads_of(self, key: str) -> set[str]:
        """The ids of the uploads of ``key`` this run made or its cache remembers."""
        entry = self.cache.entries.get(key)
        return self.uploads.get(key, set()) | set(entry.uploads if entry is not None else ())

    async def _stored_copies(
        self, items: Sequence[PlanItem], embedded: set[str]
    ) -> _Stored | AnythingLLMError:
        """Documents our own uploads left on the server outside the workspace (``embedded``), by
        (key, content): for the keys of ``items`` whose earlier upload is unaccounted for, or that
        the cache knows (their document may have been taken out of the workspace). Only uploads
        this run made or its cache remembers count (by the id in their marker): another sync's
        document, perhaps being embedded right now, is never taken. Empty without a request when
        there are none; the error, when the server could not be asked."""
        keys: set[str] = set()
        for item in items:
            entry = self.cache.entries.get(item.key)
            known = entry is not None and item.file is not None and stamp_matches(item.file, entry)
            if self.maybe_stored(item) or (item.action is Action.UPLOAD and known):
                keys.add(item.key)
        if not keys:
            return {}
        try:
            documents = await self.client.list_documents()
        except AnythingLLMError as exc:
            return exc
        found: _Stored = {}
        for document in documents:
            marker = Marker.parse(document.doc_source)
            if (
                marker is not None
                and document.location
                and document.location not in embedded
                and marker.source == self.identity
                and marker.workspace == self.workspace
                and marker.key in keys
                and marker.upload in self._uploads_of(marker.key)
            ):
                found.setdefault((marker.key, marker.sha256), []).append((document.location, marker.upload))
        for locations in found.values():
            locations.sort()
        return found


def describe(exc: BaseException) -> str:
    """A failure as the reason of one file's outcome: our own errors by their message, an OS error
    by its reason (``permission denied``), a file gone by saying so."""
    if isinstance(exc, FileNotFoundError):
        return "it vanished during the sync"
    if isinstance(exc, OSError) and not isinstance(exc, StorageError):
        return os_reason(exc)
    return str(exc) or type(exc).__name__


def upload_name(name: str, upload: str) -> str:
    """The name a file called ``name`` (already printable) is uploaded under: ``upload`` (the
    upload's id) added before its extension, the stem cut short so that the whole fits in
    :data:`MAX_NAME_BYTES` bytes of UTF-8 (the server keeps the upload as a file of that name, and
    file systems take no longer one). An extension too long to keep is cut with the stem."""
    stem, dot, suffix = name.rpartition(".")
    if not (dot and stem):
        stem, suffix = name, ""
    tail = f"-{upload}" + (f".{suffix}" if suffix else "")
    room = MAX_NAME_BYTES - len(tail.encode("utf-8"))
    if room < 1:  # an extension longer than a name may be: keep what fits of the whole name
        tail, stem, room = f"-{upload}", name, MAX_NAME_BYTES - len(upload) - 1
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore") + tail
