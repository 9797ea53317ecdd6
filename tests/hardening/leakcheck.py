"""pytest plugin: the whole session fails if an API key the tests use shows up where a user could see it.

Loaded for every run by ``-p leakcheck`` (pyproject ``addopts``; ``tests/hardening`` is on ``pythonpath``).

What is scanned, for the whole session:

* every log record, of any logger: a handler at DEBUG on the root logger, which is set to DEBUG for the
  session so debug and info records are made too (tests that set levels with ``caplog`` still do). The
  formatted message, the exception and stack text, and every extra attribute of the record. Only the S3
  stack (``botocore``, ``aiobotocore``, ``boto3``, ``s3transfer``, ``moto``, ``werkzeug``, ``urllib3``) is
  held at INFO: it never sees our API key (it talks to S3) and at DEBUG it doubles the storage tests' time;
* every exception of ours (``AnythingLLMBridgeError`` and subclasses), also those a test catches with
  ``pytest.raises``: ``str``, ``repr`` and the ``repr`` of each attribute (``body``, ``server_message``...),
  rendered when the exception is freed (a ``__del__`` added for the session that only renders and queues,
  as it may run inside any code, a scan included) and scanned after each test phase; so the plugin keeps
  nothing alive and sees the final message. A finding names the test that made the exception;
* every test report: the failure text (``longrepr``, which holds any exception that escaped a test) and the
  captured stdout, stderr and log sections; and every warning recorded.

Which keys: every ``api_key`` given to an ``Emulator`` or a ``Transport`` (the single request path of every
client) during the session — the plugin wraps their constructors to note the key, nothing else changes —
plus module-level ``str`` constants named ``API_KEY``, ``*_API_KEY``, ``KEY``, ``SECRET`` or ``*_SECRET``
in test modules and conftests, ``ANYTHINGLLM_API_KEY`` / ``ANYTHINGLLM_EMULATOR_API_KEY`` from the
environment, and anything passed to :func:`register_secret`. Keys shorter than :data:`MIN_LENGTH`
characters (``"K"``, ``"KEY"``) would match ordinary words and are not scanned; the summary counts them.

A finding is reported without the key itself: where (test id), what (log record, exception, report), which
key (where it came from) and the text around it with the key masked. Any finding makes the exit status 1.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["MIN_LENGTH", "Finding", "LeakScanner", "register_secret"]

MIN_LENGTH = 6
CONSTANT_NAME = re.compile(r"^(?:API_KEY|\w+_API_KEY|KEY|SECRET|\w+_SECRET)$")
ENV_KEYS = ("ANYTHINGLLM_API_KEY", "ANYTHINGLLM_EMULATOR_API_KEY")
_STANDARD_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_MAX_SHOWN = 25


@dataclass(frozen=True)
class Finding:
    """One place a key appeared: ``where`` (test id), ``kind``, ``source`` of the key, masked ``excerpt``."""

    where: str
    kind: str
    source: str
    excerpt: str


@dataclass
class LeakScanner:
    """The keys to look for and what was found. Thread-safe (log records arrive from any thread)."""

    min_length: int = MIN_LENGTH
    secrets: dict[str, str] = field(default_factory=dict)  # key -> where it came from
    short: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __repr__(self) -> str:  # never the keys themselves
        return f"LeakScanner({len(self.secrets)} keys, {len(self.findings)} findings)"

    def add_secret(self, value: object, source: str) -> None:
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if not isinstance(value, str) or not value.strip():
            return
        value = value.strip()
        with self._lock:
            if len(value) < self.min_length:
                self.short.add(value)
            else:
                self.secrets.setdefault(value, source)

    def scan(self, text: str, *, where: str, kind: str) -> bool:
        """Look for every key in ``text``; record a finding per key found. True if any."""
        with self._lock:
            self.scanned[kind] = self.scanned.get(kind, 0) + 1
            hits = [(key, source) for key, source in self.secrets.items() if key in text]
            for key, source in hits:
                self.findings.append(Finding(where, kind, source, _excerpt(text, key, self.secrets)))
        return bool(hits)

    def report_lines(self) -> list[str]:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.scanned.items())) or "nothing"
        skipped = (
            f"; {len(self.short)} key(s) shorter than {self.min_length} not scanned" if self.short else ""
        )
        if not self.findings:
            return [f"leakcheck: none of {len(self.secrets)} API keys appeared in {counts}{skipped}"]
        lines = [
            f"leakcheck: an API key appeared {len(self.findings)} time(s) (scanned {counts}{skipped}):",
        ]
        for finding in self.findings[:_MAX_SHOWN]:
            lines.append(f"  {finding.where} [{finding.kind}] key from {finding.source}: {finding.excerpt}")
        if len(self.findings) > _MAX_SHOWN:
            lines.append(f"  ... and {len(self.findings) - _MAX_SHOWN} more")
        return lines


def _excerpt(text: str, key: str, secrets: Iterable[str]) -> str:
    at = text.find(key)
    window = text[max(0, at - 60) : at + len(key) + 60]
    for secret in sorted(secrets, key=len, reverse=True):
        window = window.replace(secret, "<KEY>")
    return " ".join(window.split())


# --------------------------------------------------------------------------- session wiring

_scanner = LeakScanner()
_current = "session"


def register_secret(value: object, source: str = "register_secret()") -> None:
    """Add a value the session must never show (e.g. a key a test builds at run time)."""
    _scanner.add_secret(value, source)


class _ScanHandler(logging.Handler):
    def __init__(self, scanner: LeakScanner) -> None:
        super().__init__(logging.DEBUG)
        self.scanner = scanner
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.stack_info:
                text += "\n" + record.stack_info
            extras = [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS]
            if extras:
                text += "\n" + " ".join(extras)
        except Exception as exc:  # a record that cannot be formatted: scan what can be read
            text = f"{record.msg!r} {record.args!r} ({type(exc).__name__})"
        self.scanner.scan(text, where=_current, kind="log records")


class _Instruments:
    """Constructor wrappers that note keys, and a finalizer that scans each of our exceptions when it dies
    (so nothing is kept alive longer than the code under test keeps it); all undone at the end."""

    def __init__(self, scanner: LeakScanner) -> None:
        self.scanner = scanner
        self.born: dict[int, str] = {}  # id(error) -> the test that made it
        # texts of freed exceptions, scanned later: a finalizer can run in the middle of anything (a
        # garbage collection inside a scan, say), so it only renders and appends, without a lock
        self.pending: deque[tuple[str, str]] = deque()
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        from anythingllm_bridge.client._transport import Transport
        from anythingllm_bridge.errors import AnythingLLMBridgeError
        from anythingllm_bridge.testing.emulator import Emulator

        self._wrap_key(Emulator, 0, "the api_key of an Emulator")
        self._wrap_key(Transport, 1, "the api_key of a client (Transport)")
        born, pending, render = self.born, self.pending, self.render

        def error_init(self: AnythingLLMBridgeError, *args: Any, **kwargs: Any) -> None:
            super(AnythingLLMBridgeError, self).__init__(*args, **kwargs)
            born[id(self)] = _current

        def error_del(self: AnythingLLMBridgeError) -> None:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                pending.append((render(self), born.pop(id(self), _current)))
            except Exception:  # never disturb the code under test (e.g. at interpreter exit)
                pass

        for name, method in (("__init__", error_init), ("__del__", error_del)):
            if name in vars(AnythingLLMBridgeError):
                raise RuntimeError(f"leakcheck: AnythingLLMBridgeError defines {name}; update the plugin")
            setattr(AnythingLLMBridgeError, name, method)
            self._undo.append(lambda name=name: delattr(AnythingLLMBridgeError, name))  # type: ignore[misc]

    def _wrap_key(self, cls: Any, position: int, source: str) -> None:
        """Note ``api_key`` (keyword, or positional argument number ``position``) of every new ``cls``."""
        original = cls.__init__
        scanner = self.scanner

        def init(this: Any, *args: Any, **kwargs: Any) -> None:
            given = args[position] if len(args) > position else None
            scanner.add_secret(kwargs.get("api_key", given), source)
            original(this, *args, **kwargs)

        cls.__init__ = init
        self._undo.append(lambda: setattr(cls, "__init__", original))

    @staticmethod
    def render(error: BaseException) -> str:
        parts = [_safe(str, error), _safe(repr, error)]
        parts += [f"{name}={_safe(repr, value)}" for name, value in vars(error).items()]
        return "\n".join(parts)

    def drain(self) -> None:
        """Scan the freed exceptions noted so far."""
        while self.pending:
            text, where = self.pending.popleft()
            self.scanner.scan(text, where=where, kind="exceptions")

    def uninstall(self) -> None:
        gc.collect()  # let the last of our exceptions be scanned
        self.drain()
        while self._undo:
            self._undo.pop()()


def _safe(render: Callable[[Any], str], value: object) -> str:
    try:
        return render(value)
    except Exception as exc:
        return f"<{render.__name__} failed: {type(exc).__name__}>"


_instruments = _Instruments(_scanner)
_handler = _ScanHandler(_scanner)
_root_level: int | None = None
_QUIET = ("botocore", "aiobotocore", "boto3", "s3transfer", "moto", "werkzeug", "urllib3")
_quiet_levels: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    global _root_level
    for name in ENV_KEYS:
        _scanner.add_secret(os.environ.get(name), f"${name}")
    _instruments.install()
    root = logging.getLogger()
    root.addHandler(_handler)
    _root_level = root.level
    root.setLevel(logging.DEBUG)
    for name in _QUIET:
        _quiet_levels[name] = logging.getLogger(name).level
        if _quiet_levels[name] == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_handler)
    if _root_level is not None:
        logging.getLogger().setLevel(_root_level)
    for name, level in _quiet_levels.items():
        logging.getLogger(name).setLevel(level)
    _instruments.uninstall()


def _note_constants(module: object, where: str) -> None:
    for name, value in vars(module).items():
        if isinstance(value, str) and CONSTANT_NAME.match(name):
            _scanner.add_secret(value, f"{name} in {where}")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    seen: set[int] = set()
    for plugin in config.pluginmanager.get_plugins():  # conftest modules are plugins
        if getattr(plugin, "__file__", "").endswith("conftest.py"):
            _note_constants(plugin, os.path.relpath(plugin.__file__))
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and id(module) not in seen:
            seen.add(id(module))
            _note_constants(module, os.path.relpath(getattr(module, "__file__", "?") or "?"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    global _current
    _current = item.nodeid
    yield
    _current = "session"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _instruments.drain()
    if report.failed:
        _scanner.scan(report.longreprtext, where=report.nodeid, kind="failure reports")
    for title, content in report.sections:
        _scanner.scan(content, where=f"{report.nodeid} ({title})", kind="captured output")


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    _scanner.scan(str(warning_message.message), where=nodeid or when, kind="warnings")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    gc.collect()  # exceptions in reference cycles are noted when collected
    _instruments.drain()
    if _scanner.findings and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = _scanner.report_lines()
    if _scanner.findings:
        terminalreporter.section("API key leak check", sep="=", red=True, bold=True)
        for line in lines:
            terminalreporter.line(line, red=True)
    else:
        terminalreporter.line(lines[0])
