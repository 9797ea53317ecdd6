"""Splitting one source across machines: ``--shard I/N`` takes the keys whose hash falls in share I.

A key belongs to share ``int(sha256(key bytes)) % N``: the same on every machine and Python
version, and spread evenly whatever the key names look like. A sync with a shard lists the whole
source but handles only its share of the keys, and prunes and removes duplicates only among the
documents whose key is in its share, so N syncs started by any job runner (a Kubernetes Indexed
Job, a CI matrix) cover the source exactly once between them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Shard", "shard_of"]


def shard_of(key: str, count: int) -> int:
    """The share (0 to ``count - 1``) ``key`` belongs to."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Share ``index`` of ``count`` (``Shard(0, 1)`` is the whole source)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"a shard count must be a whole number of at least 1, got {self.count!r}")
        index = self.index
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.count:
            raise ValueError(f"a shard index must be from 0 to {self.count - 1}, got {self.index!r}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/8"`` → ``Shard(2, 8)``; anything else raises ``ValueError`` saying what is expected."""
        index, slash, count = text.strip().partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"a shard is I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
        return cls(int(index), int(count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self.count == 1 or shard_of(key, self.count) == self.index)
