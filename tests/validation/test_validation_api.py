"""FileValidator's API: tuples, batches, grouping, the strict variant, settings, bounded reading."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anythingllm_bridge.config import Settings
from anythingllm_bridge.errors import FileValidationError
from anythingllm_bridge.validation import KNOWN_TYPES, FileValidator

KIB = 1024
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "good.pdf": PDF,
        "data.json": b'{"a": 1}',
        "table.csv": b"a,b\n1,2\n",
        "fake.pdf": b"\x7fELF\x02\x01\x01\x00" + bytes(100),
        "notes.txt": b"hello\n",
        "empty.csv": b"",
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


def test_defaults_accept_pdf_json_csv_only(files: dict[str, Path]) -> None:
    validator = FileValidator()
    assert validator.max_file_size == 100 * 1024 * 1024
    assert validator.allowed_file_types == ("pdf", "json", "csv")
    assert validator.validate_file(files["good.pdf"]) == (True, None)
    ok, error = validator.validate_file(files["notes.txt"])
    assert not ok
    assert error == "notes.txt: is a .txt file, a type not allowed here (allowed: pdf, json, csv)"


def test_validate_multiple_files_splits_good_from_bad_with_reasons(files: dict[str, Path]) -> None:
    validator = FileValidator()
    valid, invalid = validator.validate_multiple_files(files.values())
    assert valid == [files["good.pdf"], files["data.json"], files["table.csv"]]
    reasons = {path.name: reason for path, reason in invalid}
    assert set(reasons) == {"fake.pdf", "notes.txt", "empty.csv"}
    assert "ELF executable" in reasons["fake.pdf"]
    assert reasons["empty.csv"] == "is empty (0 bytes)"


def test_organize_files_by_type_groups_by_the_claimed_type(tmp_path: Path) -> None:
    names = ["a.pdf", "b.PDF", "c.htm", "d.html", "e.jpeg", "README"]
    groups = FileValidator().organize_files_by_type(tmp_path / name for name in names)
    assert {kind: [p.name for p in paths] for kind, paths in groups.items()} == {
        "pdf": ["a.pdf", "b.PDF"],
        "html": ["c.htm", "d.html"],
        "jpg": ["e.jpeg"],
        "other": ["README"],
    }


def test_the_strict_variant_raises_with_path_and_reason(files: dict[str, Path]) -> None:
    validator = FileValidator()
    assert validator.validate_file_strict(files["data.json"]) == "json"
    with pytest.raises(FileValidationError) as info:
        validator.validate_file_strict(files["fake.pdf"])
    assert info.value.path == str(files["fake.pdf"])
    assert info.value.reason is not None
    assert "ELF executable" in info.value.reason
    assert str(files["fake.pdf"]) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_size_and_type_can_be_checked_apart(files: dict[str, Path]) -> None:
    small = FileValidator(max_file_size=10)
    assert small.validate_file_size(files["fake.pdf"])[0] is False  # 108 bytes: too big
    assert small.validate_file_size(files["data.json"]) == (True, None)
    assert small.validate_file_size(files["empty.csv"])[0] is False
    assert small.validate_file_type(files["good.pdf"]) == (True, None)  # 15 bytes, but size is not asked
    ok, error = small.validate_file_type(files["fake.pdf"])
    assert not ok
    assert error is not None
    assert "ELF" in error


def test_create_from_settings_reads_the_limit_and_the_types(files: dict[str, Path]) -> None:
    configured = Settings(_env_file=None, max_file_size=12, allowed_file_types="txt, .HTM")
    validator = FileValidator.create_from_settings(configured)
    assert validator.max_file_size == 12
    assert validator.allowed_file_types == ("txt", "html")
    assert validator.validate_file(files["notes.txt"]) == (True, None)
    assert validator.validate_file(files["good.pdf"])[0] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowed_file_types": []}, "empty"),
        ({"max_file_size": 0}, "positive"),
        ({"read_budget": 1024}, "at least 32 KiB"),
    ],
)
def test_impossible_configurations_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FileValidator(**kwargs)  # type: ignore[arg-type]


ZIP_READ_LIMIT = 64 * KIB + 1024 * KIB  # the read budget, plus the most a ZIP directory may add


def office_with(entries: int, *, main_last: bool, name_length: int = 50) -> bytes:
    """A DOCX with many members, so its central directory is large."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        if not main_last:
            archive.writestr("word/document.xml", b"<w/>")
        for index in range(entries):
            archive.writestr(f"word/media/{index:05d}".ljust(name_length, "x") + ".bin", bytes(40))
        if main_last:
            archive.writestr("word/document.xml", b"<w/>")
    return buffer.getvalue()


