"""Typed models of what the AnythingLLM developer API sends back (and a few things we send).

Every model allows unknown fields (``extra="allow"``): servers add columns between releases and
we must not break on them. Each field is the snake_case of its wire name (``textResponse`` ->
``text_response``, ``openAiTemp`` -> ``open_ai_temp``); the wire names are aliases, and both are
accepted when building a model. A model also reads like the JSON it came from:
``workspace["slug"]``, ``answer["textResponse"]``, ``answer.get("chatId")``. The server's
inconsistencies are absorbed here:

* ``workspace`` arrives as an object or as a one-element list (``GET /v1/workspace/<slug>``);
* ``workspace.documents[].metadata`` is a JSON *string* — parsed into a dict;
* chat ``sources`` carry the chunk under ``text`` (the OpenAPI file says ``chunk``; both accepted);
* ``_distance`` (LanceDB) is exposed as ``distance`` (a leading underscore would make it private);
* dates are ISO strings (parsed to ``datetime``) but a value that is not a date is kept as text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypedDict

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from anythingllm_bridge.client import _deprecated
from anythingllm_bridge.errors import AnythingLLMEmbeddingError

__all__ = [
    "Attachment",
    "BreakerInfo",
    "ChatMessage",
    "ChatMode",
    "ChatResponse",
    "ChatStreamEvent",
    "ChunkMetadata",
    "Document",
    "DocumentChunk",
    "DocumentUploadReport",
    "EmbeddingCheck",
    "EmbeddingUpdate",
    "FileUploadResult",
    "FolderListing",
    "HealthStatus",
    "OpenAIChatChunk",
    "OpenAIChatCompletion",
    "OpenAIEmbeddings",
    "OpenAIModel",
    "ProcessedDocument",
    "SearchResult",
    "Source",
    "Thread",
    "ThreadResponse",
    "ThreadSummary",
    "UploadResult",
    "Workspace",
    "WorkspaceDocument",
    "WorkspaceResponse",
    "WorkspaceSettings",
]

ChatMode = Literal["chat", "query", "automatic"]


class ApiModel(BaseModel):
    """Base of every model: unknown fields kept, Python names and wire aliases both accepted.

    ``model[key]``, ``model.get(key, default)`` and ``key in model`` read a field by its wire name
    or its Python name (or an unknown field the server sent), as if the model were the JSON it
    came from.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Old attribute name -> current field name: still read, written and accepted when building
    # the model for one release, each time with an AnythingLLMDeprecationWarning.
    _renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_renamed(cls, data: Any) -> Any:
        if not cls._renamed or not isinstance(data, dict) or data.keys().isdisjoint(cls._renamed):
            return data
        data = dict(data)
        for old, new in cls._renamed.items():
            if old in data:
                _deprecated.warn(f"{cls.__name__}({old}=...)", f"{cls.__name__}({new}=...)")
                value = data.pop(old)
                data.setdefault(new, value)
        return data

    if not TYPE_CHECKING:  # for type checkers the old names do not exist, so their uses are flagged

        def __getattr__(self, name: str) -> Any:
            new = type(self)._renamed.get(name)
            if new is None:
                return super().__getattr__(name)
            _deprecated.warn(f"{type(self).__name__}.{name}", f".{new}")
            return getattr(self, new)

        def __setattr__(self, name: str, value: Any) -> None:
            new = type(self)._renamed.get(name)
            if new is not None:
                _deprecated.warn(f"{type(self).__name__}.{name}", f".{new}")
                name = new
            super().__setattr__(name, value)

    def __getitem__(self, key: str) -> Any:
        """A field by its wire name (``"textResponse"``) or Python name; ``KeyError`` if absent."""
        cls = type(self)
        name = _wire_names(cls).get(key, key)
        if name in cls.model_fields or name in cls.model_computed_fields:
            return getattr(self, name)
        extra = self.__pydantic_extra__ or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        """``model[key]``, or ``default`` when the model has no such field."""
        try:
            return self[key]
        except KeyError:
            return default

    def to_wire(self) -> dict[str, Any]:
        """The model as the server spells it (aliases, no ``None`` values)."""
        return self.model_dump(by_alias=True, exclude_none=True)


