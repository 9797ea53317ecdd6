"""Typed models of what the AnythingLLM developer API sends back (and a few things we send).

Every model allows unknown fields (``extra="allow"``): servers add columns between releases and
we must not break on them. Fields use Python names; the wire names are aliases, and both are
accepted when building a model. The server's inconsistencies are absorbed here:

* ``workspace`` arrives as an object or as a one-element list (``GET /v1/workspace/<slug>``);
* ``workspace.documents[].metadata`` is a JSON *string* — parsed into a dict;
* chat ``sources`` carry the chunk under ``text`` (the OpenAPI file says ``chunk``; both accepted);
* ``_distance`` (LanceDB) is exposed as ``distance``;
* dates are ISO strings (parsed to ``datetime``) but a value that is not a date is kept as text.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from anythingllm_bridge.errors import AnythingLLMEmbeddingError

__all__ = [
    "Attachment",
    "BreakerInfo",
    "ChatMessage",
    "ChatMode",
    "ChatResponse",
    "ChatStreamEvent",
    "Document",
    "DocumentChunk",
    "DocumentUploadReport",
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
    "ThreadSummary",
    "UploadResult",
    "Workspace",
    "WorkspaceDocument",
]

ChatMode = Literal["chat", "query", "automatic"]


class ApiModel(BaseModel):
    """Base of every model: unknown fields kept, Python names and wire aliases both accepted."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The model as the server spells it (aliases, no ``None`` values)."""
        return self.model_dump(by_alias=True, exclude_none=True)


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
    id: int | None = None
    name: str | None = None
    slug: str
    workspace_id: int | None = None
    user_id: int | None = None
    created_at: Timestamp = Field(None, alias="createdAt")
    last_updated_at: Timestamp = Field(None, alias="lastUpdatedAt")


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


class Workspace(ApiModel):
    """A workspace. The ``slug`` is fixed at creation; renaming keeps it."""

    id: int | None = None
    name: str | None = None
    slug: str
    vector_tag: str | None = Field(None, alias="vectorTag")
    created_at: Timestamp = Field(None, alias="createdAt")
    last_updated_at: Timestamp = Field(None, alias="lastUpdatedAt")
    temperature: float | None = Field(None, alias="openAiTemp")
    history: int | None = Field(None, alias="openAiHistory")
    prompt: str | None = Field(None, alias="openAiPrompt")
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

    @property
    def docpaths(self) -> set[str]:
        """Locations of every document embedded in this workspace."""
        return {doc.docpath for doc in self.documents}


# Writable workspace settings: Python keyword -> wire name (create / update).
WORKSPACE_SETTINGS: dict[str, str] = {
    "name": "name",
    "temperature": "openAiTemp",
    "history": "openAiHistory",
    "prompt": "openAiPrompt",
    "similarity_threshold": "similarityThreshold",
    "top_n": "topN",
    "chat_mode": "chatMode",
    "chat_provider": "chatProvider",
    "chat_model": "chatModel",
    "agent_provider": "agentProvider",
    "agent_model": "agentModel",
    "query_refusal_response": "queryRefusalResponse",
    "vector_search_mode": "vectorSearchMode",
}


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


class UploadResult(ApiModel):
    """The answer of an upload (file, raw text, link) plus the client's embedding check.

    ``missing_from`` lists the workspaces asked for in ``workspaces=`` that do not hold the
    document after the upload (the server answers 200 either way).
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
        return not self.missing and not self.not_removed

    def raise_for_missing(self) -> EmbeddingUpdate:
        """Raise ``AnythingLLMEmbeddingError`` if an add did not land; else ``self``."""
        if self.missing:
            raise AnythingLLMEmbeddingError(
                f"{len(self.missing)} document(s) not in workspace {self.workspace_slug!r} after embedding",
                workspace=self.workspace_slug,
                missing=list(self.missing),
            )
        return self


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
        return self.status in ("embedded", "repaired")


class DocumentChunk(ApiModel):
    """One chunk of a ``ProcessedDocument``: sent as raw text with its own metadata."""

    content: str
    chunk_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    chunk_index: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProcessedDocument(ApiModel):
    """A document already split into chunks (by the caller), for ``upload_document``."""

    document_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    title: str
    chunks: list[DocumentChunk] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None


class DocumentUploadReport(ApiModel):
    """The result of ``upload_document``: one entry per chunk, by ``chunk_id``."""

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


class Attachment(ApiModel):
    """A chat attachment: ``content_string`` is a data URL (``data:<mime>;base64,...``)."""

    name: str
    mime: str
    content_string: str = Field(alias="contentString")


class ChatResponse(ApiModel):
    """A whole chat answer (``POST .../chat``). Aborts never get here: they raise."""

    id: str | None = None
    type: str = "textResponse"
    text: str | None = Field(None, alias="textResponse")
    sources: Annotated[list[Source], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    close: bool = True
    error: Any = None
    chat_id: int | None = Field(None, alias="chatId")
    metrics: dict[str, Any] = Field(default_factory=dict)


class ChatStreamEvent(ApiModel):
    """One server-sent event of ``stream-chat``.

    ``type`` is ``textResponseChunk`` (a token in ``text``), ``finalizeResponseStream`` (the
    last event: ``sources``, ``chat_id``, ``metrics``), ``textResponse`` (a whole answer in one
    event), ``agentThought`` (``thought``), ``fileDownload``, ``usageMetrics``, or a newer kind.
    ``id`` is the correlation key whichever of ``uuid`` / ``id`` the server used.
    """

    type: str = ""
    id: str | None = Field(None, validation_alias=AliasChoices("uuid", "id"))
    text: str | None = Field(None, alias="textResponse")
    sources: Annotated[list[Source], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
    close: bool = False
    error: Any = None
    chat_id: int | None = Field(None, alias="chatId")
    metrics: dict[str, Any] | None = None
    thought: str | None = None

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
        value = self.metadata.get("title")
        return value if isinstance(value, str) else None


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
        if not self.choices:
            return ""
        content = (self.choices[0].get("delta") or {}).get("content")
        return content if isinstance(content, str) else ""

    @property
    def finish_reason(self) -> str | None:
        if not self.choices:
            return None
        reason = self.choices[0].get("finish_reason")
        return reason if isinstance(reason, str) else None


class OpenAIEmbeddings(ApiModel):
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
