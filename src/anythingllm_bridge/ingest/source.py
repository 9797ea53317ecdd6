"""Where a sync reads documents from: a local folder or a prefix in a :class:`StorageClient`.

A source lists its files with what can be known without reading them (size, and mtime or the
storage's ETag), hashes one on request, and hands the sync a local path to validate and upload.
A sync only ever reads its source (a bucket may well be read-only to it).

Listing is where "the files are gone" could be mistaken for "the files could not be seen", so a
source that cannot be listed at all raises :class:`IngestError` (the sync does not start), and a
folder inside it that cannot be listed is named in :attr:`Listing.unlisted`: what the workspace
holds from there is neither pruned nor reported gone. Entries that are not regular files (symbolic
links, FIFOs, sockets, devices) are listed in :attr:`Listing.refused` with the reason, never opened.

Each source has an :attr:`~Source.identity` that the markers on its documents carry: the
``file://`` URI of a folder's absolute, resolved path, or ``s3://bucket/prefix``. It names the
source, not the machine or the server: a sync can give its own (``source_id``) when the same
content lives at different paths on different machines.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from anythingllm_bridge.checksum import Checksum, sha256_file
from anythingllm_bridge.errors import IngestError, StorageError, os_reason
from anythingllm_bridge.validation import NOT_REGULAR

if TYPE_CHECKING:
    from anythingllm_bridge.storage import StorageClient

__all__ = [
    "SYMLINK",
    "FolderSource",
    "Listing",
    "Source",
    "SourceFile",
    "StorageSource",
    "folder_location",
    "overlap",
    "sha256_file",
    "source_location",
    "storage_location",
]

#: Why a symbolic link in a source folder is not synced.
SYMLINK = "is a symbolic link (not followed)"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of a source. ``key`` is its ``/``-separated path relative to the source root.

    ``size`` is in bytes; -1 means unknown (a source that cannot tell without reading): the
    sync then hashes it, and takes the size from the local copy.
    """

    key: str
    size: int
    mtime_ns: int | None = None
    etag: str | None = None

    @property
    def name(self) -> str:
        """The last part of the key (the file's own name)."""
        return self.key.rsplit("/", 1)[-1]


@dataclass(slots=True)
class Listing:
    """What a source lists: its files, sorted by key, and what it could not list or will not send.

    ``refused``: key → why it is not a file the sync can send (a symbolic link, a device, a pipe, a
    socket; in a bucket, a key the storage cannot name).
    ``unreadable``: key → why it could not be examined. ``unlisted``: key prefixes (``"sub/"``)
    of folders that could not be listed → why. Nothing unreadable or unlisted counts as gone.
    """

    files: list[SourceFile] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    unlisted: dict[str, str] = field(default_factory=dict)

    def hides(self, key: str) -> bool:
        """True when the listing cannot say whether ``key`` is gone: it could not be examined, or
        it lies under a folder that could not be listed."""
        return key in self.unreadable or any(key.startswith(prefix) for prefix in self.unlisted)


class Source(Protocol):
    """A set of files to sync."""

    description: str
    """How the source is shown to people (a path, ``s3://bucket/prefix``)."""
    identity: str
    """What the markers on its documents call it by default (see the module documentation)."""

    async def scan(self) -> Listing:
        """Every file, sorted by key, without reading any content; raises :class:`IngestError`
        when the source cannot be listed at all."""
        ...

    async def sha256(self, file: SourceFile) -> str:
        """The hex SHA-256 of the file's content."""
        ...

    def local_path(self, file: SourceFile) -> AbstractAsyncContextManager[Path]:
        """A local path holding the file's content for as long as the context is open."""
        ...

    def changed(self, file: SourceFile, path: Path) -> bool:
        """True when the file at ``path`` is no longer the one listed (it changed during the sync)."""
        ...