def _wire_names(model: type[BaseModel]) -> dict[str, str]:
    """Wire name -> field name, for every field whose wire name differs from its own."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        choices = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
        for alias in (info.alias, info.validation_alias, *choices):
            if isinstance(alias, str) and alias != name:
                names.setdefault(alias, name)
    return names


def _json_object(value: Any) -> Any:
    """``metadata`` as the server stores it: a JSON string. Parse it; keep odd values readable."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"raw": value}
        return parsed if isinstance(parsed, dict) else {"raw": parsed}
    return value


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


# A date the server may format oddly: parsed when it is one, kept as text otherwise.
Timestamp = Annotated[datetime | str | None, Field(union_mode="left_to_right")]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_json_object)]


# --------------------------------------------------------------------------- workspaces


class ThreadSummary(ApiModel):
    """A thread as listed inside a workspace (``GET /v1/workspaces`` includes ``name``)."""

    slug: str
    name: str | None = None
    user_id: int | None = None


class Thread(ApiModel):
    """A thread: a separate conversation inside a workspace. ``slug`` names it in every call."""

    id: int | None = None
    name: str | None = None
    slug: str
    workspace_id: int | None = None
    user_id: int | None = None
    created_at: Timestamp = Field(None, alias="createdAt")
    last_updated_at: Timestamp = Field(None, alias="lastUpdatedAt")


class ThreadResponse(ApiModel):
    """The server's answer to creating or renaming a thread: ``thread`` and ``message``.

    For one release, reading a thread field here (``created.slug``) still works, with a
    deprecation warning: read ``created.thread.slug``.
    """

    thread: Thread
    message: str | None = None

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name in Thread.model_fields:
                _deprecated.warn(f"{type(self).__name__}.{name}", f".thread.{name}")
                return getattr(self.thread, name)
            return super().__getattr__(name)


class WorkspaceDocument(ApiModel):
    """A document embedded in a workspace. ``docpath`` is the upload's ``location``."""

    id: int | None = None
    doc_id: str | None = Field(None, alias="docId")
    filename: str | None = None
    docpath: str
    workspace_id: int | None = Field(None, alias="workspaceId")
    metadata: JsonObject = Field(default_factory=dict)
    pinned: bool = False
    watched: bool = False
    created_at: Timestamp = Field(None, alias="createdAt")
    last_updated_at: Timestamp = Field(None, alias="lastUpdatedAt")

    @property
    def chunk_metadata(self) -> ChunkMetadata | None:
        """The ``upload_document`` chunk this document is, or ``None`` (see ``ChunkMetadata``)."""
        return ChunkMetadata.from_doc_source(self.metadata.get("docSource"))


class Workspace(ApiModel):
    """A workspace. The ``slug`` is fixed at creation; renaming keeps it."""

    id: int | None = None
    name: str | None = None
    slug: str
    vector_tag: str | None = Field(None, alias="vectorTag")
    created_at: Timestamp = Field(None, alias="createdAt")
    last_updated_at: Timestamp = Field(None, alias="lastUpdatedAt")
    open_ai_temp: float | None = Field(None, alias="openAiTemp")
    open_ai_history: int | None = Field(None, alias="openAiHistory")
    open_ai_prompt: str | None = Field(None, alias="openAiPrompt")
    similarity_threshold: float | None = Field(None, alias="similarityThreshold")
    chat_provider: str | None = Field(None, alias="chatProvider")
    chat_model: str | None = Field(None, alias="chatModel")
    top_n: int | None = Field(None, alias="topN")
    chat_mode: str | None = Field(None, alias="chatMode")
    pfp_filename: str | None = Field(None, alias="pfpFilename")
    agent_provider: str | None = Field(None, alias="agentProvider")
    agent_model: str | None = Field(None, alias="agentModel")
    query_refusal_response: str | None = Field(None, alias="queryRefusalResponse")
    vector_search_mode: str | None = Field(None, alias="vectorSearchMode")
    router_id: int | None = None
    documents: Annotated[list[WorkspaceDocument], BeforeValidator(_list_or_empty)] = Field(
        default_factory=list
    )
    threads: Annotated[list[ThreadSummary], BeforeValidator(_list_or_empty)] = Field(default_factory=list)

    _renamed: ClassVar[dict[str, str]] = {
        "temperature": "open_ai_temp",
        "history": "open_ai_history",
        "prompt": "open_ai_prompt",
    }

    @property
    def docpaths(self) -> set[str]:
        """Locations of every document embedded in this workspace."""
        return {doc.docpath for doc in self.documents}


