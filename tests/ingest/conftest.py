"""Ingestion tests: a real client over HTTP to the emulator on 127.0.0.1, files in tmp folders,
and (for bucket sources) moto's S3 server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ingest_support import PDF, PNG, Syncer

from anythingllm_bridge.client import AnythingLLMClient
from support import no_sleep


@pytest.fixture
async def client(emulator: Any) -> AsyncIterator[AnythingLLMClient]:
    """Retries without waiting, so fault tests stay fast."""
    async with AnythingLLMClient(
        emulator.url, emulator.api_key, sleep=no_sleep, max_connections_per_host=20
    ) as c:
        yield c


@pytest.fixture
async def workspace(client: AnythingLLMClient) -> str:
    return (await client.create_workspace("Sync target")).workspace.slug


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """Three good files and one PNG dressed as a PDF."""
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "cities.csv").write_text("city,country\nOslo,Norway\nLima,Peru\n")
    (root / "sub" / "product.json").write_text('{"name": "Glorp 3000", "colour": "teal"}')
    (root / "kittens.pdf").write_bytes(PDF)
    (root / "chart.pdf").write_bytes(PNG)
    return root


@pytest.fixture
def run_sync(client: AnythingLLMClient, workspace: str, docs: Path, tmp_path: Path) -> Syncer:
    return Syncer(client, workspace, docs, tmp_path / "state" / "manifest.json")