class FolderSource:
    """Every regular file under a local folder (recursively).

    Names starting with ``.`` (files and folders) are skipped: they are editor, VCS and OS
    droppings such as ``.git`` or ``.DS_Store``. Symbolic links are not followed: each one, to a
    file or a folder, is listed in :attr:`Listing.refused` (``is a symbolic link (not followed)``),
    so a link can never pull in files from outside the folder, nor the same files twice. The
    folder is walked without recursion, however deep it is. File names that are not valid UTF-8
    are listed as Python gives them (with surrogate escapes).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.description = str(self.root)
        self.identity = self.root.resolve().as_uri()

    def __repr__(self) -> str:
        return f"FolderSource({str(self.root)!r})"

    async def scan(self) -> Listing:
        """Every file under the folder (see the class documentation)."""
        return await asyncio.to_thread(self.scan_sync)

    def scan_sync(self) -> Listing:
        """:meth:`scan`, blocking."""
        if not self.root.exists():
            raise IngestError(f"source folder {self.root} does not exist")
        if not self.root.is_dir():
            raise IngestError(f"source {self.root} is not a folder")
        listing = Listing()
        try:
            entries = list(os.scandir(os.path.abspath(self.root)))
        except OSError as exc:
            raise IngestError(f"cannot list the source folder {self.root}: {os_reason(exc)}") from exc
        folders: list[tuple[str, list[os.DirEntry[str]]]] = [("", entries)]
        while folders:  # a stack of the folders still to look into: no depth is too deep
            prefix, below = folders.pop()
            for entry in below:
                found = self._look_at(entry, prefix + entry.name, listing)
                if found is not None:
                    folders.append((prefix + entry.name + "/", found))
        listing.files.sort(key=lambda f: f.key)
        return listing

    @staticmethod
    def _look_at(entry: os.DirEntry[str], key: str, listing: Listing) -> list[os.DirEntry[str]] | None:
        """Put ``entry`` (at ``key``) into ``listing``; the entries of a folder to look into."""
        if entry.name.startswith("."):
            return None
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # gone between the listing and the look at it
        except OSError as exc:
            listing.unreadable[key] = f"cannot be examined: {os_reason(exc)}"
            return None
        if stat.S_ISDIR(st.st_mode):
            try:
                return list(os.scandir(entry.path))
            except FileNotFoundError:
                return None
            except OSError as exc:
                listing.unlisted[key + "/"] = f"cannot list this folder: {os_reason(exc)}"
                return None
        if stat.S_ISREG(st.st_mode):
            listing.files.append(SourceFile(key=key, size=st.st_size, mtime_ns=st.st_mtime_ns))
        elif stat.S_ISLNK(st.st_mode):
            listing.refused[key] = SYMLINK
        else:
            listing.refused[key] = NOT_REGULAR
        return None

    def path_of(self, file: SourceFile) -> Path:
        """Where the file is on disk."""
        return self.root.joinpath(*file.key.split("/"))

    async def sha256(self, file: SourceFile) -> str:
        """The file's SHA-256, read in a worker thread."""
        return await asyncio.to_thread(sha256_file, self.path_of(file))

    @asynccontextmanager
    async def local_path(self, file: SourceFile) -> AsyncIterator[Path]:
        """The file itself."""
        yield self.path_of(file)

    def changed(self, file: SourceFile, path: Path) -> bool:
        """Its size or mtime is no longer what the listing saw (or it is gone)."""
        try:
            st = path.lstat()
        except OSError:
            return True
        return st.st_size != file.size or st.st_mtime_ns != file.mtime_ns


