"""A client's server, key and options, read from a settings or configuration object.

``AnythingLLMClient(obj)`` and ``create_anythingllm_client(obj)`` accept our ``Settings`` (or any
object with its ``anythingllm_url`` / ``anythingllm_api_key`` / ``anythingllm_timeout`` fields), and
the ``AnythingLLMConfig`` of the integration specification (``endpoint``, ``api_key``,
``circuit_breaker``), which is shipped here so code written against it runs unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from anythingllm_bridge.client_config import ClientConfig
from anythingllm_bridge.errors import ConfigurationError

__all__ = ["AnythingLLMConfig", "CircuitBreakerConfig", "client_options"]


class CircuitBreakerConfig(BaseModel):
    """The ``circuit_breaker`` part of an ``AnythingLLMConfig``. ``None``: the client's default.

    ``failure_threshold``: consecutive failures that open the breaker; ``recovery_timeout``:
    seconds it stays open before one probe; ``timeout_seconds``: the total time one call may take,
    its retries included (the client's ``timeout``).
    """

    model_config = ConfigDict(extra="forbid")

    failure_threshold: int | None = Field(None, ge=1)
    recovery_timeout: float | None = Field(None, ge=0)
    timeout_seconds: float | None = Field(None, gt=0)


class AnythingLLMConfig(BaseModel):
    """The configuration object of the integration specification's client: ``AnythingLLMClient(config)``.

    ``endpoint`` is the server root (``http://localhost:3001``); ``api_key`` the developer API key
    (kept as a secret: never shown in a ``repr``).
    """

    model_config = ConfigDict(extra="forbid")

    endpoint: str
    api_key: SecretStr | None = None
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)


# ClientConfig option <- CircuitBreakerConfig field
_BREAKER_FIELDS = {
    "failure_threshold": "failure_threshold",
    "recovery_timeout": "recovery_timeout",
    "timeout": "timeout_seconds",
}


def client_options(source: Any) -> tuple[str, Any, dict[str, Any]]:
    """``(base_url, api_key, options)`` for ``AnythingLLMClient`` from a settings or config object.

    From a ``Settings``-like object: ``anythingllm_url``, ``anythingllm_api_key``,
    ``anythingllm_timeout`` (as ``timeout``) and every other client option it has under the
    option's own name (``max_retries``, ``failure_threshold``, ...). From an ``AnythingLLMConfig``:
    ``endpoint``, ``api_key`` and the ``circuit_breaker`` values that are set. Options the object
    does not set are left to the client's defaults.
    """
    options: dict[str, Any] = {}
    if hasattr(source, "anythingllm_url"):
        base_url, api_key = source.anythingllm_url, getattr(source, "anythingllm_api_key", None)
        for field in dataclasses.fields(ClientConfig):
            attribute = "anythingllm_timeout" if field.name == "timeout" else field.name
            value = getattr(source, attribute, None)
            if value is not None:
                options[field.name] = value
    elif hasattr(source, "endpoint"):
        base_url, api_key = source.endpoint, getattr(source, "api_key", None)
        breaker = getattr(source, "circuit_breaker", None)
        for option, attribute in _BREAKER_FIELDS.items():
            value = getattr(breaker, attribute, None)
            if value is not None:
                options[option] = value
    else:
        what = type(source).__name__
        if isinstance(source, dict):  # its values may hold the key: name only its keys
            what += f" with keys {', '.join(map(str, source))} (pass AnythingLLMConfig(**it) instead)"
        raise ConfigurationError(
            f"base_url must be http:// or https:// followed by a host, or a Settings or an "
            f"AnythingLLMConfig; got a {what}"
        )
    if not isinstance(base_url, str):
        raise TypeError(f"the server URL must be a string, got {type(base_url).__name__}")
    return base_url, api_key, options
