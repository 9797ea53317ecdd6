"""The emulator's in-memory database: workspaces, threads, documents, embeddings and chats.

One :class:`Store` per emulator. Every method is synchronous and runs under one re-entrant lock, so a
handler's read-modify-write never interleaves with another request's (handlers do not ``await`` inside
a store call) and tests may inspect the store from another thread. Rows are kept as the server's
Prisma rows look on the wire (camelCase keys, ISO dates with ``Z``).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anythingllm_bridge.testing.retrieval import Hit, Vector, document_chunks, embed, search
from anythingllm_bridge.testing.slugify import anythingllm_slugify

__all__ = [
    "DEFAULT_FOLDER",
    "DEFAULT_PROMPT",
    "Chat",
    "Store",
    "StoredDocument",
    "Thread",
    "Workspace",
    "WorkspaceDocument",
    "bad_name",
    "iso",
    "locale_string",
]

DEFAULT_FOLDER = "custom-documents"
DEFAULT_PROMPT = (
    "Given the following conversation, relevant context, and a follow up question, reply with an answer "
    "to the current question the user is asking. The current date and time is {datetime}. Return only "
    "your response to the question given the above information following the users instructions as needed."
)
DEFAULT_THREAD_NAME = "Thread"
_UNIQUE_SLUG_ERROR = (
    "\nInvalid `prisma.{table}.create()` invocation:\n\n\nUnique constraint failed on the fields: (`slug`)"
)


def bad_name(name: str) -> bool:
    """A folder or file name the server's path checks refuse: empty, ``.``, ``..`` or with a separator."""
    return name in ("", ".", "..") or "/" in name or "\\" in name


