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


def office_with(entries: int, *, main_last: bool) -> bytes:
    """A DOCX-named ZIP with many members, so its central directory is large."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        if not main_last:
            archive.writestr("word/document.xml", b"<w/>")
        for index in range(entries):
            archive.writestr(f"word/media/image-with-a-rather-long-name-{index:05d}.bin", bytes(40))
        if main_last:
            archive.writestr("word/document.xml", b"<w/>")
    return buffer.getvalue()


def test_a_large_zip_directory_is_read_only_as_far_as_the_budget(tmp_path: Path) -> None:
    validator = FileValidator(allowed_file_types=["docx"])
    medium = tmp_path / "medium.docx"  # directory of ~20 KiB, beyond the 4 KiB tail
    medium.write_bytes(office_with(200, main_last=True))
    verdict = validator.inspect(medium)
    assert verdict.ok, verdict.reason
    assert 20 * KIB < verdict.bytes_read <= 64 * KIB
    huge = tmp_path / "huge.docx"  # directory of ~200 KiB, the main part listed last
    huge.write_bytes(office_with(2000, main_last=True))
    verdict = validator.inspect(huge)
    assert verdict.reason is not None
    assert "no word/document.xml inside in the part of its directory read" in verdict.reason
    assert verdict.bytes_read == 64 * KIB
    early = tmp_path / "early.docx"  # same size, main part listed early: found within the budget
    early.write_bytes(office_with(2000, main_last=False))
    assert validator.inspect(early).ok


def test_zip64_end_records_are_followed(tmp_path: Path) -> None:
    plain = office_with(3, main_last=False)
    end = plain.rfind(b"PK\x05\x06")
    entries, cd_size, cd_offset = struct.unpack("<HII", plain[end + 10 : end + 20])
    record_at = end
    record = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, record_at, 1)
    end_record = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    data = plain[:end] + record + locator + end_record
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()  # a valid ZIP64 file
    path = tmp_path / "zip64.docx"
    path.write_bytes(data)
    assert FileValidator(allowed_file_types=["docx"]).inspect(path).ok


_TYPES = sorted(KNOWN_TYPES)


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
    assert verdict.bytes_read <= 64 * KIB
    assert verdict.ok or verdict.reason
