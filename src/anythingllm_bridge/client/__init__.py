"""The AnythingLLM client: ``AnythingLLMClient`` (async), ``AnythingLLM`` (blocking), models."""

from __future__ import annotations

from anythingllm_bridge.client._client import AnythingLLMClient, create_anythingllm_client
from anythingllm_bridge.client._sync import AnythingLLM, SyncStream
from anythingllm_bridge.client.models import (
    Attachment,
    BreakerInfo,
    ChatMessage,
    ChatResponse,
    ChatStreamEvent,
    Document,
    DocumentChunk,
    DocumentUploadReport,
    EmbeddingUpdate,
    FileUploadResult,
    FolderListing,
    HealthStatus,
    OpenAIChatChunk,
    OpenAIChatCompletion,
    OpenAIEmbeddings,
    OpenAIModel,
    ProcessedDocument,
    SearchResult,
    Source,
    Thread,
    ThreadSummary,
    UploadResult,
    Workspace,
    WorkspaceDocument,
)
from anythingllm_bridge.client.resources._streams import ChatStream, OpenAIChatStream
from anythingllm_bridge.client.resources.documents import check_upload_file

__all__ = [
    "AnythingLLM",
    "AnythingLLMClient",
    "Attachment",
    "BreakerInfo",
    "ChatMessage",
    "ChatResponse",
    "ChatStream",
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
    "OpenAIChatStream",
    "OpenAIEmbeddings",
    "OpenAIModel",
    "ProcessedDocument",
    "SearchResult",
    "Source",
    "SyncStream",
    "Thread",
    "ThreadSummary",
    "UploadResult",
    "Workspace",
    "WorkspaceDocument",
    "check_upload_file",
    "create_anythingllm_client",
]
