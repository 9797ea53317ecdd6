"""Lost embeddings: uploads that answer 200 although their document never reaches the workspace.

The real AnythingLLM server, under concurrent uploads with ``addToWorkspaces``, sometimes stores the
document and answers 200 but leaves it out of the workspace; a sync client has to notice and repair
that. :class:`EmbeddingLoss` says which uploads are lost; :class:`EmbeddingLossInjector` is asked by
the upload handlers, once per upload that names workspaces, whether this one is.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Self

from pydantic import Field, model_validator

from anythingllm_bridge.testing.faults.setting import FaultSetting

__all__ = ["LOSS_ID", "EmbeddingLoss", "EmbeddingLossInjector"]

#: the id the embedding loss is listed and removed by
LOSS_ID = "embedding-loss"


class EmbeddingLoss(FaultSetting):
    """Which uploads with ``addToWorkspaces`` lose their document: give exactly one of ``fraction`` and
    ``next_n``. A new setting replaces the previous one; ``next_n=0`` or ``fraction=0`` stops the loss."""

    fraction: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="each such upload is lost with this probability (0–1), drawn from "
        "`random.Random(seed)`: the same uploads in the same order lose the same documents on every run",
    )
    next_n: int | None = Field(
        None,
        ge=0,
        description="the next n such uploads are lost, later ones are not. Listed, it is how many are left",
    )
    seed: int = Field(0, description="seed of the draws for `fraction`")
    update_embeddings: bool = Field(
        False,
        description="also lose documents added by `POST /api/v1/workspace/<slug>/update-embeddings` (each "
        "added location is one draw; a lost one is skipped and the answer is still 200), for clients "
        "that upload first and embed afterwards. Off by default, so a repair succeeds unless asked",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.fraction is None) == (self.next_n is None):
            raise ValueError("give exactly one of fraction or next_n")
        return self


class EmbeddingLossInjector:
    """The current :class:`EmbeddingLoss` and its draws. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._setting: EmbeddingLoss | None = None
        self._next_n = 0
        self._rng = random.Random(0)
        self._lost = 0

    @property
    def lost(self) -> int:
        """How many documents were left out of their workspaces so far."""
        return self._lost

    def set(self, setting: EmbeddingLoss) -> None:
        """Replace the setting (the draws restart from its seed)."""
        with self._lock:
            self._setting = setting
            self._next_n = setting.next_n or 0
            self._rng = random.Random(setting.seed)

    def clear(self) -> bool:
        """Stop losing documents; ``True`` if a loss was on."""
        with self._lock:
            was_on = self._is_on()
            self._setting, self._next_n = None, 0
            return was_on

    def reset(self) -> None:
        """Stop losing documents and set the count back to 0."""
        with self._lock:
            self._setting, self._next_n, self._lost = None, 0, 0

    def take(self) -> bool:
        """Asked by the upload handlers once per upload with ``addToWorkspaces``: lose this one?"""
        with self._lock:
            if self._next_n > 0:
                self._next_n -= 1
                lost = True
            elif self._setting is not None and self._setting.fraction is not None:
                lost = self._rng.random() < self._setting.fraction
            else:
                lost = False
            if lost:
                self._lost += 1
            return lost

    def take_on_update(self) -> bool:
        """Asked by ``update-embeddings`` once per location it adds: lose this one? Only when the
        setting has ``update_embeddings``."""
        setting = self._setting
        return setting is not None and setting.update_embeddings and self.take()

    def active(self) -> dict[str, Any] | None:
        """The setting as listed among the live faults, or ``None`` when no document would be lost."""
        with self._lock:
            if self._setting is None or not self._is_on():
                return None
            return {
                "id": LOSS_ID,
                "kind": "embedding_loss",
                **self._setting.model_dump(mode="json"),
                "next_n": self._next_n or None,
            }

    def _is_on(self) -> bool:
        return self._next_n > 0 or bool(self._setting and self._setting.fraction)