class WorkspaceSettings(TypedDict, total=False):
    """The writable settings of a workspace: the keyword arguments of ``create_workspace`` and
    ``update_workspace``, named like the ``Workspace`` fields they set. ``None`` (or leaving a
    setting out) sends nothing; the server coerces what it receives (e.g. an unknown
    ``chat_mode`` becomes ``automatic``, ``similarity_threshold`` is clamped to 0..1).

    ``temperature``, ``history`` and ``prompt`` are the deprecated spellings of ``open_ai_temp``,
    ``open_ai_history`` and ``open_ai_prompt`` (accepted with a warning for one release).
    """

    open_ai_temp: float | None
    open_ai_history: int | None
    open_ai_prompt: str | None
    similarity_threshold: float | None
    top_n: int | None
    chat_mode: ChatMode | None
    chat_provider: str | None
    chat_model: str | None
    agent_provider: str | None
    agent_model: str | None
    query_refusal_response: str | None
    vector_search_mode: Literal["default", "rerank"] | None
    router_id: int | None
    temperature: float | None
    history: int | None
    prompt: str | None


def workspace_settings_body(caller: str, settings: Mapping[str, object]) -> dict[str, Any]:
    """``WorkspaceSettings`` keywords as the server names them (``None`` values left out).

    An unknown keyword raises ``TypeError`` as a misspelt keyword argument would; a deprecated one
    warns and counts as its new name.
    """
    body: dict[str, Any] = {}
    for key, value in settings.items():
        name = Workspace._renamed.get(key, key)
        if name != key:
            _deprecated.warn(f"{caller}({key}=...)", f"{name}=...")
        if name not in WorkspaceSettings.__annotations__:
            raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}")
        if value is not None:
            body[Workspace.model_fields[name].alias or name] = value
    return body


class WorkspaceResponse(ApiModel):
    """The server's answer to creating or updating a workspace: ``workspace`` and ``message``.

    For one release, reading a workspace field here (``created.slug``) still works, with a
    deprecation warning: read ``created.workspace.slug``.
    """

    workspace: Workspace
    message: str | None = None

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name in Workspace.model_fields or name in Workspace._renamed or name == "docpaths":
                _deprecated.warn(f"{type(self).__name__}.{name}", f".workspace.{name}")
                return getattr(self.workspace, name)
            return super().__getattr__(name)


# --------------------------------------------------------------------------- documents


class Document(ApiModel):
    """A parsed document, from an upload or a listing.

    ``location`` (``<folder>/<file>.json``) is what ``update_embeddings``, ``remove_documents`` and
    ``move_files`` take. Listings do not send it; the client fills it in from folder and name.
    """

    id: str | None = None
    location: str | None = None
    name: str | None = None
    folder: str | None = None
    type: str | None = None
    url: str | None = None
    title: str | None = None
    doc_author: str | None = Field(None, alias="docAuthor")
    description: str | None = None
    doc_source: str | None = Field(None, alias="docSource")
    chunk_source: str | None = Field(None, alias="chunkSource")
    published: str | None = None
    word_count: int | None = Field(None, alias="wordCount")
    token_count_estimate: int | None = None
    page_content: str | None = Field(None, alias="pageContent")
    is_direct_upload: bool | None = Field(None, alias="isDirectUpload")
    cached: bool | None = None
    can_watch: bool | None = Field(None, alias="canWatch")
    pinned_workspaces: list[int] = Field(default_factory=list, alias="pinnedWorkspaces")
    watched: bool | None = None

    @property
    def chunk_metadata(self) -> ChunkMetadata | None:
        """The ``upload_document`` chunk this document is, or ``None`` (see ``ChunkMetadata``)."""
        return ChunkMetadata.from_doc_source(self.doc_source)


