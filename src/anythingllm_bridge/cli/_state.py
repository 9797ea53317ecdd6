"""What one run of ``allm`` knows: the global options and, once loaded, the settings.

The ``allm`` callback puts an :class:`Invocation` in typer's context (``ctx.obj``); every command
reads it with :func:`invocation`. Nothing lives in a module global, so two runs in one process (the
tests' ``CliRunner``) never see each other's options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from anythingllm_bridge.cli._errors import EXIT_USAGE, CliError

if TYPE_CHECKING:
    from anythingllm_bridge.config import Settings

__all__ = ["FLAGS", "Invocation", "invocation", "load_settings", "where_it_looked"]

#: the settings the command line can give, and the option that gives each
FLAGS = {"anythingllm_url": "--url", "anythingllm_api_key": "--api-key"}


@dataclass
class Invocation:
    """The options given before the command (``allm --url ... COMMAND``) and the settings."""

    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    verbose: bool = False
    quiet: bool = False
    loaded: Settings | None = field(default=None, repr=False)

    def settings(self, *, need_key: bool = True) -> Settings:
        """The settings (read once); without an API key, a :class:`CliError` saying where it looked,
        unless ``need_key`` is False (``health``, ``config``)."""
        if self.loaded is None:
            self.loaded = load_settings(self.url, self.api_key)
        if need_key and self.loaded.anythingllm_api_key is None:
            raise CliError(
                f"no API key found ({where_it_looked()}): set ANYTHINGLLM_API_KEY or pass --api-key"
            )
        return self.loaded

    def flag_values(self) -> dict[str, Any]:
        """The settings given on the command line, by field name."""
        given = {"anythingllm_url": self.url, "anythingllm_api_key": self.api_key}
        return {name: value for name, value in given.items() if value is not None}


def invocation(ctx: typer.Context) -> Invocation:
    """This run's :class:`Invocation` (a default one when the ``allm`` callback did not run)."""
    found = ctx.find_object(Invocation)
    if found is None:
        found = ctx.obj = Invocation()
    return found


def load_settings(url: str | None, api_key: str | None) -> Settings:
    """Settings from every source (see ``anythingllm_bridge.config``), ``--url`` / ``--api-key`` first."""
    import tomllib

    from pydantic import ValidationError

    from anythingllm_bridge.client_config import normalise_url
    from anythingllm_bridge.config import Settings, user_config_file

    if url is not None:
        try:
            url = normalise_url(url, "--url")
        except ValueError as exc:
            raise CliError(str(exc), code=EXIT_USAGE, usage_of="allm") from None
    if api_key is not None and not api_key.strip():
        raise CliError("--api-key is empty", code=EXIT_USAGE, usage_of="allm")
    values = Invocation(url=url, api_key=api_key).flag_values()
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise CliError(_invalid_setting(exc, values)) from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{user_config_file()} is not valid TOML ({exc}): fix it or move it away") from None
    except OSError as exc:
        raise CliError(f"cannot read {exc.filename or 'a settings file'}: {exc.strerror or exc}") from None


def _invalid_setting(exc: Any, values: dict[str, Any]) -> str:
    """``invalid setting NAME (from SOURCE): what is wrong`` for pydantic's first complaint."""
    from anythingllm_bridge.config import (
        env_names,
        field_named,
        nearest_dotenv,
        setting_origins,
        user_config_file,
    )

    problem = exc.errors()[0]
    key = str(problem.get("loc", ("settings",))[0])
    message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
    field = field_named(key)
    if field is None:
        return f"invalid setting {key.upper()}: {message}"
    origin = setting_origins(**values)[field]
    files = {".env": str(nearest_dotenv()), "config file": str(user_config_file())}
    origin = FLAGS.get(field, origin) if origin == "argument" else files.get(origin, origin)
    name = env_names(field)[0]
    message = message.removeprefix(name + " ")
    return f"invalid setting {name} (from {origin}): {message[:1].lower()}{message[1:]}"


def where_it_looked() -> str:
    """Where settings are read from, for a message about one that was not found."""
    from anythingllm_bridge.config import nearest_dotenv, user_config_file

    dotenv = nearest_dotenv()
    dotenv_note = f"{dotenv} has none" if dotenv else f"no .env in {Path.cwd()} or its parents"
    config = user_config_file()
    config_note = f"{config} has none" if config.is_file() else f"no {config}"
    return f"looked in the environment; {dotenv_note}; {config_note}"
