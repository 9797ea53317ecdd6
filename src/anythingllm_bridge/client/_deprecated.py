"""Old spellings of the public API that keep working for one release.

Each use warns with ``AnythingLLMDeprecationWarning`` (a ``DeprecationWarning``) naming what to
write instead. Renamed model fields are declared on the model (``ApiModel._renamed``); renamed
methods, keywords and positional options are declared with the helpers below, so every old
spelling is listed where its replacement is defined.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["AnythingLLMDeprecationWarning", "from_sync_facade", "keyword_only", "renamed_keywords", "warn"]

F = TypeVar("F", bound=Callable[..., Any])

# Frames of these modules are never the user's line: ours, pydantic's (a renamed model field is
# seen by a validator it calls), and contextlib's (the sync facade re-issues from a ``with``).
_NOT_THE_CALLER = ("anythingllm_bridge.", "pydantic.", "pydantic_core.", "contextlib")
# While the sync facade runs a call on its event loop thread, the warnings are collected here and
# issued by the facade in the caller's thread (a stack in the loop thread ends in asyncio).
_collected: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "anythingllm_bridge_deprecations", default=None
)


class AnythingLLMDeprecationWarning(DeprecationWarning):
    """An old spelling of anythingllm-bridge's API was used; the message names the new one."""


def warn(old: str, new: str) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``, attributed to the user's line: the
    first frame up the stack that is not the library's (nor pydantic's)."""
    sink = _collected.get()
    if sink is not None:
        sink.append((old, new))
        return
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and f"{frame.f_globals.get('__name__', '')}.".startswith(_NOT_THE_CALLER):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        AnythingLLMDeprecationWarning,
        stacklevel=level,
    )


@contextlib.contextmanager
def from_sync_facade() -> Iterator[None]:
    """Collect the deprecation warnings of the calls made inside (on the facade's loop thread) and
    issue them on leaving, in the facade's words: its methods are not awaited."""
    sink: list[tuple[str, str]] = []
    token = _collected.set(sink)
    try:
        yield
    finally:
        _collected.reset(token)
        for old, new in sink:
            warn(old, new.replace("await ", ""))


def _rewriting(function: F, rewrite: Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]) -> F:
    """``function`` with its arguments passed through ``rewrite`` first (a coroutine function
    stays one, so ``inspect.iscoroutinefunction`` still says so)."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            args = rewrite(args, kwargs)
            return await function(*args, **kwargs)

        return call_async  # type: ignore[return-value]

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        args = rewrite(args, kwargs)
        return function(*args, **kwargs)

    return call  # type: ignore[return-value]


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword (``old="new"``) for the new one, with a warning."""

    def decorate(function: F) -> F:
        def rewrite(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__name__}() got both {old}= and {new}=; pass only {new}=")
                    warn(f"{function.__name__}({old}=...)", f"{new}=...")
                    kwargs[new] = kwargs.pop(old)
            return args

        return _rewriting(function, rewrite)

    return decorate


def keyword_only(positional: int, *names: str) -> Callable[[F], F]:
    """Options that used to be positional: after ``positional`` arguments (``self`` included), the
    next ones are taken as ``names``, in order, with a warning. The signature declares them
    keyword-only, so type checkers already refuse the old call."""

    def decorate(function: F) -> F:
        def rewrite(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            extra = args[positional:]
            if not extra:
                return args
            if len(extra) > len(names):
                raise TypeError(
                    f"{function.__name__}() takes {positional - 1} positional argument(s); "
                    f"pass the others by keyword ({', '.join(n + '=' for n in names)})"
                )
            taken = names[: len(extra)]
            warn(
                f"passing {', '.join(taken)} to {function.__name__}() by position",
                ", ".join(f"{name}=..." for name in taken),
            )
            for name, value in zip(taken, extra, strict=True):
                if name in kwargs:
                    raise TypeError(f"{function.__name__}() got multiple values for argument {name!r}")
                kwargs[name] = value
            return args[:positional]

        return _rewriting(function, rewrite)

    return decorate