class UploadResult(ApiModel):
    """The answer of an upload (file, raw text, link) plus the client's embedding check.

    ``missing_from`` lists the workspaces asked for in ``workspaces=`` that do not hold the
    document after the upload and one repair (the server answers 200 either way).
    """

    success: bool = True
    error: str | None = None
    documents: list[Document] = Field(default_factory=list)
    missing_from: list[str] = Field(default_factory=list)

    @property
    def document(self) -> Document:
        """The (first) document created by the upload."""
        if not self.documents:
            raise ValueError("the server returned no document for this upload")
        return self.documents[0]

    @property
    def location(self) -> str:
        """``<folder>/<file>.json`` of the first document: the handle for every later call."""
        location = self.document.location
        if not location:
            raise ValueError("the server returned no location for this upload")
        return location

    @property
    def embedded(self) -> bool:
        """True when every workspace asked for holds the document."""
        return not self.missing_from

    def raise_for_missing(self) -> UploadResult:
        """Raise ``AnythingLLMEmbeddingError`` if a workspace lacks the document; else ``self``."""
        if self.missing_from:
            raise AnythingLLMEmbeddingError(
                f"{self.location} is not in workspace(s) {', '.join(self.missing_from)} after the upload",
                workspace=self.missing_from[0],
                missing=[self.location],
            )
        return self


class FolderListing(ApiModel):
    """One folder's documents, a page of them (``total_count``, ``has_more``)."""

    folder: str
    documents: list[Document] = Field(default_factory=list)
    total_count: int | None = Field(None, alias="totalCount")
    has_more: bool = Field(False, alias="hasMore")
    error: str | None = None


class EmbeddingUpdate(ApiModel):
    """What ``update_embeddings`` did, checked against the workspace afterwards.

    * ``added`` — requested adds that are now in the workspace;
    * ``skipped`` — adds that were already embedded and therefore not sent (sending them again
      would duplicate the vectors);
    * ``missing`` — adds the server accepted but that are not in the workspace;
    * ``removed`` / ``not_removed`` — the same for ``deletes``.
    """

    workspace_slug: str
    added: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    not_removed: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every add is in the workspace and every delete is out of it."""
        return not self.missing and not self.not_removed

    def __bool__(self) -> bool:
        """``ok``: so ``if await client.delete_document(...)`` reads as "it is gone"."""
        return self.ok

    def raise_for_missing(self) -> EmbeddingUpdate:
        """Raise ``AnythingLLMEmbeddingError`` if an add did not land; else ``self``."""
        if self.missing:
            raise AnythingLLMEmbeddingError(
                f"{len(self.missing)} document(s) not in workspace {self.workspace_slug!r} after embedding",
                workspace=self.workspace_slug,
                missing=list(self.missing),
            )
        return self


class EmbeddingCheck(ApiModel):
    """What ``ensure_embedded`` found and did: which of the asked-for documents are in the
    workspace, which it had to embed, which are still missing and why.

    * ``present`` — asked-for locations the workspace holds now (``repaired`` ones included);
    * ``repaired`` — those that were missing and are in after one ``update-embeddings`` call;
    * ``missing`` — location → why it is still not in the workspace;
    * ``workspace`` — the last listing read, every document with its metadata (so a caller can
      look at what else the workspace holds without reading it again).
    """

    workspace_slug: str
    present: list[str] = Field(default_factory=list)
    repaired: list[str] = Field(default_factory=list)
    missing: dict[str, str] = Field(default_factory=dict)
    workspace: Workspace | None = None

    @property
    def ok(self) -> bool:
        """True when every asked-for document is in the workspace."""
        return not self.missing


class FileUploadResult(ApiModel):
    """One file of ``upload_documents``.

    ``status``: ``embedded`` (uploaded and confirmed in the workspace), ``repaired`` (the
    server dropped it, ``update_embeddings`` put it in, confirmed), ``not_embedded`` (uploaded,
    still missing after the repair), ``failed`` (not uploaded; ``error`` says why).
    """

    path: str
    status: Literal["embedded", "repaired", "not_embedded", "failed"]
    location: str | None = None
    document: Document | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file is in the workspace (``embedded`` or ``repaired``)."""
        return self.status in ("embedded", "repaired")


