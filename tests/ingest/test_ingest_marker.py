"""The marker in ``docSource`` (pure): it round-trips any key a file system gives, and anything else a
``docSource`` may hold parses as no marker, without raising; the marker of older versions is read
as a legacy marker, and only that."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anythingllm_bridge.client.models import ChunkMetadata
from anythingllm_bridge.ingest import LegacyMarker, Marker, Shard
from anythingllm_bridge.ingest.shard import shard_of

SHA = "0123456789abcdef" * 4
fs_keys = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1),
    st.binary(min_size=1).map(os.fsdecode),  # names the file system gives as bytes (not always UTF-8)
)


@given(fs_keys, st.text(min_size=1), st.text(min_size=1))
def test_a_marker_round_trips_any_key(key: str, source: str, workspace: str) -> None:
    source = source.encode("utf-8", "replace").decode("utf-8", "replace")
    workspace = workspace.encode("utf-8", "replace").decode("utf-8", "replace")
    marker = Marker(source, key, SHA, workspace)
    text = marker.to_doc_source()
    text.encode("utf-8")  # always sendable
    json.loads(text)
    assert Marker.parse(text) == marker


def test_the_upload_id_travels_when_there_is_one() -> None:
    marker = Marker("s3://bucket/docs", "a.md", SHA, "ws", "3f2a9c41d0b7")
    assert json.loads(marker.to_doc_source())["upload"] == "3f2a9c41d0b7"
    assert Marker.parse(marker.to_doc_source()) == marker
    assert "upload" not in json.loads(Marker("s", "a.md", SHA, "ws").to_doc_source())


def test_a_name_that_is_not_utf8_travels_as_its_bytes() -> None:
    key = os.fsdecode(b"caf\xe9.txt")
    text = Marker("file:///src", key, SHA, "ws").to_doc_source()
    assert json.loads(text)["key_bytes"] == "caf%E9.txt"
    assert Marker.parse(text) == Marker("file:///src", key, SHA, "ws")


@given(st.one_of(st.none(), st.integers(), st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_anything_else_is_no_marker(value: object) -> None:
    assert Marker.parse(value) is None  # never raises, and nothing but a marker parses as one


def test_foreign_doc_sources_are_no_marker() -> None:
    chunk = ChunkMetadata(
        chunk_id="c1", chunk_index=0, total_chunks=1, document_id="d", document_title="T"
    ).to_doc_source()
    for value in [
        "a text file uploaded by the user.",
        chunk,
        "anythingllm-bridge:0123:abcd:" + SHA,  # the marker of earlier versions
        '{"anythingllm-bridge": 2, "source": "s", "key": "k", "sha256": "' + SHA + '", "workspace": "w"}',
        '{"anythingllm-bridge": 1, "source": "s", "key": "k", "sha256": "nothex", "workspace": "w"}',
        '{"anythingllm-bridge": 1, "source": "s", "sha256": "' + SHA + '", "workspace": "w"}',
        '["anythingllm-bridge"]',
        '{"anythingllm-bridge": 1',
    ]:
        assert Marker.parse(value) is None, value


def test_the_marker_of_older_versions_is_a_legacy_marker() -> None:
    key_hash = hashlib.sha256(b"guides/setup.md").hexdigest()[:16]
    assert LegacyMarker.hash_key("guides/setup.md") == key_hash
    for sync_id in ["3f2a9c41d0b7", "abcd1234", "odd:id"]:
        legacy = f"anythingllm-bridge:{sync_id}:{key_hash}:{SHA}"
        assert LegacyMarker.parse(legacy) == LegacyMarker(key_hash, SHA)
        assert Marker.parse(legacy) is None  # Marker stays strict
    chunk = ChunkMetadata(
        chunk_id="c1", chunk_index=0, total_chunks=1, document_id="d", document_title="T"
    ).to_doc_source()
    for value in [
        None,
        17,
        Marker("s", "guides/setup.md", SHA, "w").to_doc_source(),
        chunk,
        "a text file uploaded by the user.",
        f"anythingllm-bridge::{key_hash}:{SHA}",  # no sync id
        f"anythingllm-bridge:abcd:{key_hash[:15]}:{SHA}",  # a short key hash
        f"anythingllm-bridge:abcd:{key_hash}:{SHA[:63]}",  # a short content hash
        f"anythingllm-bridge:abcd:{key_hash}:{SHA.upper()}",
        f"anythingllm-bridge:abcd:{key_hash}:{SHA}\n",
        f"x-anythingllm-bridge:abcd:{key_hash}:{SHA}",
    ]:
        assert LegacyMarker.parse(value) is None, value


@given(st.one_of(st.none(), st.integers(), st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_anything_else_is_no_legacy_marker(value: object) -> None:
    found = LegacyMarker.parse(value)
    assert found is None or (isinstance(value, str) and value.endswith(found.sha256))


def test_shards_split_the_keys_stably_and_evenly() -> None:
    keys = [f"folder-{n // 50}/file-{n}.md" for n in range(4000)]
    shares = [Shard(i, 4) for i in range(4)]
    owners = [[share for share in shares if key in share] for key in keys]
    assert all(len(owner) == 1 for owner in owners)  # each key in exactly one share
    sizes = [sum(owner == [share] for owner in owners) for share in shares]
    assert all(900 < size < 1100 for size in sizes), sizes
    # the same on every machine and Python version: the SHA-256 of the key's bytes, as a number, mod N
    assert shard_of("guides/setup.md", 4) == int(hashlib.sha256(b"guides/setup.md").hexdigest(), 16) % 4 == 1
    assert all(key in Shard(0, 1) for key in keys)
    assert Shard.parse(" 2/8 ") == Shard(2, 8)
    assert str(Shard(2, 8)) == "2/8"
    for bad in ["8/8", "-1/4", "1", "a/b", "1/0"]:
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)
