"""An AnythingLLM-compatible emulator for tests and demos (see :mod:`anythingllm_bridge.testing.emulator`).

::

    from anythingllm_bridge.testing import Emulator, EmulatorThread, RunningEmulator, run_emulator
    from anythingllm_bridge.testing import LatencyProfile   # optional: answer as slowly as a real server

Names are imported lazily, so ``python -m anythingllm_bridge.testing.emulator`` runs the module once.
Fault injection is :mod:`anythingllm_bridge.testing.faults`; pytest fixtures for users' own tests are
:mod:`anythingllm_bridge.testing.pytest_plugin` (loaded by pytest through the ``pytest11`` entry point).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Emulator", "EmulatorThread", "LatencyProfile", "RunningEmulator", "run_emulator"]

_LAZY = {
    "Emulator": "anythingllm_bridge.testing.emulator",
    "EmulatorThread": "anythingllm_bridge.testing.runner",
    "LatencyProfile": "anythingllm_bridge.testing.latency",
    "RunningEmulator": "anythingllm_bridge.testing.runner",
    "run_emulator": "anythingllm_bridge.testing.runner",
}

if TYPE_CHECKING:
    from anythingllm_bridge.testing.emulator import Emulator
    from anythingllm_bridge.testing.latency import LatencyProfile
    from anythingllm_bridge.testing.runner import EmulatorThread, RunningEmulator, run_emulator


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'anythingllm_bridge.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
