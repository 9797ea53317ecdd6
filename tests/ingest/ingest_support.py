"""Shared by the ingestion tests (import as ``from ingest_support import ...``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anythingllm_bridge.client import AnythingLLMClient
from anythingllm_bridge.ingest import FileManifestStore, FolderSource, SyncReport, sync
from anythingllm_bridge.validation import FileValidator

TYPES = ["pdf", "json", "csv", "txt", "md"]

PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] "
    b"/Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\n"
    b"endobj\n4 0 obj\n<< /Length 60 >>\nstream\n"
    b"BT /F1 12 Tf 50 750 Td (Quasar kittens drink moonlight.) Tj ET\n"
    b"endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de") + b"\x00" * 32


@dataclass
class Syncer:
    client: AnythingLLMClient
    workspace: str
    root: Path
    manifest: Path

    async def __call__(self, **options: Any) -> SyncReport:
        return await sync(
            self.client,
            FolderSource(self.root),
            FileManifestStore(self.manifest),
            workspace=self.workspace,
            validator=FileValidator(allowed_file_types=TYPES),
            **options,
        )
