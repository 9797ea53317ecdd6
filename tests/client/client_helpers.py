"""Helpers shared by the client tests (imported by conftest and by test modules)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from anythingllm_bridge.client import AnythingLLMClient
from support import no_sleep

REAL_URL = os.environ.get("ANYTHINGLLM_URL", "")
REAL_KEY = os.environ.get("ANYTHINGLLM_API_KEY", "")
NEEDS_REAL = "needs a real AnythingLLM: set ANYTHINGLLM_URL and ANYTHINGLLM_API_KEY (make test-real)"


def make_client(url: str, key: str | None, **options: Any) -> AnythingLLMClient:
    options.setdefault("sleep", no_sleep)
    return AnythingLLMClient(url, key, **options)


@dataclass
class Server:
    """Where the tests talk to: the emulator (``emulator`` set) or a real server."""

    url: str
    api_key: str
    emulator: Any = None
    created_workspaces: list[str] = field(default_factory=list)
    created_documents: list[str] = field(default_factory=list)
    created_folders: list[str] = field(default_factory=list)

    @property
    def is_real(self) -> bool:
        return self.emulator is None

    def name(self, label: str = "ws") -> str:
        return f"allm-test-{label}-{uuid.uuid4().hex[:8]}"
