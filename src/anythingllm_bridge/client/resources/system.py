"""System: liveness, key check, vector count, settings."""

from __future__ import annotations

from typing import Any

from anythingllm_bridge.client.resources._base import Resource
from anythingllm_bridge.errors import AnythingLLMProtocolError

__all__ = ["SystemMixin"]


class SystemMixin(Resource):
    """The server as a whole: is it up (``ping``), is the key accepted (``check_auth``), its
    vector count and its settings."""

    async def ping(self) -> bool:
        """``GET /api/ping`` (no key needed): True when the server is up."""
        data = await self._object("GET", "/ping")
        return bool(data.get("online"))

    async def check_auth(self) -> bool:
        """``GET /v1/auth``: True when the key is accepted (a bad key raises
        ``AnythingLLMAuthenticationError``)."""
        data = await self._object("GET", "/v1/auth")
        return bool(data.get("authenticated"))

    async def vector_count(self) -> int:
        """Total number of vectors in the server's vector database (all workspaces)."""
        path = "/v1/system/vector-count"
        count = await self._object("GET", path, "vectorCount")
        if isinstance(count, bool) or not isinstance(count, int):
            raise AnythingLLMProtocolError(
                f"expected an integer 'vectorCount', got {count!r:.200}", method="GET", path=path
            )
        return count

    async def system_settings(self) -> dict[str, Any]:
        """The server's current settings (secrets appear as booleans)."""
        settings = await self._object("GET", "/v1/system", "settings")
        if not isinstance(settings, dict):
            raise AnythingLLMProtocolError(
                f"expected an object 'settings', got {settings!r:.200}", method="GET", path="/v1/system"
            )
        return settings