class DocumentChunk(ApiModel):
    """One chunk of a ``ProcessedDocument``, sent as one raw-text document.

    ``id`` is the caller's chunk id (a random one when not given): ``upload_document`` reports by
    it. ``chunk_index`` counts from 0; ``total_chunks`` defaults to the number of chunks of the
    document. ``metadata`` may set the raw-text keys the server keeps (``docAuthor``,
    ``description``, ``published``, ``url``); they win over the document's.
    """

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    content: str
    chunk_index: int = 0
    total_chunks: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _renamed: ClassVar[dict[str, str]] = {"chunk_id": "id"}


class ProcessedDocument(ApiModel):
    """A document already split into chunks (by the caller), for ``upload_document``.

    ``id`` is the caller's document id (a random one when not given). ``title``, ``technology``
    and ``source_url`` travel with every chunk (see ``ChunkMetadata``); ``metadata`` sets
    raw-text keys for every chunk (``docAuthor``, ``description``, ``published``).
    """

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    title: str
    technology: str | None = None
    source_url: str | None = None
    chunks: list[DocumentChunk] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _renamed: ClassVar[dict[str, str]] = {"document_id": "id", "source": "source_url"}


class ChunkMetadata(ApiModel):
    """What ``upload_document`` records about each chunk, read back from the server.

    The raw-text route keeps only a few metadata keys and rewrites ``title`` and ``url``, so these
    fields travel together as a small JSON object in ``docSource``, which the server stores
    verbatim and never puts into the embedded text. ``WorkspaceDocument``, ``Document``,
    ``SearchResult`` and chat ``Source`` objects give them back as ``.chunk_metadata``.
    """

    chunk_id: str
    chunk_index: int
    total_chunks: int
    document_id: str
    document_title: str
    technology: str | None = None
    source_url: str | None = None

    MARKER: ClassVar[str] = "anythingllm-bridge-chunk"
    # the upload_document call that sent the chunk, beside the fields (see upload_of)
    _UPLOAD: ClassVar[str] = "upload"

    def to_doc_source(self, upload: str | None = None) -> str:
        """The ``docSource`` value that carries these fields, and ``upload`` (the id of the call
        that sends it) when given."""
        fields: dict[str, Any] = {self.MARKER: 1, **self.model_dump(exclude_none=True)}
        if upload is not None:
            fields[self._UPLOAD] = upload
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def _doc_source_object(cls, value: Any) -> dict[str, Any] | None:
        """A ``docSource`` that names the marker, as the JSON object it holds; else ``None``."""
        if not isinstance(value, str) or cls.MARKER not in value:
            return None
        try:
            data = json.loads(value)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @classmethod
    def upload_of(cls, value: Any) -> str | None:
        """The ``upload`` id ``to_doc_source`` wrote into a ``docSource``, or ``None``."""
        data = cls._doc_source_object(value)
        upload = data.get(cls._UPLOAD) if data is not None else None
        return upload if isinstance(upload, str) else None

    @classmethod
    def from_doc_source(cls, value: Any) -> ChunkMetadata | None:
        """The fields ``to_doc_source`` wrote, or ``None`` for any other ``docSource`` (never raises)."""
        data = cls._doc_source_object(value)
        if data is None or data.pop(cls.MARKER, None) != 1:
            return None
        data.pop(cls._UPLOAD, None)
        try:
            return cls.model_validate(data)
        except ValueError:  # pydantic's ValidationError
            return None


