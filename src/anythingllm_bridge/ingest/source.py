"""Where sync reads documents from: a local folder or a prefix in a :class:`StorageClient`.

A source lists its files with what can be known without reading them (size, and mtime or the
storage's ETag), hashes one on request, and hands the pipeline a local path to validate and upload.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from anythingllm_bridge.checksum import Checksum, sha256_file
from anythingllm_bridge.errors import IngestError

if TYPE_CHECKING:
    from anythingllm_bridge.storage import StorageClient

__all__ = ["FolderSource", "Source", "SourceFile", "StorageSource", "sha256_file"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of a source. ``key`` is its ``/``-separated path relative to the source root.

    ``size`` is in bytes; -1 means unknown (a source that cannot tell without reading): the
    planner then compares content hashes, and the pipeline takes the size from the local copy.
    """

    key: str
    size: int
    mtime_ns: int | None = None
    etag: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class Source(Protocol):
    """A set of files to sync."""

    description: str

    async def scan(self) -> list[SourceFile]:
        """Every file, sorted by key, without reading any content."""
        ...

    async def sha256(self, file: SourceFile) -> str:
        """The hex SHA-256 of the file's content."""
        ...

    def local_path(self, file: SourceFile) -> AbstractAsyncContextManager[Path]:
        """A local path holding the file's content for as long as the context is open."""
        ...


class FolderSource:
    """Every regular file under a local folder (recursively).

    Names starting with ``.`` (files and folders) are skipped: they are editor, VCS and OS
    droppings such as ``.git`` or ``.DS_Store``. Symbolic links are listed without being followed,
    so validation can refuse them with a reason. ``exclude`` names absolute paths to leave out
    (the manifest, when it lives inside the folder).
    """

    def __init__(
        self, root: str | os.PathLike[str], *, exclude: Iterable[str | os.PathLike[str]] = ()
    ) -> None:
        self.root = Path(root).expanduser()
        self.description = str(self.root)
        self._exclude = {os.path.abspath(p) for p in exclude}

    def __repr__(self) -> str:
        return f"FolderSource({str(self.root)!r})"

    async def scan(self) -> list[SourceFile]:
        return await asyncio.to_thread(self.scan_sync)

    def scan_sync(self) -> list[SourceFile]:
        if not self.root.exists():
            raise IngestError(f"source folder {self.root} does not exist")
        if not self.root.is_dir():
            raise IngestError(f"source {self.root} is not a folder")
        files: list[SourceFile] = []
        self._walk(os.path.abspath(self.root), "", files)
        files.sort(key=lambda f: f.key)
        return files

    def _walk(self, directory: str, prefix: str, out: list[SourceFile]) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            raise IngestError(f"cannot list {directory}: {exc.strerror or exc}") from exc
        for entry in entries:
            if entry.name.startswith(".") or entry.path in self._exclude:
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                self._walk(entry.path, f"{prefix}{entry.name}/", out)
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                out.append(SourceFile(key=prefix + entry.name, size=st.st_size, mtime_ns=st.st_mtime_ns))

    def path_of(self, file: SourceFile) -> Path:
        return self.root.joinpath(*file.key.split("/"))

    async def sha256(self, file: SourceFile) -> str:
        return await asyncio.to_thread(sha256_file, self.path_of(file))

    @asynccontextmanager
    async def local_path(self, file: SourceFile) -> AsyncIterator[Path]:
        yield self.path_of(file)


class StorageSource:
    """Every object under ``prefix`` in a storage (local or S3). Keys are relative to the prefix.

    ``exclude_prefix`` hides the manifest objects this package keeps in the same storage.
    """

    def __init__(
        self,
        storage: StorageClient,
        prefix: str = "",
        *,
        description: str | None = None,
        exclude_prefix: str | None = ".anythingllm-bridge/",
    ) -> None:
        self.storage = storage
        # A prefix names a folder: "docs" and "docs/" both mean everything under "docs/".
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = description or f"{type(storage).__name__}:{prefix}"
        self._exclude = exclude_prefix

    def __repr__(self) -> str:
        return f"StorageSource({self.description!r})"

    async def scan(self) -> list[SourceFile]:
        files: list[SourceFile] = []
        for listed in await self.storage.list_objects(self.prefix):
            object_key = listed.key
            if not object_key.startswith(self.prefix):
                continue
            key = object_key[len(self.prefix) :]
            if not key or key.endswith("/"):
                continue
            if self._exclude and object_key.startswith(self._exclude):
                continue
            if any(part.startswith(".") for part in key.split("/")):
                continue
            # The listing's size and ETag (S3) or mtime (local) let the planner skip reading
            # objects that are as recorded.
            files.append(SourceFile(key, listed.size, mtime_ns=listed.mtime_ns, etag=listed.etag))
        files.sort(key=lambda f: f.key)
        return files

    def object_key(self, file: SourceFile) -> str:
        return self.prefix + file.key

    async def sha256(self, file: SourceFile) -> str:
        checksum = Checksum()
        async for chunk in self.storage.open_read(self.object_key(file)):
            await checksum.update_async(chunk)
        return checksum.hexdigest()

    @asynccontextmanager
    async def local_path(self, file: SourceFile) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="allm-sync-") as tmp:
            # Keep the file's own name: AnythingLLM derives the document title from it.
            target = Path(tmp) / file.name
            await self.storage.download_file(self.object_key(file), target)
            yield target