def iso(moment: datetime) -> str:
    """A Prisma ``DateTime`` on the wire: ``2026-03-26T10:09:06.439Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def locale_string(moment: datetime) -> str:
    """``Date.toLocaleString()`` of a server in UTC / en-US: ``11/21/2026, 11:40:35 PM``."""
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S} {suffix}"


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------ rows


@dataclass
class Workspace:
    id: int
    slug: str
    fields: dict[str, Any]  # the Prisma row, in column order

    def row(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass
class Thread:
    id: int
    name: str
    slug: str
    workspace_id: int
    user_id: int | None
    created_at: datetime
    updated_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "workspace_id": self.workspace_id,
            "user_id": self.user_id,
            "createdAt": iso(self.created_at),
            "lastUpdatedAt": iso(self.updated_at),
        }


@dataclass
class StoredDocument:
    """A parsed document as the collector writes it to ``storage/documents/<folder>/<filename>``."""

    meta: dict[
        str, Any
    ]  # id, url, title, docAuthor, description, docSource, chunkSource, published, wordCount
    page_content: str
    token_count: int
    folder: str
    filename: str

    @property
    def location(self) -> str:
        return f"{self.folder}/{self.filename}"

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    def metadata(self) -> dict[str, Any]:
        """The document JSON without ``pageContent`` (what listings, rows and vectors carry)."""
        return {**self.meta, "token_count_estimate": self.token_count}

    def upload_view(self) -> dict[str, Any]:
        """The document as an upload response shows it (full text included)."""
        return {
            **self.meta,
            "pageContent": self.page_content,
            "token_count_estimate": self.token_count,
            "location": self.location,
            "isDirectUpload": False,
        }


@dataclass
class WorkspaceDocument:
    """A ``workspace_documents`` row: one document embedded in one workspace."""

    id: int
    doc_id: str
    filename: str
    docpath: str
    workspace_id: int
    metadata: str  # a JSON string, as on the wire
    pinned: bool
    created_at: datetime
    updated_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "docId": self.doc_id,
            "filename": self.filename,
            "docpath": self.docpath,
            "workspaceId": self.workspace_id,
            "metadata": self.metadata,
            "pinned": self.pinned,
            "watched": False,
            "createdAt": iso(self.created_at),
            "lastUpdatedAt": iso(self.updated_at),
        }


@dataclass
class Chat:
    id: int
    workspace_id: int
    prompt: str
    response: dict[str, Any]  # text, sources, type, attachments, metrics
    thread_id: int | None
    api_session_id: str | None
    include: bool
    created_at: datetime = field(default_factory=now)

    def history(self) -> list[dict[str, Any]]:
        """The two history entries (user turn, assistant turn) the chats endpoints list."""
        sent_at = int(self.created_at.timestamp())
        user = {
            "role": "user",
            "content": self.prompt,
            "sentAt": sent_at,
            "attachments": self.response.get("attachments", []),
            "chatId": self.id,
        }
        assistant = {
            "type": self.response.get("type", "chat"),
            "role": "assistant",
            "content": self.response.get("text", ""),
            "sources": self.response.get("sources", []),
            "chatId": self.id,
            "sentAt": sent_at,
            "feedbackScore": None,
            "metrics": self.response.get("metrics", {}),
        }
        return [user, assistant]


# ----------------------------------------------------------------------------------- store


class Store:
    """Everything the emulated server remembers. ``seed`` makes ids and slug suffixes reproducible."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget everything, as a new store with the same seed (ids and slug suffixes start over)."""
        with self._lock:
            self._rng = random.Random(self._seed)
            self._ids: dict[str, int] = {}
            self.workspaces: dict[int, Workspace] = {}
            self.threads: dict[int, Thread] = {}
            self.folders: dict[str, dict[str, StoredDocument]] = {DEFAULT_FOLDER: {}}
            self.workspace_documents: dict[int, WorkspaceDocument] = {}
            self.vectors: dict[int, list[Vector]] = {}  # workspace id -> its namespace
            self.vector_cache: dict[str, list[tuple[str, dict[int, float]]]] = {}  # location -> chunks
            self.chats: dict[int, Chat] = {}

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store lock across several calls that must see one consistent state."""
        with self._lock:
            yield

    def next_id(self, table: str) -> int:
        with self._lock:
            self._ids[table] = self._ids.get(table, 0) + 1
            return self._ids[table]

    def new_uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def random_suffix(self) -> int:
        """``Math.floor(10000000 + Math.random() * 90000000)``: the slug-collision suffix."""
        with self._lock:
            return self._rng.randint(10_000_000, 99_999_999)

    # ------------------------------------------------------------------ workspaces

    def workspace(self, slug: str) -> Workspace | None:
        with self._lock:
            return next((w for w in self.workspaces.values() if w.slug == slug), None)

    def create_workspace(self, name: str, fields: dict[str, Any]) -> Workspace | str:
        """A new workspace, or the database error text when its slug is taken even after the suffix."""
        with self._lock:
            slug = anythingllm_slugify(name) or self.new_uuid()
            if self.workspace(slug) is not None:
                slug = anythingllm_slugify(f"{name}-{self.random_suffix()}")
            if self.workspace(slug) is not None:
                return _UNIQUE_SLUG_ERROR.format(table="workspaces")
            created = iso(now())
            row: dict[str, Any] = {
                "id": self.next_id("workspaces"),
                "name": name,
                "slug": slug,
                "vectorTag": None,
                "createdAt": created,
                "openAiTemp": None,
                "openAiHistory": 20,
                "lastUpdatedAt": created,
                "openAiPrompt": DEFAULT_PROMPT,
                "similarityThreshold": 0.25,
                "chatProvider": None,
                "chatModel": None,
                "topN": 4,
                "chatMode": "automatic",
                "pfpFilename": None,
                "agentProvider": None,
                "agentModel": None,
                "queryRefusalResponse": None,
                "vectorSearchMode": "default",
                "router_id": None,
            }
            row.update(fields)
            workspace = Workspace(row["id"], slug, row)
            self.workspaces[workspace.id] = workspace
            self.vectors[workspace.id] = []
            return workspace

    def update_workspace(self, workspace: Workspace, fields: dict[str, Any]) -> Workspace:
        with self._lock:
            workspace.fields.update(fields)
            return workspace

    def delete_workspace(self, workspace: Workspace) -> None:
        with self._lock:
            self.workspaces.pop(workspace.id, None)
            self.vectors.pop(workspace.id, None)
            for row_id in [r.id for r in self.workspace_documents.values() if r.workspace_id == workspace.id]:
                del self.workspace_documents[row_id]
            for chat_id in [c.id for c in self.chats.values() if c.workspace_id == workspace.id]:
                del self.chats[chat_id]
            for thread_id in [t.id for t in self.threads.values() if t.workspace_id == workspace.id]:
                del self.threads[thread_id]

    def workspace_rows(self, workspace: Workspace) -> list[WorkspaceDocument]:
        with self._lock:
            return [r for r in self.workspace_documents.values() if r.workspace_id == workspace.id]

    def workspace_threads(self, workspace: Workspace) -> list[Thread]:
        with self._lock:
            return [t for t in self.threads.values() if t.workspace_id == workspace.id]

    # --------------------------------------------------------------------- threads

    def create_thread(
        self, workspace: Workspace, *, name: str, slug: str, user_id: int | None = None
    ) -> Thread | str:
        with self._lock:
            if any(t.slug == slug for t in self.threads.values()):
                return _UNIQUE_SLUG_ERROR.format(table="workspace_threads")
            moment = now()
            thread = Thread(self.next_id("threads"), name, slug, workspace.id, user_id, moment, moment)
            self.threads[thread.id] = thread
            return thread

    def thread(self, workspace: Workspace, slug: str) -> Thread | None:
        with self._lock:
            return next(
                (t for t in self.threads.values() if t.slug == slug and t.workspace_id == workspace.id), None
            )

    def delete_thread(self, thread: Thread) -> None:
        with self._lock:
            self.threads.pop(thread.id, None)
            for chat_id in [c.id for c in self.chats.values() if c.thread_id == thread.id]:
                del self.chats[chat_id]

    # ------------------------------------------------------------------- documents

    def add_document(self, document: StoredDocument) -> None:
        with self._lock:
            self.folders.setdefault(document.folder, {})[document.filename] = document

    def document_at(self, location: str) -> StoredDocument | None:
        folder, _, filename = location.partition("/")
        with self._lock:
            return self.folders.get(folder, {}).get(filename)

    def document_named(self, filename: str) -> StoredDocument | None:
        with self._lock:
            for folder in self.folder_names():
                if filename in self.folders[folder]:
                    return self.folders[folder][filename]
            return None

    def folder_names(self) -> list[str]:
        """Folders in listing order: ``custom-documents`` first, then by name."""
        with self._lock:
            return sorted(self.folders, key=lambda name: (name != DEFAULT_FOLDER, name))

    def documents_in(self, folder: str) -> list[StoredDocument]:
        with self._lock:
            return [self.folders[folder][name] for name in sorted(self.folders.get(folder, {}))]

    def move_document(self, document: StoredDocument, folder: str) -> StoredDocument:
        with self._lock:
            del self.folders[document.folder][document.filename]
            self.vector_cache.pop(document.location, None)
            document.folder = folder
            self.folders.setdefault(folder, {})[document.filename] = document
            return document

    def purge_document(self, location: str) -> None:
        """Delete a document everywhere: its file, its vector cache, its embeddings in every workspace."""
        with self._lock:
            for workspace in list(self.workspaces.values()):
                self.unembed(workspace, location)
            self.vector_cache.pop(location, None)
            folder, _, filename = location.partition("/")
            self.folders.get(folder, {}).pop(filename, None)

    def is_embedded_anywhere(self, location: str) -> bool:
        with self._lock:
            return any(r.docpath == location for r in self.workspace_documents.values())

    def pinned_workspace_ids(self, location: str) -> list[int]:
        with self._lock:
            return [
                r.workspace_id
                for r in self.workspace_documents.values()
                if r.docpath == location and r.pinned
            ]

    # ------------------------------------------------------------------ embeddings

    def chunks_for(self, document: StoredDocument) -> list[tuple[str, dict[int, float]]]:
        """The document's chunks and their embeddings, from the vector cache when it has them.

        Computed outside the lock (pure, and long for big documents), stored under it.
        """
        location = document.location
        with self._lock:
            cached = self.vector_cache.get(location)
        if cached is None:
            meta = document.meta
            texts = document_chunks(document.page_content, meta["title"], meta["published"])
            computed = [(text, embed(text)) for text in texts]
            with self._lock:
                cached = self.vector_cache.setdefault(location, computed)
        return cached

    def embed(self, workspace: Workspace, location: str) -> bool:
        """Embed one document into a workspace (a duplicate row if it is already there, as the server
        does). Unknown locations are skipped silently; returns whether anything was embedded."""
        document = self.document_at(location)
        if document is None:
            return False
        chunks = self.chunks_for(document)
        with self._lock:
            if workspace.id not in self.workspaces or self.document_at(location) is not document:
                return False
            metadata = document.metadata()
            row_id, row_doc_id, moment = self.next_id("workspace_documents"), self.new_uuid(), now()
            self.workspace_documents[row_id] = WorkspaceDocument(
                id=row_id,
                doc_id=row_doc_id,
                filename=document.filename,
                docpath=location,
                workspace_id=workspace.id,
                metadata=json.dumps(metadata, separators=(",", ":"), ensure_ascii=False),
                pinned=False,
                created_at=moment,
                updated_at=moment,
            )
            vector_metadata = {k: v for k, v in metadata.items() if k != "id"}
            namespace = self.vectors.setdefault(workspace.id, [])
            for text, embedding in chunks:
                namespace.append(
                    Vector(self.new_uuid(), text, vector_metadata, embedding, location, row_doc_id)
                )
            return True

    def drop_vectors(self, workspace: Workspace) -> None:
        """Forget the workspace's vectors, keeping its documents listed (a vector table created over)."""
        with self._lock:
            self.vectors[workspace.id] = []

    def unembed(self, workspace: Workspace, location: str) -> None:
        with self._lock:
            rows = [r for r in self.workspace_documents.values() if r.workspace_id == workspace.id]
            gone = {r.doc_id for r in rows if r.docpath == location}
            for row in rows:
                if row.doc_id in gone:
                    del self.workspace_documents[row.id]
            if workspace.id in self.vectors:
                self.vectors[workspace.id] = [
                    v for v in self.vectors[workspace.id] if v.row_doc_id not in gone
                ]

    def set_pinned(self, workspace: Workspace, location: str, pinned: bool) -> bool:
        with self._lock:
            rows = [
                r
                for r in self.workspace_documents.values()
                if r.workspace_id == workspace.id and r.docpath == location
            ]
            for row in rows:
                row.pinned = pinned
            return bool(rows)

    def pinned_documents(self, workspace: Workspace) -> list[StoredDocument]:
        with self._lock:
            found: list[StoredDocument] = []
            for row in self.workspace_rows(workspace):
                document = self.document_at(row.docpath)
                if row.pinned and document is not None and document not in found:
                    found.append(document)
            return found

    def namespace_count(self, workspace: Workspace) -> int:
        with self._lock:
            return len(self.vectors.get(workspace.id, []))

    def vector_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.vectors.values())

    def search(
        self, workspace: Workspace, query: str, *, top_n: int, threshold: float, exclude: frozenset[str]
    ) -> list[Hit]:
        with self._lock:
            namespace = list(self.vectors.get(workspace.id, []))
        return search(namespace, query, top_n=top_n, threshold=threshold, exclude=exclude)

    # ----------------------------------------------------------------------- chats

    def add_chat(
        self,
        workspace: Workspace,
        *,
        prompt: str,
        response: dict[str, Any],
        thread: Thread | None,
        session_id: str | None,
        include: bool = True,
    ) -> Chat:
        with self._lock:
            chat = Chat(
                self.next_id("chats"),
                workspace.id,
                prompt,
                response,
                thread.id if thread else None,
                session_id,
                include,
            )
            self.chats[chat.id] = chat
            return chat

    def _conversation(
        self, workspace: Workspace, thread: Thread | None, session_id: str | None
    ) -> list[Chat]:
        """The chats of one conversation (workspace + thread or API session), oldest first."""
        thread_id = thread.id if thread else None
        with self._lock:
            return [
                c
                for c in self.chats.values()
                if c.workspace_id == workspace.id
                and c.thread_id == thread_id
                and c.api_session_id == session_id
            ]

    def recent_chats(
        self, workspace: Workspace, *, thread: Thread | None, session_id: str | None, limit: int
    ) -> list[Chat]:
        """The last ``limit`` included chats of one conversation: the history an answer is given."""
        with self._lock:
            chats = [c for c in self._conversation(workspace, thread, session_id) if c.include]
        return chats[-limit:] if limit > 0 else []

    def reset_history(self, workspace: Workspace, *, thread: Thread | None, session_id: str | None) -> None:
        with self._lock:
            for chat in self._conversation(workspace, thread, session_id):
                chat.include = False

    def workspace_chats(self, workspace: Workspace, *, session_id: str | None) -> list[Chat]:
        """What ``GET /v1/workspace/:slug/chats`` lists: thread-less chats of that API session (reset
        ones included), or without a session the included thread-less, session-less ones."""
        with self._lock:
            return [
                c
                for c in self.chats.values()
                if c.workspace_id == workspace.id
                and c.thread_id is None
                and (
                    c.api_session_id == session_id
                    if session_id is not None
                    else c.api_session_id is None and c.include
                )
            ]

    def thread_chats(self, thread: Thread) -> list[Chat]:
        with self._lock:
            return [c for c in self.chats.values() if c.thread_id == thread.id and c.include]