class DocumentUploadReport(ApiModel):
    """The result of ``upload_document``, by the caller's ids: one entry per chunk.

    Reads like the dictionary the integration specification's client returns
    (``report["successful_uploads"]``) as well as by attribute. ``locations`` maps each uploaded
    chunk id to its document location.
    """

    document_id: str
    workspace_slug: str
    total_chunks: int
    successful_uploads: int = 0
    failed_uploads: int = 0
    uploaded_chunk_ids: list[str] = Field(default_factory=list)
    failed_chunk_ids: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    locations: dict[str, str] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every chunk is in the workspace."""
        return self.failed_uploads == 0


# --------------------------------------------------------------------------- chat and search


class Source(ApiModel):
    """A chunk a chat answer was grounded on. ``text`` is the chunk (``chunk`` in old docs)."""

    id: str | None = None
    url: str | None = None
    title: str | None = None
    doc_author: str | None = Field(None, alias="docAuthor")
    description: str | None = None
    doc_source: str | None = Field(None, alias="docSource")
    chunk_source: str | None = Field(None, alias="chunkSource")
    published: str | None = None
    word_count: int | None = Field(None, alias="wordCount")
    token_count_estimate: int | None = None
    text: str | None = Field(None, validation_alias=AliasChoices("text", "chunk"))
    score: float | None = None
    distance: float | None = Field(None, alias="_distance")

    @property
    def chunk_metadata(self) -> ChunkMetadata | None:
        """The ``upload_document`` chunk this source is, or ``None`` (see ``ChunkMetadata``)."""
        return ChunkMetadata.from_doc_source(self.doc_source)


class Attachment(ApiModel):
    """A chat attachment: ``content_string`` is a data URL (``data:<mime>;base64,...``)."""

    name: str
    mime: str
    content_string: str = Field(alias="contentString")


class ChatResponse(ApiModel):
    """A whole chat answer (``POST .../chat``). Aborts never get here: they raise."""

    id: str | None = None
    type: str = "textResponse"
    text_response: str | None = Field(None, alias="textResponse")
    sources: Annotated[list[Source], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    close: bool = True
    error: Any = None
    chat_id: int | None = Field(None, alias="chatId")
    metrics: dict[str, Any] = Field(default_factory=dict)

    _renamed: ClassVar[dict[str, str]] = {"text": "text_response"}


class ChatStreamEvent(ApiModel):
    """One server-sent event of ``stream-chat``.

    ``type`` is ``textResponseChunk`` (a token in ``text_response``), ``finalizeResponseStream`` (the
    last event: ``sources``, ``chat_id``, ``metrics``), ``textResponse`` (a whole answer in one
    event), ``agentThought`` (``thought``), ``fileDownload``, ``usageMetrics``, or a newer kind.
    ``id`` is the correlation key whichever of ``uuid`` / ``id`` the server used.
    """

    type: str = ""
    id: str | None = Field(None, validation_alias=AliasChoices("uuid", "id"))
    text_response: str | None = Field(None, alias="textResponse")
    sources: Annotated[list[Source], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    close: bool = False
    error: Any = None
    chat_id: int | None = Field(None, alias="chatId")
    metrics: dict[str, Any] | None = None
    thought: str | None = None

    _renamed: ClassVar[dict[str, str]] = {"text": "text_response"}

    @property
    def is_final(self) -> bool:
        """True for the events that complete an answer."""
        return self.type == "finalizeResponseStream" or (self.type == "textResponse" and self.close)


class ChatMessage(ApiModel):
    """One turn of a chat history (``/chats`` routes); ``sent_at`` is unix seconds."""

    role: str
    content: str | None = None
    type: str | None = None
    sent_at: int | None = Field(None, alias="sentAt")
    chat_id: int | None = Field(None, alias="chatId")
    sources: Annotated[list[Source], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    attachments: Annotated[list[Any], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    feedback_score: Any = Field(None, alias="feedbackScore")
    metrics: dict[str, Any] | None = None


class SearchResult(ApiModel):
    """A vector-search hit. ``score`` is 1 - cosine distance, or the reranker's score in rerank
    mode (then it can be far below the workspace threshold and still be the best hit)."""

    id: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    distance: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def title(self) -> str | None:
        """``metadata["title"]``: the document's title as the server stored it."""
        value = self.metadata.get("title")
        return value if isinstance(value, str) else None

    @property
    def chunk_metadata(self) -> ChunkMetadata | None:
        """The ``upload_document`` chunk this hit is, or ``None`` (see ``ChunkMetadata``)."""
        return ChunkMetadata.from_doc_source(self.metadata.get("docSource"))


