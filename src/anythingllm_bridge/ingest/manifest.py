"""The sync's cache: the content hash of each file it has seen, so an unchanged re-sync reads nothing.

The workspace, not this file, says what is synced (every document carries a marker naming its
source, key and content hash; see :mod:`.marker`). The cache only spares the reading: per key of
one source it records size, mtime (or the storage's ETag) and SHA-256, and a file whose size and
mtime (or ETag) are as recorded is taken to have that hash without being read. A lost, deleted,
foreign or corrupt cache only costs reading the files again: the sync hashes them and compares
with the markers, and sends nothing for unchanged files. The hash of a file does not depend on the
server or the workspace, so the cache belongs to the source alone (and to its shard).

It also remembers the ids of the uploads of each file whose documents may be on the server (the one
confirmed in the workspace, and any since), and whether the last was confirmed at all (``pending``):
the next run then looks for the documents such uploads may have left outside the workspace (by the
id in their marker) before sending the file again.

Writes are crash-safe and cheap, and none is made on the event loop: every change is one JSON line
appended to a journal next to the cache (``<cache>.journal``), folded into the file with an atomic
rename (write a temporary file, ``fsync``, ``os.replace``) at the end of a run and whenever it
grows large. A torn last journal line (a crash mid-write) is ignored on load. While a sync holds a
cache it keeps an exclusive lock on ``<cache>.lock``; a second sync of the same source on the same
machine meanwhile reads the cache but does not write it (that is what the lock is for: two writers
would each drop the other's lines; the workspace keeps the syncs themselves consistent).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, cast

from anythingllm_bridge.errors import IngestError, os_reason
from anythingllm_bridge.ingest.keys import key_from_text, key_to_text
from anythingllm_bridge.ingest.source import SourceFile
from anythingllm_bridge.tracing import get_logger

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one sync at a time is up to the user
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHOOSE_ANOTHER",
    "FileManifestStore",
    "Manifest",
    "ManifestEntry",
    "ManifestStore",
    "default_manifest_path",
    "stamp_matches",
]

#: How to put the cache elsewhere, for the notes and errors that name a cache.
CHOOSE_ANOTHER = "choose another place with --manifest or MANIFEST_PATH (or XDG_STATE_HOME)"

logger = get_logger("anythingllm_bridge.ingest")

FORMAT = "anythingllm-bridge-manifest"
VERSION = 2

_T = TypeVar("_T")


@dataclass(slots=True)
class ManifestEntry:
    """What the cache knows about one source file.

    ``sha256`` is the content hash of the file as it was when it had this ``size`` and
    ``mtime_ns`` (or ``etag``). ``uploads`` are the ids (in their markers) of this file's uploads
    from this cache that may have left a document: the last one confirmed in the workspace and
    every one since; ``pending`` is the hash of the last upload when it was started but got no
    answer (its document may or may not exist on the server).
    """

    key: str
    sha256: str = ""
    size: int = 0
    mtime_ns: int | None = None
    etag: str | None = None
    uploads: list[str] = field(default_factory=list)
    pending: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as the cache stores it (a new dict, empty fields left out)."""
        data = {
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "etag": self.etag,
            "uploads": list(self.uploads),
            "pending": self.pending,
        }
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def from_json(cls, key: str, data: object) -> ManifestEntry:
        """An entry from what :meth:`to_json` wrote; ``ValueError`` when ``data`` is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"an entry is an object, not {type(data).__name__}")
        uploads = data.get("uploads") or []
        if not isinstance(uploads, list) or not all(isinstance(u, str) for u in uploads):
            raise ValueError("uploads is not a list of ids")
        return cls(
            key=key,
            sha256=_text(data.get("sha256", "")) or "",
            size=_whole(data.get("size", 0)) or 0,
            mtime_ns=_whole(data.get("mtime_ns")),
            etag=_text(data.get("etag")),
            uploads=list(uploads),
            pending=_text(data.get("pending")),
        )


def stamp_matches(file: SourceFile, entry: ManifestEntry) -> bool:
    """True when the listed ``file`` is certainly the recorded version, without reading it."""
    if file.size != entry.size or not entry.sha256 or file.size < 0:
        return False
    if file.mtime_ns is not None and file.mtime_ns == entry.mtime_ns:
        return True
    return file.etag is not None and file.etag == entry.etag


@dataclass(slots=True)
class Manifest:
    """Every entry of one source (``source`` is its identity).

    ``notes``: what the store found worth telling the sync's user about the cache — a cache of
    another source replaced, entries it could not read and dropped, a cache it cannot write (the
    sync then goes on without saving it). Not stored."""

    source: str
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The whole cache as stored (keys kept as the file system gave them, losslessly)."""
        entries: dict[str, Any] = {}
        for key, entry in sorted(self.entries.items()):
            stored, as_bytes = key_to_text(key)
            entries[stored] = {**entry.to_json(), "key_bytes": True} if as_bytes else entry.to_json()
        return {"format": FORMAT, "version": VERSION, "source": self.source, "entries": entries}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, source: str, where: str) -> Manifest:
        """The cache ``data`` (a sync cache: its ``format`` is ours) holds for ``source``: a new
        empty one when it is another source's or version's; entries that cannot be read are
        dropped — it is only a cache, each one costs reading a file again. ``where`` names the
        file in the notes."""
        manifest = cls(source=source)
        if data.get("version") != VERSION or data.get("source") != source:
            manifest.note(f"{where} is a cache of another source or version; starting a new one")
            return manifest
        entries = data.get("entries") or {}
        if not isinstance(entries, dict):
            manifest.note(f"the sync cache {where} holds no readable entries; starting a new one")
            return manifest
        dropped = 0
        for stored, value in entries.items():
            try:
                key = key_from_text(stored, value.get("key_bytes") if isinstance(value, dict) else None)
                manifest.entries[key] = ManifestEntry.from_json(key, value)
            except ValueError:
                dropped += 1
        if dropped:
            what = "entry" if dropped == 1 else "entries"
            manifest.note(
                f"the sync cache {where} had {dropped} unreadable {what}; dropped (their files are "
                "read again)"
            )
        return manifest

    def note(self, message: str) -> None:
        """Add a note for the sync's user (see the class documentation), logged as a warning too."""
        logger.warning("%s", message)
        self.notes.append(message)


