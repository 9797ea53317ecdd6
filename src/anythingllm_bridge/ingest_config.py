"""The sync's knobs that settings, the library and the command line share: their defaults and
bounds, declared here only. This module imports nothing, so ``allm --help`` can show them without
loading the settings machinery.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_MAX_PASSES", "DEFAULT_MAX_WAIT", "MAX_CONCURRENCY"]

#: The most files a sync works on at once (each may hold an open file and a connection).
MAX_CONCURRENCY = 64
#: Files a sync works on at once unless told otherwise (``INGEST_CONCURRENCY``, ``--concurrency``).
DEFAULT_CONCURRENCY = 4
#: Passes over files that failed transiently (``INGEST_MAX_PASSES``, ``--max-passes``).
DEFAULT_MAX_PASSES = 10
#: Seconds a sync may wait, in all, for an open circuit breaker (``INGEST_MAX_WAIT``, ``--max-wait``).
DEFAULT_MAX_WAIT = 300.0