# --------------------------------------------------------------------------- OpenAI-compatible


class OpenAIModel(ApiModel):
    """A workspace seen as an OpenAI model: ``id`` is the workspace slug."""

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None


class _OpenAIChatObject(ApiModel):
    """The envelope a whole OpenAI-compatible answer and each streamed chunk share."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] | None = None


class OpenAIChatCompletion(_OpenAIChatObject):
    """A whole OpenAI-compatible chat answer; ``text`` is the assistant's message."""

    @property
    def text(self) -> str:
        """The assistant's answer (``choices[0].message.content``)."""
        if not self.choices:
            return ""
        message = self.choices[0].get("message") or {}
        content = message.get("content")
        return content if isinstance(content, str) else ""


class OpenAIChatChunk(_OpenAIChatObject):
    """One streamed OpenAI-compatible event (AnythingLLM labels them ``chat.completion``)."""

    @property
    def delta(self) -> str:
        """The text this chunk adds (``choices[0].delta.content``)."""
        if not self.choices:
            return ""
        content = (self.choices[0].get("delta") or {}).get("content")
        return content if isinstance(content, str) else ""

    @property
    def finish_reason(self) -> str | None:
        """Why the answer ended (``stop``, ``abort``, ...), on the last chunk only."""
        if not self.choices:
            return None
        reason = self.choices[0].get("finish_reason")
        return reason if isinstance(reason, str) else None


class OpenAIEmbeddings(ApiModel):
    """Embeddings from the server's embedder; ``vectors`` in input order."""

    object: str | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)
    model: str | None = None

    @property
    def vectors(self) -> list[list[float]]:
        """The embeddings, in input order."""
        ordered = sorted(self.data, key=lambda item: int(item.get("index", 0)))
        return [list(item.get("embedding") or []) for item in ordered]


# --------------------------------------------------------------------------- health


class BreakerInfo(ApiModel):
    """The circuit breaker as ``health_check`` reports it."""

    state: str
    failure_count: int = 0
    last_failure: Any = None
    retry_in: float | None = None


class HealthStatus(ApiModel):
    """What ``health_check`` found: three separate truths. It never raises: ``reason`` says what is
    wrong.

    ``reachable``: the server answered in HTTP (even an ``https://`` URL's plain-HTTP answer
    counts). ``answering``: it is an AnythingLLM and says it is up (``GET /api/ping`` answered
    ``{"online": true}``). ``authenticated``: the API key was accepted (``True``) or refused
    (``False``); ``None`` when it was not checked (the server was not answering, or the check itself
    failed for another reason). ``not_anythingllm``: ``/api/ping`` got an answer AnythingLLM never
    gives (a 404, a web page, other JSON): the URL points at some other server.
    """

    reachable: bool
    answering: bool = False
    authenticated: bool | None = None
    not_anythingllm: bool = False
    reason: str | None = None
    latency_ms: float | None = None
    base_url: str
    breaker: BreakerInfo | None = None

    @property
    def ok(self) -> bool:
        """Reachable, answering as AnythingLLM, and the key accepted."""
        return self.reachable and self.answering and self.authenticated is True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        """``"healthy"`` when :attr:`ok`, else ``"unhealthy"`` (``health["status"]`` works too)."""
        return "healthy" if self.ok else "unhealthy"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def circuit_breaker(self) -> dict[str, Any] | None:
        """The breaker as a plain dict — ``state``, ``failure_count``, ``last_failure``,
        ``retry_in`` — also as ``health["circuit_breaker"]``."""
        return self.breaker.model_dump() if self.breaker is not None else None