class ManifestStore(Protocol):
    """Loads a cache and records every change to it durably."""

    description: str

    async def load(self, *, source: str, write: bool = True) -> Manifest:
        """The stored cache of ``source``, or a new empty one; with ``write=False`` (a dry run)
        it is only read: nothing is created, locked or written."""
        ...

    async def record(self, manifest: Manifest, key: str) -> None:
        """Make the current state of ``manifest.entries[key]`` (or its absence) durable."""
        ...

    async def flush(self, manifest: Manifest) -> None:
        """Write the whole cache in its compact form (end of a run)."""
        ...

    async def close(self) -> None:
        """Release what ``load`` took (the lock)."""
        ...


def default_manifest_path(source: str, shard: str | None = None) -> Path:
    """``$XDG_STATE_HOME/anythingllm-bridge/manifests/<name>-<hash>.json`` (``~/.local/state``
    when unset): one per source identity (and shard), outside any synced folder. It does not
    depend on the server or the workspace: the hash of a file does not either."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    tail = source.rstrip("/").rsplit("/", 1)[-1] or "source"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.")[:40] or "source"
    digest = hashlib.sha256(f"{source}\0{shard or ''}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state / "anythingllm-bridge" / "manifests" / f"{name}-{digest}.json"


class FileManifestStore:
    """A cache in a local JSON file with an append-only journal beside it.

    Every file-system call (the lock, reads, journal appends, the atomic rewrite) runs in one worker
    thread owned by the store, never on the event loop. The thread runs the calls one at a time in
    the order they were made, so journal lines land in the order the changes were recorded, even
    when several coroutines record at once or one of them is cancelled.

    The store only ever writes regular files, and never one that is not a sync cache: a path
    (or its ``.journal`` or ``.lock``) that is a folder, a device, a pipe or a socket, or a file
    that holds something else, is refused with :class:`IngestError` — unless ``own_folder`` says
    the path is in a folder only the sync writes (its state folder), where such a file is
    replaced with a note. An empty file is taken as an empty cache. The cache, its journal and
    its lock are readable by their owner only (0600).

    A cache that cannot be written (a read-only home, a folder without permission, a full disk)
    does not stop the sync: it goes on without saving it (read-only, with a note saying where it
    tried and how to choose another place); so does a cache that cannot be read.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, compact_every: int = 2000, own_folder: bool = False
    ) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.description = str(self.path)
        self.own_folder = own_folder
        self._compact_every = compact_every
        self._worker: ThreadPoolExecutor | None = None
        # Worker-thread state: the open journal and the held lock.
        self._journal: BinaryIO | None = None
        self._lock_file: BinaryIO | None = None
        # Event-loop state: what the files will hold once every queued call has run.
        self._has_base = False  # the cache file exists (else the first change writes it)
        self._journal_lines = 0  # journal lines not yet folded into the cache file
        self.read_only = False  # read the cache, write nothing (a dry run, another sync, no access)

    def __repr__(self) -> str:
        return f"FileManifestStore({str(self.path)!r})"

    @property
    def files(self) -> list[Path]:
        """Every file this store may write: the cache, its journal and its lock."""
        return [self.path, self.journal_path, self.lock_path]

    async def load(self, *, source: str, write: bool = True) -> Manifest:
        """The cache of ``source`` (locked while this store holds it; read-only when another sync
        holds it, when it cannot be written, or with ``write=False``: then nothing is created)."""
        self.read_only = self.read_only or not write
        try:
            manifest, self._has_base, self._journal_lines = await self._in_worker(self._load, source)
        except BaseException:
            self._stop_worker()
            raise
        return manifest

    async def record(self, manifest: Manifest, key: str) -> None:
        """Append the change of ``key`` to the journal (nothing when read-only)."""
        if self.read_only:
            return
        # Everything taken from ``manifest`` is copied here, on the event loop, at the call: the
        # worker thread never reads the manifest the sync keeps changing.
        entry = manifest.entries.get(key)
        stored, as_bytes = key_to_text(key)
        change: dict[str, Any] = {
            "source": manifest.source,
            "key": stored,
            "entry": entry.to_json() if entry else None,
        }
        if as_bytes:
            change["key_bytes"] = True
        line = json.dumps(change, separators=(",", ":")).encode("utf-8")
        # A brand-new manifest: write the base first so the journal has something to belong to.
        base = None if self._has_base else manifest.to_json()
        self._has_base = True
        self._journal_lines += 1
        compacted = None
        if self._journal_lines >= max(self._compact_every, len(manifest.entries)):
            compacted = manifest.to_json()
            self._journal_lines = 0
        try:
            await self._in_worker(self._write_record, base, line + b"\n", compacted)
        except OSError as exc:
            manifest.note(self._cannot_write(exc))

    async def flush(self, manifest: Manifest) -> None:
        """Fold the journal into the cache file (nothing when read-only or nothing changed)."""
        if self.read_only or (self._has_base and not self._journal_lines):
            return  # the manifest file already holds every change
        data = manifest.to_json()
        self._has_base, self._journal_lines = True, 0
        try:
            await self._in_worker(self._replace, data)
        except OSError as exc:
            manifest.note(self._cannot_write(exc))

    async def close(self) -> None:
        """Release the lock and stop the worker thread."""
        if self._worker is None:
            return
        try:
            await self._in_worker(self._close_files)
        finally:
            self._stop_worker()

    def _cannot_write(self, exc: OSError) -> str:
        """The cache cannot be written (a full disk, a folder made read-only, no permission): go
        on without it; the note that says so."""
        self.read_only = True
        return (
            f"cannot write the sync cache {self.path} ({os_reason(exc)}): this sync goes on without "
            f"saving it; {CHOOSE_ANOTHER}"
        )

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

    def _load(self, source: str) -> tuple[Manifest, bool, int]:
        for path in self.files:
            _refuse_unless_regular(path)
        notes: list[str] = []
        if not self.read_only:
            self._lock(notes)
        try:
            manifest = self._read_base(source, notes)
            lines = self._apply_journal(manifest)
            manifest.notes[:0] = notes
            return manifest, self.path.exists(), lines
        except BaseException:
            self._close_files()  # a refused cache gives its lock back at once, not when collected
            raise

    def _read_base(self, source: str, notes: list[str]) -> Manifest:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Manifest(source=source)
        except OSError as exc:
            self.read_only = True  # a file this sync cannot read is not one to overwrite either
            self._close_files()
            notes.append(
                f"cannot read the sync cache {self.path} ({os_reason(exc)}): this sync goes on "
                f"without it (every file with a document is read again); {CHOOSE_ANOTHER}"
            )
            return Manifest(source=source)
        if not raw.strip():
            return Manifest(source=source)  # an empty file holds nothing to lose
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            what = "is not valid JSON" if data is None else "holds something else"
            if not self.own_folder:
                raise IngestError(
                    f"the sync cache {self.path} exists and is not one (it {what}): it is not "
                    f"overwritten; {CHOOSE_ANOTHER}, or delete the file if it was a cache"
                )
            manifest = Manifest(source=source)
            manifest.note(f"{self.path} {what}, not a sync cache; starting a new one")
            return manifest
        return Manifest.from_json(data, source=source, where=str(self.path))

    def _apply_journal(self, manifest: Manifest) -> int:
        """Apply the journal's changes to ``manifest``; the number of lines applied. A line that
        cannot be read is dropped (one note for all); a torn last line (a crash mid-write) is a
        change that was never confirmed, and dropped silently."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            self.read_only = True
            self._close_files()
            manifest.note(
                f"cannot read the sync cache's journal {self.journal_path} ({os_reason(exc)}): this "
                f"sync goes on without saving the cache; {CHOOSE_ANOTHER}"
            )
            return 0
        applied = dropped = 0
        lines = raw.split(b"\n")
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("a journal line is an object")
                if record.get("source") != manifest.source:
                    continue
                stored = record.get("key")
                if not isinstance(stored, str) or not stored:
                    raise ValueError("a journal line names its key")
                key = key_from_text(stored, record.get("key_bytes"))
                if record.get("entry") is None:
                    manifest.entries.pop(key, None)
                else:
                    manifest.entries[key] = ManifestEntry.from_json(key, record["entry"])
            except ValueError:
                if n < len(lines) - 1:  # the last line may be torn by a crash: not worth a word
                    dropped += 1
                continue
            applied += 1
        if dropped:
            manifest.note(
                f"the sync cache's journal {self.journal_path} had {dropped} unreadable "
                f"line{'' if dropped == 1 else 's'}; dropped (their files are read again)"
            )
        return applied

    def _write_record(
        self, base: dict[str, Any] | None, line: bytes, compacted: dict[str, Any] | None
    ) -> None:
        if base is not None:
            self._replace(base)
        if self._journal is None:
            self._journal = _open_private(self.journal_path, os.O_WRONLY | os.O_APPEND, "ab")
        # One write() of one line on an O_APPEND file: it lands whole or (after a crash) torn.
        self._journal.write(line)
        if compacted is not None:
            self._replace(compacted)

    def _replace(self, data: dict[str, Any]) -> None:
        """Write ``data`` (from :meth:`Manifest.to_json`) as the cache file, atomically, then drop
        the journal it now contains."""
        _refuse_unless_regular(self.path)  # whatever appeared there since the load
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, _encode(data))
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()

    def _close_files(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the lock
            self._lock_file = None

    def _lock(self, notes: list[str]) -> None:
        """Hold an exclusive lock on ``<cache>.lock`` until :meth:`close`; when another sync holds
        it, or it cannot be made, go on read-only (see the module documentation)."""
        if self._lock_file is not None or fcntl is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = _open_private(self.lock_path, os.O_RDWR, "r+b")
        except OSError as exc:
            notes.append(self._cannot_write(exc))
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            self.read_only = True
            notes.append(f"another sync is using the cache {self.path}: this one reads it and writes nothing")
            return
        self._lock_file = handle


def _refuse_unless_regular(path: Path) -> None:
    """Raise :class:`IngestError` when ``path`` exists and is not a regular file (following a
    symbolic link): the store writes nothing else."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:
        return  # cannot be examined: reading or writing it will say why
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise IngestError(
            f"the sync cache {path} is {what}, not a regular file: it is never written; {CHOOSE_ANOTHER}"
        )


def _open_private(path: Path, flags: int, mode: str) -> BinaryIO:
    """Open (creating it readable by its owner only) a file the store keeps."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with contextlib.suppress(OSError):  # one an older version made readable by everyone
        os.fchmod(fd, 0o600)
    return cast(BinaryIO, os.fdopen(fd, mode, buffering=0))


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


def _whole(value: object) -> int | None:
    """A whole number the cache stored (``None`` stays ``None``); ``ValueError`` for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _text(value: object) -> str | None:
    """A text the cache stored (``None`` stays ``None``); ``ValueError`` for anything else."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{value!r} is not a text")
    return value
