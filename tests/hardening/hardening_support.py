"""Shared by the hardening tests (import as ``from hardening_support import ...``)."""

from __future__ import annotations

import asyncio

#: lines printed at the end of the test run (soak figures and the like)
SUMMARY: list[str] = []


class FastSleep:
    """A client ``sleep`` that records each wait and only yields to the event loop."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)
