"""What one client is configured with: :class:`ClientConfig`, every timeout, retry, breaker and
limit knob with its default (declared here and nowhere else), and :func:`normalise_url`, the one
check of the server's address.

``Settings`` (environment variables) and ``AnythingLLMClient``'s keyword arguments take their
defaults from :data:`DEFAULTS`. This module imports nothing heavy, so ``Settings`` can use it
without loading the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from anythingllm_bridge.errors import ConfigurationError

__all__ = ["DEFAULTS", "ClientConfig", "normalise_url"]


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Every resilience knob of one client, checked on creation (``ConfigurationError`` names the
    knob). Times are seconds.

    - ``timeout``: the whole call — every attempt and every backoff or ``Retry-After`` wait between
      them. A wait that would end past it is not taken: the call fails at once, its error saying so
      and naming the last failure. Time spent queued for a free connection slot counts; time spent
      waiting out an open breaker (``client.with_options(breaker_wait=...)``) does not. A stream's ``timeout``
      covers getting it started; once it streams, only ``read_timeout`` applies.
    - ``connect_timeout``: opening a TCP (and TLS) connection, per attempt.
    - ``read_timeout``, per attempt: a plain request must have its complete answer (status, headers
      and body) within ``read_timeout`` of the attempt's start — one deadline, not re-armed by each
      chunk that arrives; opening a new connection counts toward it. A request whose body may take
      long to send (a file upload, or JSON over 64 KiB) may instead go ``read_timeout`` without
      receiving anything once its body is sent. A stream may go ``read_timeout`` between chunks.
    - ``max_retries``, ``base_delay``, ``max_delay``: retries after the first attempt, with
      exponential backoff and full jitter; ``max_delay`` also caps a ``Retry-After`` wait.
    - ``failure_threshold``, ``recovery_timeout``: the circuit breaker.
    - ``max_concurrency``, ``max_connections_per_host``: calls in flight, connections (by default
      as many as calls: a client talks to one server, so fewer connections would only make calls
      queue for one).
    - ``verify_ssl``, ``ca_bundle``: TLS certificate checks.
    """

    timeout: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 60.0
    failure_threshold: int = 5
    recovery_timeout: float = 60.0
    max_concurrency: int = 10
    max_connections_per_host: int = 10
    verify_ssl: bool = True
    ca_bundle: str | Path | None = None

    def __post_init__(self) -> None:
        for name in ("timeout", "connect_timeout", "read_timeout"):
            _check_seconds(name, getattr(self, name), positive=True)
        for name in ("base_delay", "max_delay", "recovery_timeout"):
            _check_seconds(name, getattr(self, name), positive=False)
        for name, low in (
            ("max_retries", 0),
            ("failure_threshold", 1),
            ("max_concurrency", 1),
            ("max_connections_per_host", 1),
        ):
            value = getattr(self, name)
            if type(value) is not int or value < low:
                raise ConfigurationError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.verify_ssl, bool):
            raise ConfigurationError(f"verify_ssl must be True or False, got {self.verify_ssl!r}")

    @property
    def calls_at_once(self) -> int:
        """How many calls the client has in flight at most: ``min(max_concurrency,
        max_connections_per_host)`` (it talks to one host, so a call never queues for a connection)."""
        return min(self.max_concurrency, self.max_connections_per_host)


def _check_seconds(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigurationError(f"{name} must be {'> 0' if positive else '>= 0'} seconds, got {value!r}")


#: The defaults, for ``Settings`` and ``AnythingLLMClient`` to refer to.
DEFAULTS = ClientConfig()


def normalise_url(url: object, what: str = "the server URL") -> str:
    """The server's root URL: ``http://h:3001/``, ``.../api`` and ``.../api/v1`` all become
    ``http://h:3001``. Raises ``ConfigurationError`` (also a ``ValueError``) naming ``what`` (the
    setting or argument the URL came from) and the value when it is not an http(s) URL with a host."""
    text = url.strip().rstrip("/") if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{what} must be http:// or https:// followed by a host (e.g. http://host:3001), "
            f"got {_shown(url)}"
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"{what} must not carry a user name or password (user:password@host); "
            "give the API key on its own (api_key / ANYTHINGLLM_API_KEY)"
        )
    if parts.query or parts.fragment:
        where = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        raise ConfigurationError(
            f"{what} must not have a query or a fragment (got {where!r} followed by one)"
        )
    for suffix in ("/api/v1", "/api"):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def _shown(url: object) -> str:
    """``url`` as an error message may show it: a value with nothing of a URL (no ``:``, ``/`` or
    ``.``) is not shown, since it is most likely the API key given in the URL's place."""
    if not isinstance(url, str) or not url.strip() or any(mark in url for mark in ":/."):
        if isinstance(url, str) and "@" in url:
            return repr(url.rpartition("@")[2])  # no user name or password
        return repr(url)
    return (
        f"a {len(url)}-character value that is not a URL (not shown: it may be the API key; "
        "are base_url and api_key swapped?)"
    )