def directory_size(data: bytes) -> int:
    """The size of the central directory, from the end-of-archive record."""
    end = data.rfind(b"PK\x05\x06")
    (size,) = struct.unpack("<I", data[end + 12 : end + 16])
    return int(size)


def test_a_zip_directory_is_read_whole_and_member_data_never(tmp_path: Path) -> None:
    validator = FileValidator(allowed_file_types=["docx"])
    medium = tmp_path / "medium.docx"  # ~44 KiB: within the read budget, read whole
    medium.write_bytes(office_with(200, main_last=True))
    verdict = validator.inspect(medium)
    assert verdict.ok, verdict.reason
    assert verdict.bytes_read == medium.stat().st_size
    huge = office_with(2000, main_last=True)  # directory of ~200 KiB, the main part listed last
    (tmp_path / "huge.docx").write_bytes(huge)
    verdict = validator.inspect(tmp_path / "huge.docx")
    assert verdict.ok, verdict.reason
    assert verdict.bytes_read == 16 * KIB + 4 * KIB + directory_size(huge)  # head, tail, directory


def test_a_zip_directory_beyond_the_read_limit_is_refused_unread(tmp_path: Path) -> None:
    data = office_with(5000, main_last=False, name_length=200)
    assert directory_size(data) > ZIP_READ_LIMIT
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()  # a valid archive
    path = tmp_path / "many-members.docx"
    path.write_bytes(data)
    verdict = FileValidator(allowed_file_types=["docx"]).inspect(path)
    assert verdict.reason == (
        "is a ZIP container whose directory is too large to check (more than 1,088 KiB would have to be read)"
    )
    assert verdict.bytes_read == 20 * KIB  # the head and the tail; the directory was not read


