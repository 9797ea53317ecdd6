"""The sync manifest: what was sent to which workspace, so a second run sends nothing new.

One manifest belongs to one (source, workspace) pair. Per source key it records the content hash,
size, mtime (or the storage's checksum), and the document's ``location`` in AnythingLLM.

Writes are crash-safe and cheap, and none is made on the event loop: every change is one JSON line
appended to a journal next to the manifest (``<manifest>.journal``) before the pipeline moves on,
and the journal is folded into the manifest with an atomic rename (write a temporary file, ``fsync``,
``os.replace``) at the end of a run and whenever it grows large. A torn last journal line (a crash
mid-write) is ignored on load. So an interrupted run loses at most the change it was writing, and
the next run resumes.
While a sync holds a manifest it keeps an exclusive lock on ``<manifest>.lock``: a second sync of
the same source into the same workspace is refused instead of sending the same files twice.

Where there is no local file system for the manifest (a bucket source), :class:`StorageManifestStore`
keeps it as one object in the storage and rewrites it after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

from anythingllm_bridge.errors import IngestError, StorageFileNotFoundError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one sync at a time is up to the user
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from anythingllm_bridge.storage import StorageClient

__all__ = [
    "FileManifestStore",
    "Manifest",
    "ManifestEntry",
    "ManifestStore",
    "StorageManifestStore",
]

FORMAT = "anythingllm-bridge-manifest"
VERSION = 1

_T = TypeVar("_T")


@dataclass(slots=True)
class ManifestEntry:
    """What the manifest knows about one source file.

    ``sha256``/``size``/``mtime_ns``/``etag`` describe the version that is in AnythingLLM at
    ``location``. ``pending`` is the hash of an upload that was started but not confirmed (its
    document may or may not exist on the server); ``stale`` lists older locations of this file
    that still have to be removed from the workspace and the server.
    """

    key: str
    sha256: str = ""
    size: int = 0
    mtime_ns: int | None = None
    etag: str | None = None
    location: str | None = None
    uploaded_at: float | None = None
    pending: str | None = None
    stale: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The entry as the manifest stores it (a new dict, empty fields left out)."""
        data = {
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "etag": self.etag,
            "location": self.location,
            "uploaded_at": self.uploaded_at,
            "pending": self.pending,
            "stale": list(self.stale),
        }
        return {k: v for k, v in data.items() if v not in (None, [], "")}

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> ManifestEntry:
        return cls(
            key=key,
            sha256=str(data.get("sha256", "")),
            size=int(data.get("size", 0)),
            mtime_ns=_opt_int(data.get("mtime_ns")),
            etag=_opt_str(data.get("etag")),
            location=_opt_str(data.get("location")),
            uploaded_at=_opt_float(data.get("uploaded_at")),
            pending=_opt_str(data.get("pending")),
            stale=[str(s) for s in data.get("stale", [])],
        )


@dataclass(slots=True)
class Manifest:
    """Every entry of one (source, workspace) pair, plus the ``sync_id`` that marks our uploads."""

    workspace: str
    source: str
    sync_id: str = field(default_factory=lambda: secrets.token_hex(6))
    entries: dict[str, ManifestEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "workspace": self.workspace,
            "source": self.source,
            "sync_id": self.sync_id,
            "entries": {key: e.to_json() for key, e in sorted(self.entries.items())},
        }

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise IngestError(f"{where} is not an anythingllm-bridge manifest")
        if data.get("version") != VERSION:
            raise IngestError(f"{where} has manifest version {data.get('version')!r}; expected {VERSION}")
        entries = data.get("entries") or {}
        return cls(
            workspace=str(data["workspace"]),
            source=str(data.get("source", "")),
            sync_id=str(data["sync_id"]),
            entries={str(k): ManifestEntry.from_json(str(k), v) for k, v in entries.items()},
        )

    def locations(self) -> set[str]:
        """Every server location this manifest owns (current and stale)."""
        owned: set[str] = set()
        for entry in self.entries.values():
            if entry.location:
                owned.add(entry.location)
            owned.update(entry.stale)
        return owned


class ManifestStore(Protocol):
    """Loads a manifest and records every change to it durably."""

    description: str

    async def load(self, *, workspace: str, source: str) -> Manifest:
        """The stored manifest, or a new empty one; refuses one made for another workspace."""
        ...

    async def record(self, manifest: Manifest, key: str) -> None:
        """Make the current state of ``manifest.entries[key]`` (or its absence) durable."""
        ...

    async def flush(self, manifest: Manifest) -> None:
        """Write the whole manifest in its compact form (end of a run)."""
        ...

    async def close(self) -> None:
        """Release what ``load`` took (the lock that keeps two syncs off one manifest)."""
        ...


