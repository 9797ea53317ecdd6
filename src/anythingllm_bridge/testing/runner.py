"""Serving an :class:`~anythingllm_bridge.testing.emulator.Emulator`: in the current event loop
(:func:`run_emulator`), from a background thread (:class:`EmulatorThread`) or from the command line
(``python -m anythingllm_bridge.testing.emulator``). Loopback only unless told otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from anythingllm_bridge.testing.emulator import Emulator
from anythingllm_bridge.testing.faults.injector import FaultInjector
from anythingllm_bridge.testing.faults.request_log import RecordedRequest
from anythingllm_bridge.testing.latency import PROFILES, LatencyProfile
from anythingllm_bridge.testing.state import Store
from anythingllm_bridge.testing.wire import KEEP_ALIVE_TIMEOUT

__all__ = ["EmulatorThread", "RunningEmulator", "main", "run_emulator"]


@dataclass(frozen=True)
class RunningEmulator:
    """A served emulator: ``url`` is the server root (the API is under ``url + "/api"``), ``api_key``
    the key clients must send; ``faults``, ``requests``, ``store`` and ``reset()`` reach into it."""

    url: str
    api_key: str = field(repr=False)
    emulator: Emulator

    @property
    def faults(self) -> FaultInjector:
        """The fault injector: ``add(...)``, ``outage(...)``, ``lose_embeddings(...)``, ``clear()``."""
        return self.emulator.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the emulator received so far, oldest first (a copy)."""
        return self.emulator.faults.requests

    @property
    def store(self) -> Store:
        """The emulator's state (workspaces, documents, chats)."""
        return self.emulator.store

    def reset(self) -> None:
        """Back to an empty emulator: no state, no faults, an empty request log."""
        self.emulator.reset()


def _root_url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def _start(
    emulator: Emulator, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    # Node's default keepAliveTimeout: an idle pooled connection is closed after 5 s, as on the real server
    runner = web.AppRunner(
        emulator.app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=0.5,
        keepalive_timeout=KEEP_ALIVE_TIMEOUT,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


@asynccontextmanager
async def run_emulator(
    api_key: str = "TEST-KEY",
    host: str = "127.0.0.1",
    port: int = 0,
    emulator: Emulator | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Serve an emulator (a new one unless given) in the running loop; ``port=0`` picks a free port.

    With ``ssl_context`` (a server context holding a certificate) it serves HTTPS: ``url`` starts
    with ``https://``."""
    emulator = emulator or Emulator(api_key)
    runner, bound = await _start(emulator, host, port, ssl_context)
    try:
        scheme = "https" if ssl_context is not None else "http"
        yield RunningEmulator(_root_url(host, bound, scheme), emulator.api_key, emulator)
    finally:
        await runner.cleanup()


class EmulatorThread:
    """Serve an emulator from a background thread with its own event loop (for synchronous code)::

    with EmulatorThread(api_key="TEST-KEY") as running:
        requests.get(running.url + "/api/ping")
    """

    def __init__(
        self,
        api_key: str = "TEST-KEY",
        host: str = "127.0.0.1",
        port: int = 0,
        emulator: Emulator | None = None,
    ) -> None:
        self._emulator = emulator or Emulator(api_key)
        self._host, self._port = host, port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.running: RunningEmulator | None = None

    def start(self) -> RunningEmulator:
        """Serve in a background thread; returns once the server listens (``with`` does this)."""
        if self._thread is not None:
            raise RuntimeError("this EmulatorThread was already started")
        self._thread = threading.Thread(target=self._serve, name="anythingllm-emulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self.running is not None
        return self.running

    def stop(self) -> None:
        """Stop serving and wait for the thread to end. Stopping again, or before ``start``, does nothing."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: the thread is ending anyway
                self._loop.call_soon_threadsafe(self._stop.set)
        thread.join()

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            runner, port = await _start(self._emulator, self._host, self._port)
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self.running = RunningEmulator(_root_url(self._host, port), self._emulator.api_key, self._emulator)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m anythingllm_bridge.testing.emulator``: serve until SIGINT (Ctrl-C) or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m anythingllm_bridge.testing.emulator",
        description="Serve an AnythingLLM-compatible emulator (ready when GET /api/ping answers).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=3001, help="port (0 picks a free one; default 3001)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ANYTHINGLLM_EMULATOR_API_KEY"),
        help="the API key clients must send (or env ANYTHINGLLM_EMULATOR_API_KEY)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for generated ids and slug suffixes")
    parser.add_argument(
        "--latency-profile",
        metavar="NAME|FILE",
        help=f"answer as slowly as a measured server: a shipped profile ({', '.join(PROFILES)}) or a "
        "JSON file written by bench/compare/server_costs.py (default: no added latency)",
    )
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key is required (or set ANYTHINGLLM_EMULATOR_API_KEY)")
    profile = None
    if args.latency_profile:
        try:
            profile = LatencyProfile.load(args.latency_profile)
        except ValueError as exc:
            parser.error(f"--latency-profile: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        emulator = Emulator(args.api_key, seed=args.seed, latency_profile=profile)
    except ValueError as exc:  # the message names the rule, never the key
        parser.error(f"--api-key: {exc}")

    async def serve() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        runner, port = await _start(emulator, args.host, args.port)
        shown = f" (latency profile {profile.name})" if profile else ""
        print(f"AnythingLLM emulator listening on {_root_url(args.host, port)}{shown}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