def test_an_archive_comment_past_the_tail_is_found(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w/>" * 50_000)  # the file is read in part
        archive.comment = b"c" * 20_000  # the end-of-archive record lies 20 KB before the end
    path = tmp_path / "commented.docx"
    path.write_bytes(buffer.getvalue())
    verdict = FileValidator(allowed_file_types=["docx"]).inspect(path)
    assert verdict.ok, verdict.reason
    assert 64 * KIB < verdict.bytes_read <= ZIP_READ_LIMIT  # the last 64 KiB were searched


def zip64(members: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """An archive laid out as one past 4 GiB must be: every size and offset in a ZIP64 extra field,
    and a ZIP64 end record. ``zipfile`` writes that once its 4 GiB limit is lowered to 0."""
    buffer = io.BytesIO()
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP64_LIMIT", 0)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    data = buffer.getvalue()
    assert b"PK\x06\x06" in data  # the ZIP64 end record
    directory = data.find(b"PK\x01\x02")
    assert data[directory + 20 : directory + 28] == b"\xff" * 8  # sizes only in the ZIP64 field
    return data


@pytest.mark.parametrize(
    ("name", "members"),
    [
        ("zip64.docx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
        ("zip64.epub", {"mimetype": b"application/epub+zip", "content.opf": b"<p/>"}),
    ],
)
def test_zip64_archives_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, members: dict[str, bytes]
) -> None:
    path = tmp_path / name
    path.write_bytes(zip64(members, monkeypatch))
    assert FileValidator(allowed_file_types=["docx", "epub"]).inspect(path).ok


def test_a_zip64_marker_without_its_record_is_refused(tmp_path: Path) -> None:
    plain = office_with(3, main_last=False)
    end = plain.rfind(b"PK\x05\x06")
    end_record = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path = tmp_path / "zip64.docx"
    path.write_bytes(plain[:end] + end_record)  # it says ZIP64, but there is no ZIP64 record
    reason = FileValidator(allowed_file_types=["docx"]).inspect(path).reason
    assert reason == "is a corrupt ZIP container (bad offset for central directory)"


def archive(kind: str, media: int) -> bytes:
    """A valid DOCX or EPUB whose last member is ``media`` stored bytes (a large file is read in part)."""
    members = {
        "docx": {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"},
        "epub": {"mimetype": b"application/epub+zip", "content.opf": b"<p/>"},
    }[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as made:
        for name, data in (members | {"media.bin": b"m" * media}).items():
            made.writestr(name, data)
    return buffer.getvalue()


_ARCHIVES = {(kind, media): archive(kind, media) for kind in ("docx", "epub") for media in (10, 100 * KIB)}


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(sorted(_ARCHIVES)),
    changes=st.lists(st.tuples(st.integers(-400, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 300),
)
def test_damaged_archives_get_a_one_line_reason(
    which: tuple[str, int], changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(_ARCHIVES[which])
    for at, value in changes:  # bytes changed near the start (local headers) or the end (directory)
        data[at % len(data)] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged.{which[0]}"
        path.write_bytes(data[: len(data) - cut])
        verdict = FileValidator(allowed_file_types=["docx", "epub"]).inspect(path)
    assert verdict.reason is None or "\n" not in verdict.reason
    assert verdict.bytes_read <= ZIP_READ_LIMIT


_TYPES = sorted(KNOWN_TYPES)
_ZIP_TYPES = {"docx", "xlsx", "pptx", "epub", "odt", "odp", "ods"}


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(_TYPES),
    head=st.binary(max_size=3000),
    tail=st.binary(max_size=3000),
    gap=st.sampled_from([0, 1, 70 * KIB, 5 * 1024 * KIB]),
)
def test_any_content_gets_a_verdict_within_the_read_budget(
    kind: str, head: bytes, tail: bytes, gap: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"file.{kind}"
        with path.open("wb") as out:
            out.write(head)
            out.seek(len(head) + gap)
            out.write(tail)
        verdict = FileValidator(allowed_file_types=_TYPES).inspect(path)
    assert verdict.bytes_read <= (ZIP_READ_LIMIT if kind in _ZIP_TYPES else 64 * KIB)
    assert verdict.file_type == kind
    if verdict.reason is not None:  # a refusal is one clear line, shown after the file's name
        assert verdict.reason.strip() == verdict.reason != ""
        assert "\n" not in verdict.reason
        assert verdict.error == f"file.{kind}: {verdict.reason}"
    signature = {"pdf": b"%PDF", **dict.fromkeys(_ZIP_TYPES, b"PK")}.get(kind)
    if signature is not None and signature not in head + tail:
        assert not verdict.ok, f"random bytes passed as {kind}"


def test_json_too_deep_to_parse_is_refused_alone(files: dict[str, Path]) -> None:
    deep = files["data.json"].with_name("deep.json")
    deep.write_bytes(b"[" * 10_000 + b"]" * 10_000)
    valid, invalid = FileValidator().validate_multiple_files([deep, *files.values()])
    assert valid == [files["good.pdf"], files["data.json"], files["table.csv"]]
    assert invalid[0] == (deep, "is JSON nested too deeply to check (about a thousand levels or more)")


@pytest.mark.parametrize(
    ("size", "limit", "reason"),
    [
        (3, 1, "is 3 bytes, more than the limit of 1 byte"),
        (2_000, 1_000, "is 2,000 bytes (2.0 KiB), more than the limit of 1,000 bytes"),
        (
            3 * 1024 * KIB,
            2 * 1024 * KIB,
            "is 3,145,728 bytes (3.0 MiB), more than the limit of 2,097,152 bytes (2.0 MiB)",
        ),
    ],
)
def test_a_file_too_big_names_each_size_once(tmp_path: Path, size: int, limit: int, reason: str) -> None:
    path = tmp_path / "big.txt"
    with path.open("wb") as out:
        out.truncate(size)
    assert FileValidator(max_file_size=limit, allowed_file_types=["txt"]).inspect(path).reason == reason
