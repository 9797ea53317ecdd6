"""Old spellings of the public API that keep working for one release.

Each use warns with ``AnythingLLMDeprecationWarning`` (a ``DeprecationWarning``) naming what to
write instead. Renamed model fields are declared on the model (``ApiModel._renamed``); renamed
methods, keywords and positional options are declared with the helpers below, so every old
spelling is listed where its replacement is defined.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["AnythingLLMDeprecationWarning", "keyword_only", "renamed_keywords", "warn"]

F = TypeVar("F", bound=Callable[..., Any])


class AnythingLLMDeprecationWarning(DeprecationWarning):
    """An old spelling of anythingllm-bridge's API was used; the message names the new one."""


def warn(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``stacklevel`` points at the caller)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        AnythingLLMDeprecationWarning,
        stacklevel=stacklevel,
    )


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
                    warn(f"{function.__name__}({old}=...)", f"{new}=...", stacklevel=4)
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
                stacklevel=4,
            )
            for name, value in zip(taken, extra, strict=True):
                if name in kwargs:
                    raise TypeError(f"{function.__name__}() got multiple values for argument {name!r}")
                kwargs[name] = value
            return args[:positional]

        return _rewriting(function, rewrite)

    return decorate
