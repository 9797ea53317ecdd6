"""Every public name has a docstring: the API reference (``make docs``) is built from them.

Public: what a public package or module lists in ``__all__``, and on each such class the methods
and properties it (or a class of ours it inherits from) defines without a leading underscore. An
override may rely on the docstring of the method it overrides.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

#: The modules the API reference documents (docs/reference/). ``anythingllm_bridge.ingest`` is not
#: among them yet: many of its methods have no docstring; it joins once each has one.
PUBLIC_MODULES = [
    "anythingllm_bridge",
    "anythingllm_bridge.client",
    "anythingllm_bridge.config",
    "anythingllm_bridge.errors",
    "anythingllm_bridge.ingest",
    "anythingllm_bridge.resilience",
    "anythingllm_bridge.storage",
    "anythingllm_bridge.testing",
    "anythingllm_bridge.tracing",
    "anythingllm_bridge.validation",
]


def ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("anythingllm_bridge")


def members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties ``cls`` has from our own classes."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not ours(klass):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property) or inspect.isfunction(member):
                yield name, member


def public_names() -> Iterator[tuple[str, Any]]:
    done: set[int] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in done or not (inspect.isclass(obj) or inspect.isfunction(obj)) or not ours(obj):
                continue
            done.add(id(obj))
            yield f"{module_name}.{name}", obj
            if inspect.isclass(obj):
                for member_name, member in members(obj):
                    yield f"{module_name}.{name}.{member_name}", member


def documented(obj: Any) -> bool:
    """A class needs its own docstring; a method or property may inherit its base's (an override of a
    documented method says the same thing)."""
    text = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    return bool((text or "").strip())


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name, obj in public_names() if not documented(obj)]
    assert missing == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_has_a_docstring(module_name: str) -> None:
    assert (importlib.import_module(module_name).__doc__ or "").strip()
