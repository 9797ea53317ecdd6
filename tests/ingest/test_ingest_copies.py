"""Which copies stay (pure): every sync keeps the newest copy of the content it holds and removes only
older ones it sees beside it; whatever the syncs see, the last copy of a key is never removed. Copies
an older anythingllm-bridge synced (legacy) are older than every marked copy and never kept."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from anythingllm_bridge.client.models import WorkspaceDocument
from anythingllm_bridge.ingest import Copy, LegacyMarker, Marker, copies_in, newest, surplus
from anythingllm_bridge.ingest.copies import legacy_in

A, B = "a" * 64, "b" * 64


def test_a_sync_keeps_the_newest_copy_of_its_content_and_removes_the_older_ones() -> None:
    old, dup, new, other_newer = (
        Copy("d/1", A, 1.0),
        Copy("d/2", A, 2.0),
        Copy("d/3", A, 3.0),
        Copy("d/4", B, 4.0),
    )
    assert surplus([old, dup, new], A) == [old, dup]
    # a newer version another sync holds is not this sync's to remove, nor is anything newer than its keeper
    assert surplus([old, new, other_newer], A) == [old]
    assert surplus([old, new, other_newer], B) == [old, new]
    assert surplus([old, other_newer], "c" * 64) == []  # no keeper seen: nothing removed
    assert newest([old, other_newer, new]) == other_newer


def test_equal_times_are_ordered_by_docpath_so_every_sync_agrees() -> None:
    first, second = Copy("d/a", A, 5.0), Copy("d/b", A, 5.0)
    assert surplus([first, second], A) == [first]
    assert surplus([second, first], A) == [first]


def test_a_legacy_copy_is_older_than_every_marked_copy_and_never_kept() -> None:
    legacy, later_legacy = Copy("d/old", A, 9.0, legacy=True), Copy("d/old-2", B, 10.0, legacy=True)
    marked = Copy("d/new", A, 1.0)  # entered the workspace before the legacy ones, by its clock
    assert newest([legacy, marked, later_legacy]) == marked
    assert surplus([legacy, marked, later_legacy], A) == [legacy, later_legacy]
    assert surplus([legacy, later_legacy], A) == []  # only legacy copies: no keeper, nothing removed
    assert surplus([legacy, later_legacy], B) == []


def listed(docpath: str, marker: Marker | str | None, created: datetime | None = None) -> WorkspaceDocument:
    source = marker.to_doc_source() if isinstance(marker, Marker) else marker
    return WorkspaceDocument.model_validate(
        {"docpath": docpath, "metadata": {"docSource": source, "title": "x"}, "createdAt": created}
    )


def test_copies_in_a_listing_are_ours_only_by_source_and_workspace() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    mine = Marker("file:///src", "a.md", A, "ws")
    documents = [
        listed("d/mine", mine, at),
        listed("d/mine", mine, at.replace(second=5)),  # the same document embedded twice: one copy
        listed("d/other-source", Marker("file:///elsewhere", "a.md", A, "ws")),
        listed("d/other-workspace", Marker("file:///src", "a.md", A, "other")),
        listed("d/by-hand", "a text file uploaded by the user."),
        listed("d/chunk", '{"anythingllm-bridge-chunk": 1, "chunk_id": "c"}'),
    ]
    found = copies_in(documents, source="file:///src", workspace="ws")
    assert found == {"a.md": [Copy("d/mine", A, at.replace(second=5).timestamp())]}
    assert copies_in(documents, source="file:///src", workspace="ws", wanted=lambda key: False) == {}


def test_legacy_copies_are_ours_only_by_the_key_hashes_given() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    hashes = {LegacyMarker.hash_key(key): key for key in ["a.md", "b.md"]}
    old_a = f"anythingllm-bridge:3f2a9c41d0b7:{LegacyMarker.hash_key('a.md')}:{B}"
    documents = [
        listed("d/mine", Marker("file:///src", "a.md", A, "ws"), at.replace(second=1)),
        listed("d/legacy-a", old_a, at.replace(second=9)),
        listed("d/legacy-a", old_a, at),  # embedded twice: one copy
        listed("d/legacy-a-2", f"anythingllm-bridge:abcd1234:{LegacyMarker.hash_key('a.md')}:{A}", at),
        listed("d/legacy-c", f"anythingllm-bridge:abcd1234:{LegacyMarker.hash_key('c.md')}:{A}", at),
    ]
    found = copies_in(documents, source="file:///src", workspace="ws", legacy=hashes)
    assert found == {
        "a.md": [
            Copy("d/legacy-a-2", A, at.timestamp(), legacy=True),
            Copy("d/legacy-a", B, at.replace(second=9).timestamp(), legacy=True),
            Copy("d/mine", A, at.replace(second=1).timestamp()),
        ]
    }
    assert copies_in(documents, source="file:///src", workspace="ws") == {
        "a.md": [Copy("d/mine", A, at.replace(second=1).timestamp())]
    }
    assert (
        copies_in(documents, source="file:///src", workspace="ws", legacy=hashes, wanted=lambda k: False)
        == {}
    )
    assert legacy_in(documents, skip=hashes.__contains__) == {"d/legacy-c"}
    assert legacy_in(documents, skip=lambda digest: False) == {"d/legacy-a", "d/legacy-a-2", "d/legacy-c"}


# Any number of syncs, each holding one of two versions of a file, each seeing some of the copies in
# the listing it takes after its uploads, remove what they see as surplus in any order: at least one
# copy survives, and a sync that saw every copy leaves exactly one.
copies_strategy = st.lists(
    st.builds(Copy, st.sampled_from([f"d/{n}" for n in range(8)]), st.sampled_from([A, B]),
              st.one_of(st.none(), st.integers(0, 5).map(float)), st.booleans()),
    min_size=1, max_size=8, unique_by=lambda c: c.docpath,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(copies_strategy, st.data())
def test_no_run_ever_removes_the_last_copy(copies: list[Copy], data: st.DataObject) -> None:
    runs = data.draw(
        st.lists(st.tuples(st.sampled_from([A, B]), st.sets(st.sampled_from(copies))), max_size=5)
    )
    removed: set[str] = set()
    for sha, seen in runs:
        removed |= {copy.docpath for copy in surplus(sorted(seen, key=lambda c: c.order), sha)}
    left = [c for c in copies if c.docpath not in removed]
    assert left
    assert any(not c.legacy for c in left) or all(c.legacy for c in copies)  # a marked copy stays


@settings(max_examples=200, deadline=None)
@given(copies_strategy)
def test_a_sync_that_sees_every_copy_of_its_newest_content_leaves_one(copies: list[Copy]) -> None:
    latest = newest(copies)
    assert latest is not None
    kept = [c for c in copies if c not in surplus(copies, latest.sha256)]
    assert kept == ([latest] if not latest.legacy else copies)  # only legacy copies: none removed yet
