"""``requirements/lock.txt``: what ``make test`` installs and ``make audit`` checks. A dependency added to
pyproject without ``make lock``, or a pin outside its range, would install or audit something else."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, line in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{LOCK.name} line {number} is not pinned with ==: {line!r}"
        assert version, f"{LOCK.name} line {number} names no version: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts.extend(extra)
    return [r for r in map(Requirement, texts) if canonicalize_name(r.name) != "anythingllm-bridge"]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_declared_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is in pyproject.toml but not in {LOCK.name}: run make lock"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"{LOCK.name} pins {name}=={pins[name]}, outside pyproject's {requirement}: run make lock"
    )


def test_the_lock_does_not_pin_our_own_package() -> None:
    assert "anythingllm-bridge" not in locked()
