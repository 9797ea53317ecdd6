"""The planner (pure): what each key needs, decided from our copies in the workspace and the files'
hashes; and the prune guard."""

from __future__ import annotations

import pytest

from anythingllm_bridge.ingest import Action, Copy, SourceFile, make_plan, prune_refusal
from anythingllm_bridge.ingest.plan import REMARKED

A, B, C = "a" * 64, "b" * 64, "c" * 64


def file(key: str, size: int = 10) -> SourceFile:
    return SourceFile(key=key, size=size, mtime_ns=1)


def test_each_key_gets_the_action_its_copies_call_for() -> None:
    files = [file("new.md"), file("same.md"), file("changed.md"), file("stale.md")]
    hashes = {"same.md": A, "changed.md": B, "stale.md": A}
    ours = {
        "same.md": [Copy("d/same-1.json", A, 1.0)],
        "changed.md": [Copy("d/changed-1.json", A, 1.0)],
        # a slower sync left an older version that entered the workspace after ours
        "stale.md": [Copy("d/stale-1.json", A, 1.0), Copy("d/stale-2.json", C, 2.0)],
        "gone.md": [Copy("d/gone-1.json", A, 1.0)],
    }
    plan = make_plan(files, hashes, ours)
    actions = {item.key: (item.action, item.reason) for item in plan.items}
    assert actions == {
        "new.md": (Action.UPLOAD, "new"),
        "same.md": (Action.UNCHANGED, "unchanged"),
        "changed.md": (Action.REPLACE, "content changed"),
        "stale.md": (Action.REPLACE, "another version is newer in the workspace"),
    }
    assert plan.gone == ["gone.md"]
    assert [item.key for item in plan.to_send] == ["changed.md", "new.md", "stale.md"]


def test_prune_removes_gone_and_no_longer_allowed_keys_but_never_unknown_ones() -> None:
    ours = {
        "gone.md": [Copy("d/gone.json", A)],
        "big.csv": [Copy("d/big.json", A)],
        "hidden/x.md": [Copy("d/x.json", A)],
    }
    plan = make_plan(
        [],
        {},
        ours,
        prune=True,
        rejected={"big.csv": "is a .csv file, a type not allowed here"},
        unknown=lambda key: key.startswith("hidden/"),
    )
    assert [(i.key, i.action, i.reason) for i in plan.items] == [
        ("big.csv", Action.REMOVE, "no longer allowed: is a .csv file, a type not allowed here"),
        ("gone.md", Action.REMOVE, "file removed from the source"),
    ]
    assert plan.gone == []
    assert make_plan([], {}, ours, unknown=lambda key: key.startswith("hidden/")).gone == [
        "big.csv",
        "gone.md",
    ]


def test_legacy_copies_are_replaced_and_never_pruned() -> None:
    files = [file("same.md"), file("changed.md"), file("migrated.md")]
    hashes = {"same.md": A, "changed.md": B, "migrated.md": A}
    ours = {
        "same.md": [Copy("d/same-old.json", A, 5.0, legacy=True)],
        "changed.md": [Copy("d/changed-old.json", A, 5.0, legacy=True)],
        # a run that was cut after its upload: the marked copy is there, the legacy one still too
        "migrated.md": [Copy("d/migrated-old.json", A, 9.0, legacy=True), Copy("d/migrated.json", A, 1.0)],
        "gone.md": [Copy("d/gone-old.json", A, 1.0, legacy=True)],
    }
    plan = make_plan(files, hashes, ours, prune=True)
    actions = {item.key: (item.action, item.reason) for item in plan.items}
    assert actions == {
        "same.md": (Action.REPLACE, REMARKED),
        "changed.md": (Action.REPLACE, "content changed"),
        "migrated.md": (Action.UNCHANGED, "unchanged"),  # its legacy copy goes with the clean-up
    }
    assert plan.gone == []


def test_a_key_with_copies_needs_its_hash() -> None:
    with pytest.raises(ValueError, match="no content hash"):
        make_plan([file("x.md")], {}, {"x.md": [Copy("d/x.json", A)]})


def removals(n: int, held: int, *, empty: bool = False, max_delete: int | None = None) -> str | None:
    ours = {f"k{i}": [Copy(f"d/{i}.json", A)] for i in range(n)}
    plan = make_plan([], {}, ours, prune=True)
    return prune_refusal(plan, held, source_empty=empty, max_delete=max_delete, where="workspace 'w'")


def test_the_prune_guard() -> None:
    assert removals(0, 80, empty=True) is None  # nothing to remove: nothing to refuse
    assert removals(40, 80) is None  # half may go
    refusal = removals(41, 80)
    assert refusal is not None
    assert "41 of the 80 file(s)" in refusal
    assert "more than half" in refusal
    refusal = removals(1, 80, empty=True)  # an unmounted disk: the source lists nothing at all
    assert refusal is not None
    assert "the source lists no file at all" in refusal
    assert removals(41, 80, max_delete=41) is None
    assert removals(80, 80, empty=True, max_delete=80) is None
    refusal = removals(42, 80, max_delete=41)
    assert refusal is not None
    assert "more than the 41 allowed" in refusal
