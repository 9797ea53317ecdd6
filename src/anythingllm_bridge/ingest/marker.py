"""The marker a sync puts on every document it uploads, so the server itself says what it holds.

AnythingLLM keeps a file upload's ``docSource`` metadata verbatim, returns it in the workspace's
listing and in ``GET /v1/documents``, and never puts it into the embedded text (the chunk header
carries only the title and the date). So ``docSource`` holds a small JSON object::

    {"anythingllm-bridge": 1, "source": "file:///srv/docs", "key": "guides/setup.md",
     "sha256": "9f86d0…", "workspace": "handbook", "upload": "3f2a9c41d0b7"}

``source`` is the sync source's identity (never the server's URL or the machine), ``key`` the
file's path within the source, ``sha256`` its content hash, ``workspace`` the slug the sync
uploaded it for, ``upload`` a random id of this one upload (so a sync that lost an upload's answer
recognises the document that upload left, and never takes another sync's for its own). A key that
is not valid UTF-8 (a file name the file system gives as bytes, which Python holds with surrogate
escapes) travels as ``key_bytes``: its bytes, percent-encoded, so any key round-trips.
:meth:`Marker.parse` returns ``None`` for anything else a ``docSource`` may hold (what the server
writes by default, ``upload_document``'s chunk marker, garbage) and never raises.

Documents synced by an older anythingllm-bridge carry another marker, a plain string
``anythingllm-bridge:<sync id>:<key hash>:<sha256>``: :class:`LegacyMarker` reads it. It names
neither the source nor the workspace, and the key only by a hash; its sync id was a random id kept
in that version's local state, which nothing reads any more. So all it tells is which key (by
:meth:`LegacyMarker.hash_key`) and which content a document is.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from anythingllm_bridge.ingest.keys import key_from_text, key_to_text

__all__ = ["MARKER_VERSION", "LegacyMarker", "Marker"]

#: The member that says "this docSource is a sync marker", and its format version.
MARKER_FIELD = "anythingllm-bridge"
MARKER_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The older marker: ``anythingllm-bridge:<sync id>:<key hash>:<sha256>``.
_LEGACY = re.compile(r"anythingllm-bridge:.+:([0-9a-f]{16}):([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Marker:
    """Which file version of which sync source a document is, for which workspace, from which
    upload."""

    source: str
    key: str
    sha256: str
    workspace: str
    upload: str = ""

    def to_doc_source(self) -> str:
        """The ``docSource`` metadata value carrying this marker (compact JSON)."""
        data: dict[str, object] = {MARKER_FIELD: MARKER_VERSION, "source": self.source}
        text, as_bytes = key_to_text(self.key)  # a file name that is not UTF-8 travels as its bytes
        data["key_bytes" if as_bytes else "key"] = text
        data["sha256"] = self.sha256
        data["workspace"] = self.workspace
        if self.upload:
            data["upload"] = self.upload
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def parse(cls, value: object) -> Marker | None:
        """The marker ``value`` (a ``docSource``) carries, or ``None`` when it carries none."""
        if not isinstance(value, str) or MARKER_FIELD not in value:
            return None
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get(MARKER_FIELD) != MARKER_VERSION:
            return None
        source, sha, workspace = data.get("source"), data.get("sha256"), data.get("workspace")
        if not (isinstance(source, str) and isinstance(sha, str) and isinstance(workspace, str)):
            return None
        if not _SHA256.fullmatch(sha):
            return None
        key = data.get("key")
        raw = data.get("key_bytes")
        if isinstance(raw, str) and key is None:
            key = key_from_text(raw, True)
        if not isinstance(key, str) or not key:
            return None
        upload = data.get("upload", "")
        if not isinstance(upload, str):
            return None
        return cls(source=source, key=key, sha256=sha, workspace=workspace, upload=upload)


@dataclass(frozen=True, slots=True)
class LegacyMarker:
    """The marker an older anythingllm-bridge's sync left in ``docSource``: which key (by its
    hash) and which content a document is, without saying for which source or workspace."""

    key_hash: str
    sha256: str

    @staticmethod
    def hash_key(key: str) -> str:
        """The hash that stands for ``key`` in a legacy marker (the first 16 hex digits of the
        SHA-256 of its UTF-8 bytes)."""
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    @classmethod
    def parse(cls, value: object) -> LegacyMarker | None:
        """The legacy marker ``value`` (a ``docSource``) carries, or ``None`` when it carries none
        (a :class:`Marker` included); never raises."""
        if not isinstance(value, str):
            return None
        found = _LEGACY.fullmatch(value)
        return cls(key_hash=found[1], sha256=found[2]) if found else None
