"""An AnythingLLM-compatible emulator for tests and demos (see :mod:`anythingllm_bridge.testing.emulator`).

::

    from anythingllm_bridge.testing import Emulator, EmulatorThread, RunningEmulator, run_emulator
"""

from __future__ import annotations

from anythingllm_bridge.testing.emulator import Emulator
from anythingllm_bridge.testing.runner import EmulatorThread, RunningEmulator, run_emulator

__all__ = ["Emulator", "EmulatorThread", "RunningEmulator", "run_emulator"]
