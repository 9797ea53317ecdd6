"""anythingllm-bridge: a resilient async client, storage sync and CLI for AnythingLLM.

Public names are imported lazily, so ``import anythingllm_bridge`` stays fast and never loads
optional dependencies (aioboto3, typer, rich) until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from anythingllm_bridge.errors import *  # the exception tree is light and always public
from anythingllm_bridge.errors import __all__ as _error_names

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Settings": "anythingllm_bridge.config",
    "get_settings": "anythingllm_bridge.config",
    "StorageType": "anythingllm_bridge.config",
    "AnythingLLMClient": "anythingllm_bridge.client",
    "AnythingLLMConfig": "anythingllm_bridge.client",
    "AnythingLLMDeprecationWarning": "anythingllm_bridge.client",
    "CircuitBreakerConfig": "anythingllm_bridge.client",
    "create_anythingllm_client": "anythingllm_bridge.client",
    "AnythingLLM": "anythingllm_bridge.client",
    "ProcessedDocument": "anythingllm_bridge.client",
    "DocumentChunk": "anythingllm_bridge.client",
    "trace_id": "anythingllm_bridge.tracing",
    "current_trace_id": "anythingllm_bridge.tracing",
    "CircuitBreaker": "anythingllm_bridge.resilience",
    "CircuitState": "anythingllm_bridge.resilience",
    "FileValidator": "anythingllm_bridge.validation",
    "StorageClient": "anythingllm_bridge.storage",
    "LocalStorageClient": "anythingllm_bridge.storage",
    "S3StorageClient": "anythingllm_bridge.storage",
    "StorageFactory": "anythingllm_bridge.storage",
}

__all__ = [*sorted(_LAZY), *_error_names, "__version__"]

if TYPE_CHECKING:
    from anythingllm_bridge.client import AnythingLLM as AnythingLLM
    from anythingllm_bridge.client import AnythingLLMClient as AnythingLLMClient
    from anythingllm_bridge.client import AnythingLLMConfig as AnythingLLMConfig
    from anythingllm_bridge.client import AnythingLLMDeprecationWarning as AnythingLLMDeprecationWarning
    from anythingllm_bridge.client import CircuitBreakerConfig as CircuitBreakerConfig
    from anythingllm_bridge.client import DocumentChunk as DocumentChunk
    from anythingllm_bridge.client import ProcessedDocument as ProcessedDocument
    from anythingllm_bridge.client import create_anythingllm_client as create_anythingllm_client
    from anythingllm_bridge.config import Settings as Settings
    from anythingllm_bridge.config import StorageType as StorageType
    from anythingllm_bridge.config import get_settings as get_settings
    from anythingllm_bridge.resilience import CircuitBreaker as CircuitBreaker
    from anythingllm_bridge.resilience import CircuitState as CircuitState
    from anythingllm_bridge.storage import LocalStorageClient as LocalStorageClient
    from anythingllm_bridge.storage import S3StorageClient as S3StorageClient
    from anythingllm_bridge.storage import StorageClient as StorageClient
    from anythingllm_bridge.storage import StorageFactory as StorageFactory
    from anythingllm_bridge.tracing import current_trace_id as current_trace_id
    from anythingllm_bridge.tracing import trace_id as trace_id
    from anythingllm_bridge.validation import FileValidator as FileValidator


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'anythingllm_bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
