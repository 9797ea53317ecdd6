"""A corpus of good and bad files, generated here, each with the verdict the validator must reach."""

from __future__ import annotations

import codecs
import io
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from anythingllm_bridge.validation import KNOWN_TYPES, FileValidator
from support import python_where_file_modes_apply

KIB = 1024
MIB = 1024 * KIB
LIMIT = 4 * MIB  # the validator's max_file_size in this corpus
TOO_BIG = "is 4,194,305 bytes (4.0 MiB), more than the limit of 4,194,304 bytes (4.0 MiB)"
NOT_CHECKABLE_JSON = "is JSON nested too deeply to check"

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"This program cannot be run"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64)
GIF = b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + bytes(64)
OLE_DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\xec\xa5\xc1\x00" + bytes(512)  # legacy Word
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def zipped(members: dict[str, bytes], *, stored: tuple[str, ...] = ()) -> bytes:
    """A ZIP archive of ``members`` in this order, deflated except those named in ``stored``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            kind = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return buffer.getvalue()


def office(main: str, media: bytes = b"") -> bytes:
    """An OOXML document; ``media``, if any, is one more member, stored after the others."""
    members = {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>", main: b"<x/>"}
    if media:
        members["word/media/video.bin"] = media
    return zipped(members, stored=("word/media/video.bin",))


def odf(mimetype: str, *, stored: bool = True) -> bytes:
    """An EPUB / OpenDocument container: the stored mimetype entry first, as the standards say."""
    members = {"mimetype": mimetype.encode(), "content.xml": b"<c/>"}
    return zipped(members, stored=("mimetype",) if stored else ())


def encrypted(data: bytes) -> bytes:
    """``data`` (an archive) with the 'encrypted' flag set on its members, as a password-protected
    archive has it (``zipfile`` cannot write one)."""
    flagged = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = flagged.find(signature)
        while start >= 0:
            flagged[start + flag_at] |= 0x1
            start = flagged.find(signature, start + 4)
    return bytes(flagged)


def sparse(head: bytes, tail: bytes, size: int) -> Callable[[Path], None]:
    """A file of ``size`` bytes with ``head`` and ``tail`` written and a hole between them."""

    def make(path: Path) -> None:
        with path.open("wb") as out:
            out.write(head)
            out.seek(size - len(tail))
            out.write(tail)

    return make


def content(data: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(data)

    return make


def big_csv(rows: int) -> bytes:
    return ("id,name,city\n" + "".join(f"{i},ñame {i},Zürich\n" for i in range(rows))).encode()


def multiline_csv(rows: int) -> bytes:
    """Rows whose quoted middle field spans two lines: the sampled head ends inside such a field."""
    return "".join(f'id{n},"first line\nsecond line {"x" * 300}",end\n' for n in range(rows)).encode()


def wide_csv(columns: int, rows: int) -> bytes:
    """A header row wider than the sampled head, then rows that agree with it."""
    header = ",".join(f"column_{i}" for i in range(columns))
    return (header + "\n" + "".join(",".join(["1"] * columns) + "\n" for _ in range(rows))).encode()


def nested_json(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], None]
    expected: str | None  # None: valid; else a piece of the reason

    def __str__(self) -> str:
        return self.name


CASES = [
    # ---- good files
    Case("good.pdf", content(PDF), None),
    Case("junk-before-header.pdf", content(b"\x00garbage" * 50 + PDF), None),
    Case("big-sparse.pdf", sparse(b"%PDF-1.4\n", b"\nstartxref\n123\n%%EOF\n", 3 * MIB), None),
    Case("object.json", content(b'{"a": [1, 2, {"b": null}]}'), None),
    Case("array-after-space.json", content(b" \n\t [1, 2, 3]\n"), None),
    Case("bom.json", content(codecs.BOM_UTF8 + '{"name": "café"}'.encode()), None),
    Case("big.json", content(json.dumps([{"i": i, "t": "x€y"} for i in range(9000)]).encode()), None),
    Case("plain.csv", content(b"a,b,c\n1,2,3\n4,5,6\n"), None),
    Case("semicolons.csv", content(b"name;price\nbread;1,20\nmilk;0,99\n"), None),
    Case("tabs.csv", content(b"a\tb\n1\t2\n"), None),
    Case("bom.csv", content(codecs.BOM_UTF8 + b"x,y\n1,2\n"), None),
    Case("quoted-newlines.csv", content(b'id,comment\n1,"two\nlines, with comma"\n2,plain\n'), None),
    Case("header-only.csv", content(b"first,second,third\n"), None),
    Case("big-multibyte.csv", content(big_csv(20_000)), None),
    Case("big-multiline.csv", content(multiline_csv(400)), None),  # 139 KB
    Case("wide-header.csv", content(wide_csv(2_000, 20)), None),  # 102 KB; the header alone is 22 KB
    Case("notes.txt", content("Grüße, 世界 🌍\nline two\n".encode()), None),
    Case("cut-multibyte.txt", content(("€" * 40_000 + "\n").encode()), None),  # head ends mid-character
    Case("cut-multibyte-2.txt", content(("€" * 40_001 + "\n\n").encode()), None),  # so does the tail start
    Case("readme.md", content(b"# Title\n\nSome *markdown*.\n"), None),
    Case("page.htm", content(b"<!doctype html><html><body><p>hi</p></body></html>"), None),
    Case("bom.txt", content(codecs.BOM_UTF8 + b"hello\n"), None),
    Case("mail.mbox", content(b"From alice@example.com Mon Jan  1 00:00:00 2024\nSubject: hi\n\nhi\n"), None),
    Case("script.py", content(b"print('allowed as text')\n"), None),
    Case("report.docx", content(office("word/document.xml")), None),
    Case("sheet.xlsx", content(office("xl/workbook.xml")), None),
    Case("deck.pptx", content(office("ppt/presentation.xml")), None),
    Case("book.epub", content(odf("application/epub+zip")), None),
    Case("letter.odt", content(odf("application/vnd.oasis.opendocument.text")), None),
    Case("photo.png", content(PNG), None),
    Case("photo.jpeg", content(JPEG), None),
    Case("legacy.doc", content(OLE_DOC), None),  # a binary type the user allowed, whose magic fits
    Case("bundle.zip", content(zipped({"a.txt": b"x"})), None),
    Case("big.docx", content(office("word/document.xml", media=bytes(3 * MIB))), None),
    # ---- what the file system says
    Case("empty.pdf", content(b""), "is empty"),
    Case("too-big.pdf", sparse(b"%PDF-1.4\n", b"%%EOF\n", LIMIT + 1), TOO_BIG),
    Case("no-extension", content(b"hello"), "no file extension"),
    Case("program.exe", content(PE), "not allowed"),
    # ---- binaries wearing an allowed name
    Case("elf.pdf", content(ELF), "is really an ELF executable (Linux/Unix program), not a .pdf file"),
    Case("setup.txt", content(PE), "is really a Windows executable"),
    Case("archive.csv", content(zipped({"a.txt": b"x"})), "is really a ZIP archive"),
    Case("image.json", content(PNG), "is really a PNG image, not a .json file"),
    Case("photo.pdf", content(JPEG), "is really a JPEG image"),
    Case("anim.md", content(GIF), "is really a GIF image"),
    Case("word.pdf", content(office("word/document.xml")), "is really a Word document"),
    Case("pdf.json", content(PDF), "is really a PDF document"),
    Case("noise.md", content(bytes(range(256)) * 4), "binary data"),
    Case("text.png", content(b"just some text"), "not a real .png file"),
    Case("program.doc", content(PE), "is really a Windows executable (.exe/.dll), not a .doc file"),
    # ---- broken or mislabelled documents
    Case("truncated.pdf", content(PDF[:-7]), "truncated PDF"),
    Case("big-truncated.pdf", sparse(b"%PDF-1.4\n", b"stream\nxxxx", 2 * MIB), "truncated PDF"),
    Case("letter.pdf", content(b"Dear Sir,\nthis is not a PDF.\n"), "not a PDF"),
    Case("utf16-bom.csv", content("a,b\n1,2\n".encode("utf-16")), "UTF-16"),
    Case("utf16-no-bom.txt", content("plain words here\n".encode("utf-16-le")), "UTF-16"),
    Case("nul.txt", content(b"\x00"), "is binary data, not a .txt file (NUL byte at offset 0)"),
    Case("zeros.txt", content(bytes(4096)), "is binary data, not a .txt file (NUL byte at offset 0)"),
    Case("odd-nul.txt", content(b"a\x00b"), "is binary data, not a .txt file (NUL byte at offset 1)"),
    Case("latin1.csv", content("name,city\ncafé,Zürich\n".encode("latin-1")), "byte 0xE9 at offset 13"),
    Case("latin1.txt", content("Grüße\n".encode("latin-1")), "not valid UTF-8"),
    Case(
        "latin1-at-the-end.txt",
        content(b"fine ascii text\n" * 10_000 + "Schlußwort\n".encode("latin-1")),
        "not valid UTF-8 (byte 0xDF at offset 160005)",
    ),
    Case(
        "nul-at-the-end.html",
        content(b"<p>text</p>\n" * 10_000 + b"\x00\x00"),
        "NUL byte at offset 120000",
    ),
    Case(
        "prose.csv",
        content(b"It was a bright cold day in April, and the clocks were striking thirteen.\n"
                b"Winston Smith, his chin nuzzled into his breast in an effort to escape the vile wind,\n"
                b"slipped quickly through the glass doors of Victory Mansions.\n"),
        "not consistent CSV",
    ),
    Case("one-column.csv", content(b"just\nwords\nhere\n"), "no row has a delimiter"),
    Case("one-long-line.csv", content(b"words without end " * 5_000), "no row has a delimiter"),  # 90 KB
    Case("blank-lines.csv", content(b"\n\r\n\n"), "has no CSV row, only blank lines"),
    Case(
        "big-multiline-ragged.csv",
        content(multiline_csv(5) + b'id5,"first\nsecond",end,extra\n' + multiline_csv(400)),
        "different numbers of columns (3, 3, 3, 3, 3, 4, 3, 3, ...)",
    ),
    Case("pretty-json.csv", content(json.dumps({"a": 1, "b": 2}, indent=2).encode()), "not consistent CSV"),
    Case("broken.json", content(b'{"a": }'), "not valid JSON"),
    Case("deep.json", content(nested_json(10_000)), NOT_CHECKABLE_JSON),  # read whole: 20 KB
    Case("deep-object.json", content(b'{"a":' * 5_000 + b"1" + b"}" * 5_000), NOT_CHECKABLE_JSON),
    Case("prose.json", content(b"hello world"), "not a JSON object or array"),
    Case("blank.json", content(codecs.BOM_UTF8 + b"   \n"), "no JSON value"),
    Case("big-truncated.json", content(b"[" + b'{"k": "v"},' * 10_000), "truncated JSON"),
    Case("sheet-in.docx", content(office("xl/workbook.xml")), "really an Excel workbook (XLSX), not a .docx"),
    Case("plain-zip.docx", content(zipped({"hello.txt": b"x"})), "no word/document.xml"),
    Case("cut.docx", content(office("word/document.xml")[:-30]), "truncated ZIP"),
    Case("no-mimetype.epub", content(zipped({"content.opf": b"<p/>"})), "no application/epub+zip mimetype"),
    Case("text.epub", content(odf("application/vnd.oasis.opendocument.text")),
         "is really an OpenDocument text (ODT), not a .epub file"),
    Case("other.odt", content(odf("text/plain")), "its mimetype is 'text/plain', not application/vnd.oasis"),
    Case("squeezed.epub", content(odf("application/epub+zip", stored=False)),
         "its mimetype member is compressed, not stored"),
    Case("locked.docx", content(encrypted(office("word/document.xml"))),
         "is a password-protected ZIP container ([Content_Types].xml is encrypted)"),
    Case("bad-name.docx", content(zipped({"[Content_Types].xml": b"<T/>", "word/média.png": b"x"})
                                  .replace("é".encode(), b"\xff\xa9")),
         "is a corrupt ZIP container (a member name flagged as UTF-8 is not UTF-8)"),
    Case("bad-crc.epub", content(odf("application/epub+zip").replace(b"epub+zip", b"epub+zap", 1)),
         "is a corrupt ZIP container (bad CRC-32 for file 'mimetype')"),
    Case("not-a-zip.xlsx", content(b"a,b\n1,2\n"), "not a real .xlsx file (not a ZIP container)"),
    Case("letter.mbox", content(b"Dear Bob,\n"), "not an mbox"),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for case in CASES:
        case.make(folder / case.name)
    return folder


@pytest.fixture(scope="module")
def validator() -> FileValidator:
    return FileValidator(max_file_size=LIMIT, allowed_file_types=[*sorted(KNOWN_TYPES), "py", "doc", "zip"])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_file_gets_the_expected_verdict(case: Case, corpus: Path, validator: FileValidator) -> None:
    verdict = validator.inspect(corpus / case.name)
    if case.expected is None:
        assert verdict.reason is None
    else:
        assert verdict.reason is not None, f"{case.name} was accepted"
        assert case.expected in verdict.reason
    assert verdict.bytes_read <= 64 * KIB


def test_no_file_costs_more_than_64_kib_of_reading(corpus: Path, validator: FileValidator) -> None:
    read = {case.name: validator.inspect(corpus / case.name).bytes_read for case in CASES}
    assert max(read.values()) <= 64 * KIB
    assert read["big-sparse.pdf"] == 20 * KIB  # 16 KiB head + 4 KiB tail of a 3 MiB file
    assert read["big.docx"] == 20 * KIB  # the same: its ZIP directory lies in the tail
    assert read["too-big.pdf"] == 0  # refused by size before any content is read


def test_missing_folders_links_and_pipes_are_refused_with_a_reason(
    tmp_path: Path, validator: FileValidator
) -> None:
    (tmp_path / "real.pdf").write_bytes(PDF)
    (tmp_path / "link.pdf").symlink_to(tmp_path / "real.pdf")
    (tmp_path / "folder.pdf").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")
    expected = {
        "missing.pdf": "does not exist",
        "link.pdf": "symbolic link",
        "folder.pdf": "is a folder",
        "pipe.csv": "not a regular file",
    }
    for name, reason in expected.items():
        ok, error = validator.validate_file(tmp_path / name)
        assert not ok
        assert error is not None
        assert error.startswith(f"{name}: ")
        assert reason in error
    assert validator.validate_file(tmp_path / "real.pdf") == (True, None)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(PDF)
    path.chmod(0)
    checked = python_where_file_modes_apply(  # even when the suite runs as root
        "import sys\n"
        "from anythingllm_bridge.validation import FileValidator\n"
        "ok, error = FileValidator().validate_file(sys.argv[1])\n"
        "print(ok)\n"
        "print(error)\n",
        str(path),
    )
    assert checked.returncode == 0, checked.stderr
    ok, error = checked.stdout.splitlines()
    assert ok == "False"
    assert error.startswith("locked.pdf: ")
    assert "permission denied" in error