def _check_identity(manifest: Manifest, *, workspace: str, where: str) -> Manifest:
    if manifest.workspace != workspace:
        raise IngestError(
            f"{where} belongs to workspace {manifest.workspace!r}, not {workspace!r}; "
            "use another manifest path for this workspace"
        )
    return manifest


class FileManifestStore:
    """A manifest in a local JSON file with an append-only journal beside it.

    Every file-system call (the lock, reads, journal appends, the atomic rewrite) runs in one worker
    thread owned by the store, never on the event loop. The thread runs the calls one at a time in
    the order they were made, so journal lines land in the order the changes were recorded, even
    when several coroutines record at once or one of them is cancelled.
    """

    def __init__(self, path: str | os.PathLike[str], *, compact_every: int = 2000) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.description = str(self.path)
        self._compact_every = compact_every
        self._worker: ThreadPoolExecutor | None = None
        # Worker-thread state: the open journal and the held lock.
        self._journal: BinaryIO | None = None
        self._lock_file: BinaryIO | None = None
        # Event-loop state: what the files will hold once every queued call has run.
        self._has_base = False  # the manifest file exists (else the first change writes it)
        self._journal_lines = 0  # journal lines not yet folded into the manifest file

    def __repr__(self) -> str:
        return f"FileManifestStore({str(self.path)!r})"

    async def load(self, *, workspace: str, source: str) -> Manifest:
        try:
            manifest, self._has_base, self._journal_lines = await self._in_worker(
                self._load, workspace, source
            )
        except BaseException:
            self._stop_worker()
            raise
        return manifest

    async def record(self, manifest: Manifest, key: str) -> None:
        # Everything taken from ``manifest`` is copied here, on the event loop, at the call: the
        # worker thread never reads the manifest the pipeline keeps changing.
        entry = manifest.entries.get(key)
        line = json.dumps(
            {"sync_id": manifest.sync_id, "key": key, "entry": entry.to_json() if entry else None},
            separators=(",", ":"),
        ).encode("utf-8")
        # A brand-new manifest: write the base first so the journal has something to belong to.
        base = None if self._has_base else manifest.to_json()
        self._has_base = True
        self._journal_lines += 1
        compacted = None
        if self._journal_lines >= max(self._compact_every, len(manifest.entries)):
            compacted = manifest.to_json()
            self._journal_lines = 0
        await self._in_worker(self._write_record, base, line + b"\n", compacted)

    async def flush(self, manifest: Manifest) -> None:
        if self._has_base and not self._journal_lines:
            return  # the manifest file already holds every change
        data = manifest.to_json()
        self._has_base, self._journal_lines = True, 0
        await self._in_worker(self._replace, data)

    async def close(self) -> None:
        if self._worker is None:
            return
        try:
            await self._in_worker(self._close_files)
        finally:
            self._stop_worker()

    # ------------------------------------------------------------------ event loop → worker

    async def _in_worker(self, function: Callable[..., _T], *args: object) -> _T:
        """Queue ``function(*args)`` on the store's worker thread and wait for it.

        A queued call always runs, even if the caller is cancelled: cancelling a caller never
        drops one change and keeps the next.
        """
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="allm-manifest")
        done = asyncio.wrap_future(self._worker.submit(function, *args))
        done.add_done_callback(self._after_call)
        return await asyncio.shield(done)

    def _after_call(self, done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            # The files may lack a change the manifest in memory has: the next change (or the
            # flush) rewrites the whole manifest.
            self._has_base = False

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=False)  # its thread ends once its queued calls are done
            self._worker = None

    # ------------------------------------------------------------------ worker thread

    def _load(self, workspace: str, source: str) -> tuple[Manifest, bool, int]:
        self._lock()
        try:
            manifest = self._read_base(workspace=workspace, source=source)
            lines = self._apply_journal(manifest)
            has_base = self.path.exists()
            return _check_identity(manifest, workspace=workspace, where=str(self.path)), has_base, lines
        except BaseException:
            self._close_files()  # a refused manifest gives its lock back at once, not when collected
            raise

    def _read_base(self, *, workspace: str, source: str) -> Manifest:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Manifest(workspace=workspace, source=source)
        except OSError as exc:
            raise IngestError(f"cannot read the manifest {self.path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise IngestError(f"the manifest {self.path} is not valid JSON ({exc}); move it away") from exc
        return Manifest.from_json(data, where=str(self.path))

    def _apply_journal(self, manifest: Manifest) -> int:
        """Apply the journal's changes to ``manifest``; the number of lines applied."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise IngestError(f"cannot read {self.journal_path}: {exc.strerror or exc}") from exc
        applied = 0
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: that change was never confirmed
            if not isinstance(record, dict) or record.get("sync_id") not in (None, manifest.sync_id):
                continue
            key = str(record.get("key", ""))
            if record.get("entry") is None:
                manifest.entries.pop(key, None)
            else:
                manifest.entries[key] = ManifestEntry.from_json(key, record["entry"])
            applied += 1
        return applied

    def _write_record(
        self, base: dict[str, Any] | None, line: bytes, compacted: dict[str, Any] | None
    ) -> None:
        if base is not None:
            self._replace(base)
        try:
            if self._journal is None:
                self._journal = open(self.journal_path, "ab", buffering=0)  # noqa: SIM115
            # One write() of one line on an O_APPEND file: it lands whole or (after a crash) torn.
            self._journal.write(line)
        except OSError as exc:
            raise IngestError(f"cannot write the manifest journal {self.journal_path}: {exc}") from exc
        if compacted is not None:
            self._replace(compacted)

    def _replace(self, data: dict[str, Any]) -> None:
        """Write ``data`` (from :meth:`Manifest.to_json`) as the manifest file, atomically, then drop
        the journal it now contains."""
        payload = _encode(data)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.path, payload)
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.unlink()
        except OSError as exc:
            raise IngestError(f"cannot write the manifest {self.path}: {exc.strerror or exc}") from exc

    def _close_files(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the lock
            self._lock_file = None

    def _lock(self) -> None:
        """Hold an exclusive lock on ``<manifest>.lock`` until :meth:`close`: two syncs working on
        one manifest at once would both send the same new files."""
        if self._lock_file is not None or fcntl is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_path, "a+b")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise IngestError(f"cannot open {self.lock_path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise IngestError(
                f"another sync is using the manifest {self.path}; wait for it to finish"
            ) from None
        self._lock_file = handle


def _encode(data: dict[str, Any]) -> bytes:
    """The manifest file's bytes for ``data`` (from :meth:`Manifest.to_json`)."""
    return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class StorageManifestStore:
    """A manifest kept as one JSON object in a :class:`StorageClient` (for bucket sources).

    Every change rewrites the object (an S3 PUT and the local storage's rename are atomic);
    concurrent changes share one write.
    """

    def __init__(self, storage: StorageClient, key: str) -> None:
        self.storage = storage
        self.key = key
        self.description = f"{key} (in {type(storage).__name__})"
        self._lock = asyncio.Lock()
        self._version = 0
        self._written = 0
        self._exists = False

    async def load(self, *, workspace: str, source: str) -> Manifest:
        chunks: list[bytes] = []
        try:
            async for chunk in self.storage.open_read(self.key):
                chunks.append(chunk)
        except (StorageFileNotFoundError, FileNotFoundError):
            return Manifest(workspace=workspace, source=source)
        self._exists = True
        try:
            data = json.loads(b"".join(chunks))
        except ValueError as exc:
            raise IngestError(f"the manifest {self.description} is not valid JSON ({exc})") from exc
        manifest = Manifest.from_json(data, where=self.description)
        return _check_identity(manifest, workspace=workspace, where=self.description)

    async def record(self, manifest: Manifest, key: str) -> None:
        self._version += 1
        wanted = self._version
        async with self._lock:
            if self._written >= wanted:
                return  # a write that started after our change already contains it
            await self._write(manifest)

    async def flush(self, manifest: Manifest) -> None:
        if self._exists and self._written == self._version:
            return  # every change is already stored
        self._version += 1
        async with self._lock:
            await self._write(manifest)

    async def close(self) -> None:
        pass

    async def _write(self, manifest: Manifest) -> None:
        version = self._version
        payload = await asyncio.to_thread(_encode, manifest.to_json())

        async def chunks() -> AsyncIterator[bytes]:
            yield payload

        await self.storage.put_stream(self.key, chunks())
        self._written = version
        self._exists = True


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