class StorageSource:
    """Every object under ``prefix`` in a storage (local or S3). Keys are relative to the prefix.

    Keys with a part starting with ``.`` are skipped, as in a folder. Objects whose key the storage
    refuses to name (``a//b``, a control character) are listed in :attr:`Listing.refused` with
    the storage's reason. ``identity`` defaults to ``s3://bucket/prefix`` for an S3 storage and to
    ``description`` otherwise.
    """

    def __init__(
        self,
        storage: StorageClient,
        prefix: str = "",
        *,
        description: str | None = None,
        identity: str | None = None,
    ) -> None:
        self.storage = storage
        # A prefix names a folder: "docs" and "docs/" both mean everything under "docs/".
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        bucket = getattr(storage, "bucket", None)
        where = f"s3://{bucket}/{self.prefix}".rstrip("/") if isinstance(bucket, str) else None
        self.description = description or where or f"{type(storage).__name__}:{self.prefix}"
        self.identity = identity or where or self.description

    def __repr__(self) -> str:
        return f"StorageSource({self.description!r})"

    async def scan(self) -> Listing:
        """Every object under the prefix; a listing that fails (access denied, cut short) raises."""
        refused: dict[str, str] = {}
        try:
            objects = await self.storage.list_objects(self.prefix, refused=refused)
        except StorageError as exc:
            raise IngestError(f"cannot list {self.description}: {exc}") from exc
        listing = Listing()
        for object_key, reason in refused.items():  # objects no storage call could read
            key = object_key.removeprefix(self.prefix)
            if key and not any(part.startswith(".") for part in key.split("/")):
                listing.refused[key] = f"cannot be read through the storage: {reason}"
        for listed in objects:
            object_key = listed.key
            if not object_key.startswith(self.prefix):
                continue
            key = object_key[len(self.prefix) :]
            if not key or key.endswith("/"):
                continue
            if any(part.startswith(".") for part in key.split("/")):
                continue
            # The listing's size and ETag (S3) or mtime (local) let the sync skip reading objects
            # that are as recorded.
            listing.files.append(SourceFile(key, listed.size, mtime_ns=listed.mtime_ns, etag=listed.etag))
        listing.files.sort(key=lambda f: f.key)
        return listing

    def object_key(self, file: SourceFile) -> str:
        """The object's key in the storage."""
        return self.prefix + file.key

    async def sha256(self, file: SourceFile) -> str:
        """The object's SHA-256, streamed from the storage."""
        checksum = Checksum()
        async for chunk in self.storage.open_read(self.object_key(file)):
            await checksum.update_async(chunk)
        return checksum.hexdigest()

    @asynccontextmanager
    async def local_path(self, file: SourceFile) -> AsyncIterator[Path]:
        """A downloaded copy in a temporary folder, under the object's own name."""
        with tempfile.TemporaryDirectory(prefix="allm-sync-") as tmp:
            # Keep the file's own name: AnythingLLM derives the document title from it.
            target = Path(tmp) / file.name
            await self.storage.download_file(self.object_key(file), target)
            yield target

    def changed(self, file: SourceFile, path: Path) -> bool:
        """Never: the local copy is a snapshot, hashed and sent as it is."""
        return False


def storage_location(storage: StorageClient, prefix: str = "") -> str | None:
    """Where ``prefix`` of ``storage`` is, as a URI ending in ``/`` (``file:///srv/store/processed/``,
    ``s3://bucket/processed/``), to tell whether two places overlap; ``None`` for a storage of
    another kind."""
    bucket = getattr(storage, "bucket", None)
    if isinstance(bucket, str):
        return f"s3://{bucket}/{prefix}"
    base = getattr(storage, "base_path", None)
    if isinstance(base, Path):
        return folder_location(base / prefix)
    return None


def folder_location(path: Path) -> str:
    """A local folder as a URI ending in ``/`` (absolute, symbolic links resolved)."""
    return path.expanduser().resolve().as_uri().rstrip("/") + "/"


def source_location(source: Source) -> str | None:
    """Where ``source`` reads from, as :func:`storage_location` writes it (``None``: unknown)."""
    if isinstance(source, FolderSource):
        return folder_location(source.root)
    if isinstance(source, StorageSource):
        return storage_location(source.storage, source.prefix)
    return None


def overlap(one: str, other: str) -> bool:
    """True when one of two locations (from :func:`storage_location`) lies within the other."""
    return one.startswith(other) or other.startswith(one)
