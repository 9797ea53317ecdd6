"""The ALM-001 client specification (seed 001), used the way its methods are written.

ALM-001 shows the client's implementation rather than examples; what its users type is the
construction (``AnythingLLMClient(config)`` with an ``AnythingLLMConfig``), the session
(``async with``, ``connect()`` / ``disconnect()``), and the calls with its signatures:
``health_check()``, ``list_workspaces()``, ``get_or_create_workspace(slug, name)``,
``upload_document(slug, ProcessedDocument)`` (a result read like its dictionary),
``search_workspace(slug, query, limit=20)``, ``list_workspace_documents(slug)``,
``delete_document(slug, document_id)``, and its four exceptions. That usage, with ALM-001's own
import lines, runs here against the emulator and, marked ``integration``, a real server.
"""

from __future__ import annotations

from typing import Any

import pytest
from seed_runner import Example, run_example

from anythingllm_bridge import (
    AnythingLLMAuthenticationError,
    AnythingLLMClient,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMRateLimitError,
)
from anythingllm_bridge.client import ChunkMetadata
from support import Server, closed_port, make_client

USAGE = Example(
    "001",
    "ALM-001: the client as its methods are called",
    """\
from core.config.models import AnythingLLMConfig, CircuitBreakerConfig
from models.schemas import ProcessedDocument, DocumentChunk
from clients.anythingllm import AnythingLLMClient

config = AnythingLLMConfig(
    endpoint=endpoint,
    api_key=api_key,
    circuit_breaker=CircuitBreakerConfig(failure_threshold=5, recovery_timeout=60, timeout_seconds=30),
)
texts = [
    "asyncio runs coroutines on an event loop.",
    "A task wraps a coroutine so the event loop schedules it.",
    "asyncio.gather runs awaitables concurrently and collects their results.",
]
document = ProcessedDocument(
    id="python-asyncio-guide",
    title="Asyncio Guide",
    technology="python",
    source_url="https://docs.python.org/3/library/asyncio.html",
    chunks=[
        DocumentChunk(id=f"asyncio-{i}", content=text, chunk_index=i, total_chunks=len(texts))
        for i, text in enumerate(texts)
    ],
)

client = AnythingLLMClient(config)
async with client:
    health = await client.health_check()
    workspaces = await client.list_workspaces()
    workspace = await client.get_or_create_workspace(workspace_slug, workspace_name)
    again = await client.get_or_create_workspace(workspace_slug)
    result = await client.upload_document(workspace_slug, document)
    rate = result["successful_uploads"] / result["total_chunks"]
    results = await client.search_workspace(workspace_slug, "asyncio event loop", limit=20)
    documents = await client.list_workspace_documents(workspace_slug)
    deleted = await client.delete_document(workspace_slug, document.id)

await client.connect()
try:
    left = await client.list_workspace_documents(workspace_slug)
finally:
    await client.disconnect()
""",
)


async def test_the_alm001_client_as_its_users_call_it(server: Server) -> None:
    slug = server.name("python-docs")
    server.created_workspaces.append(slug)
    surroundings: dict[str, Any] = {
        "endpoint": server.url,
        "api_key": server.api_key,
        "workspace_slug": slug,
        "workspace_name": slug.replace("-", " ").title(),  # ALM-001's own default name for a slug
    }
    try:
        ran = await run_example(USAGE, **surroundings)
    finally:
        # the chunks stay on the server after delete_document (it empties the workspace only)
        async with make_client(server.url, server.api_key) as watcher:
            server.created_documents += [
                str(doc.location)
                for doc in await watcher.list_documents()
                if doc.chunk_metadata and doc.chunk_metadata.document_id == "python-asyncio-guide"
            ]

    assert ran["health"].ok
    assert ran["health"].breaker.state == "closed"  # the breaker's state travels with the health
    assert slug not in {w.slug for w in ran["workspaces"]}
    assert ran["workspace"].slug == slug
    assert ran["again"].id == ran["workspace"].id  # found, not created twice

    result = ran["result"]
    assert (result["document_id"], result["workspace_slug"], result["total_chunks"]) == (
        "python-asyncio-guide",
        slug,
        3,
    )
    assert (result["successful_uploads"], result["failed_uploads"]) == (3, 0)
    assert result["uploaded_chunk_ids"] == ["asyncio-0", "asyncio-1", "asyncio-2"]
    assert (result["failed_chunk_ids"], result["errors"]) == ([], [])
    assert ran["rate"] == 1.0

    found = [hit.chunk_metadata for hit in ran["results"]]
    assert found
    assert all(meta is not None and meta.document_id == "python-asyncio-guide" for meta in found)
    stored = sorted(
        (doc.chunk_metadata for doc in ran["documents"] if doc.chunk_metadata), key=lambda m: m.chunk_index
    )
    assert stored == [
        ChunkMetadata(
            chunk_id=f"asyncio-{i}",
            chunk_index=i,
            total_chunks=3,
            document_id="python-asyncio-guide",
            document_title="Asyncio Guide",
            technology="python",
            source_url="https://docs.python.org/3/library/asyncio.html",
        )
        for i in range(3)
    ]
    assert ran["deleted"]  # every chunk of the document is out of the workspace
    assert sorted(ran["deleted"].removed) == sorted(result.locations.values())
    assert ran["left"] == []


async def test_the_alm001_exceptions(server: Server) -> None:
    assert all(
        issubclass(error, AnythingLLMError)
        for error in (AnythingLLMConnectionError, AnythingLLMAuthenticationError, AnythingLLMRateLimitError)
    )
    async with AnythingLLMClient(server.url, "NOT-THE-KEY", max_retries=0) as client:
        with pytest.raises(AnythingLLMAuthenticationError):
            await client.list_workspaces()
    async with AnythingLLMClient(f"http://127.0.0.1:{closed_port()}", "K", max_retries=0) as client:
        with pytest.raises(AnythingLLMConnectionError):
            await client.list_workspaces()


async def test_a_rate_limit_is_its_own_exception(emulator: Any) -> None:
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=429, times=None)
    async with AnythingLLMClient(emulator.url, emulator.api_key, max_retries=0) as client:
        with pytest.raises(AnythingLLMRateLimitError):
            await client.list_workspaces()
