"""Text extraction for uploads, deciding like the collector: by extension first, then by MIME type.

* Text formats (``.txt .md .org .adoc .rst .csv .json .html``) are read as UTF-8.
* PDF: the strings shown by ``Tj``/``TJ``/``'``/``"`` in every content stream (FlateDecode streams are
  decompressed); the ``/Creator`` and ``/Title`` of the info dictionary become author and description.
* Office XML (``.docx .pptx .odt .odp``): the text runs of the document XML.
* Formats the collector transcribes or OCRs (audio, video, images, ``.xlsx``, ``.mbox``, ``.epub``): the
  emulator has no text for them and answers as the collector does when nothing is found.
* Any other extension is text if its MIME type is not binary (``application/octet-stream``, zip, audio,
  video, fonts, ...); an unknown extension is text if its first KiB is less than 10 % control bytes.
  Otherwise: "File extension .x not supported for parsing and cannot be assumed as text file type."
"""

from __future__ import annotations

import html
import io
import mimetypes
import re
import zipfile
import zlib
from dataclasses import dataclass

__all__ = ["Extracted", "ExtractionError", "extract_text", "sanitize_filename"]

_TEXT_SOURCE = "a text file uploaded by the user."
_TEXT_EXTS = frozenset({".txt", ".md", ".org", ".adoc", ".rst", ".csv", ".json", ".html"})
_OFFICE_XML = {
    ".docx": ("word/document.xml",),
    ".pptx": ("ppt/slides/",),
    ".odt": ("content.xml",),
    ".odp": ("content.xml",),
}
_NO_TEXT_HERE = frozenset(
    {".xlsx", ".mbox", ".epub", ".png", ".jpg", ".jpeg", ".webp", ".wav", ".mp3", ".ogg", ".oga", ".opus"}
    | {".m4a", ".webm", ".mp4", ".mpeg"}
)
# The collector's MIME library knows far more extensions than Python's table; these are the ones whose
# verdict (text / refused) differs from "unknown" in practice.
_EXTRA_MIMES = {
    ".xyz": "chemical/x-xyz", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf",
    ".otf": "font/otf", ".glb": "model/gltf-binary", ".gltf": "model/gltf+json", ".stl": "model/stl",
    ".flac": "audio/flac", ".aac": "audio/aac", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
    ".mov": "video/quicktime", ".dll": "application/x-msdownload", ".msi": "application/x-msdownload",
    ".gz": "application/gzip", ".7z": "application/x-7z-compressed", ".rar": "application/vnd.rar",
    ".yaml": "text/yaml", ".yml": "text/yaml", ".toml": "application/toml", ".ini": "text/plain",
    ".log": "text/plain", ".sql": "application/sql", ".xml": "text/xml", ".ts": "text/plain",
    ".tsx": "text/plain", ".py": "text/plain", ".sh": "text/plain", ".c": "text/plain",
    ".h": "text/plain", ".cs": "text/plain", ".js": "text/plain", ".go": "text/plain",
    ".lua": "text/plain", ".jsonl": "text/plain", ".r": "text/plain", ".rs": "text/plain",
    ".java": "text/plain", ".rb": "text/plain", ".php": "text/plain", ".swift": "text/plain",
}  # fmt: skip
_BAD_MIMES = frozenset(
    {
        "application/octet-stream",
        "application/zip",
        "application/pkcs8",
        "application/vnd.microsoft.portable-executable",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/x-msdownload",
    }
)
_NON_TEXT_KINDS = frozenset({"multipart", "model", "audio", "video", "font"})
_MIMES = mimetypes.MimeTypes()


class ExtractionError(Exception):
    """The collector refused the file; ``str(exc)`` is its reason, sent to the client as is."""


@dataclass(frozen=True)
class Extracted:
    text: str
    doc_author: str
    description: str
    doc_source: str


def sanitize_filename(name: str) -> str:
    """The server's clean-up of an uploaded file name: no path parts, no ``< > : " / \\ | ? *``."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r'[<>:"/\\|?*\u201c\u201d\u2018\u2019]', "", name).strip()


def extract_text(filename: str, data: bytes) -> Extracted:
    """Extract the text of an uploaded file, or raise :class:`ExtractionError` with the collector's reason."""
    ext = _extension(filename)
    if ext == ".pdf":
        result = _pdf(data)
    elif ext in _OFFICE_XML:
        text = _office_text(data, _OFFICE_XML[ext])
        result = Extracted(
            text, "no author found", "No description found.", f"{ext[1:]} file uploaded by the user."
        )
    elif ext in _NO_TEXT_HERE:
        raise ExtractionError(f"No text content found in {filename}.")
    elif ext in _TEXT_EXTS or _is_text(ext, data):
        result = Extracted(data.decode("utf-8", "replace"), "Unknown", "Unknown", _TEXT_SOURCE)
    else:
        raise ExtractionError(
            f"File extension {ext} not supported for parsing and cannot be assumed as text file type."
        )
    if not result.text:
        raise ExtractionError(f"No text content found in {filename}.")
    return result


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def _is_text(ext: str, data: bytes) -> bool:
    mime = _EXTRA_MIMES.get(ext) or _MIMES.guess_type("file" + ext, strict=False)[0]
    if mime is not None:
        return mime not in _BAD_MIMES and mime.split("/")[0] not in _NON_TEXT_KINDS
    head = data[:1024]
    if not head:
        return True
    control = sum(1 for b in head if b == 0 or (b < 32 and b not in (9, 10, 13)))
    return control / len(head) < 0.1


# --------------------------------------------------------------------------- PDF

_STREAM = re.compile(rb"stream\r?\n")
_INFO_FIELD = rb"/%s\s*\(((?:\\.|[^\\)])*)\)"


def _pdf(data: bytes) -> Extracted:
    pages: list[str] = []
    for content in _pdf_streams(data):
        if b"BT" in content and (b"Tj" in content or b"TJ" in content):
            text = _content_text(content).strip()
            if text:
                pages.append(text)
    creator = _pdf_info(data, b"Creator")
    title = _pdf_info(data, b"Title")
    return Extracted(
        "\n".join(pages),
        creator or "no author found",
        title or "No description found.",
        "pdf file uploaded by the user.",
    )


def _pdf_info(data: bytes, key: bytes) -> str | None:
    match = re.search(_INFO_FIELD % key, data)
    return _decode_pdf_string(_unescape_literal(match.group(1))) if match else None


def _pdf_streams(data: bytes) -> list[bytes]:
    streams: list[bytes] = []
    for match in _STREAM.finditer(data):
        start = match.start()
        if data[max(0, start - 3) : start] == b"end":
            continue
        end = data.find(b"endstream", match.end())
        if end < 0:
            continue
        raw = data[match.end() : end]
        header = data[max(0, data.rfind(b"obj", 0, start)) : start]
        if b"/FlateDecode" in header:
            try:
                raw = zlib.decompressobj().decompress(raw)  # trailing EOL bytes are ignored
            except zlib.error:
                continue
        else:
            raw = raw.rstrip(b"\r\n")
        streams.append(raw)
    return streams


_TOKEN = re.compile(rb"\(|<(?!<)|\[|\]|-?\d*\.?\d+|/[^\s/<>\[\]()]+|[A-Za-z'\"*]+|<<|>>|\S")


def _content_text(content: bytes) -> str:
    out: list[str] = []
    operands: list[object] = []
    array: list[object] | None = None
    pos = 0
    while pos < len(content):
        if content[pos : pos + 1].isspace():
            pos += 1
            continue
        match = _TOKEN.match(content, pos)
        if match is None:
            break
        token = match.group(0)
        pos = match.end()
        value: object
        if token == b"(":
            raw, pos = _literal_string(content, pos)
            value = _decode_pdf_string(raw)
        elif token == b"<":
            end = content.find(b">", pos)
            end = len(content) if end < 0 else end
            hexdigits = re.sub(rb"\s", b"", content[pos:end])
            value = _decode_pdf_string(bytes.fromhex((hexdigits + b"0" * (len(hexdigits) % 2)).decode()))
            pos = end + 1
        elif token == b"[":
            array = []
            continue
        elif token == b"]":
            value, array = array or [], None
            operands.append(value)
            continue
        elif re.fullmatch(rb"-?\d*\.?\d+", token):
            value = float(token)
        elif token[:1].isalpha() or token in (b"'", b'"', b"T*"):
            _apply_operator(token.decode("latin-1"), operands, out)
            operands = []
            continue
        else:
            value = token
        if array is not None:
            array.append(value)
        else:
            operands.append(value)
    return "".join(out)


def _apply_operator(op: str, operands: list[object], out: list[str]) -> None:
    def newline() -> None:
        if out and not out[-1].endswith("\n"):
            out.append("\n")

    if op == "Tj" and operands and isinstance(operands[-1], str):
        out.append(operands[-1])
    elif op == "TJ" and operands and isinstance(operands[-1], list):
        for item in operands[-1]:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, float) and item < -200 and out and not out[-1].endswith((" ", "\n")):
                out.append(" ")
    elif op in ("'", '"'):
        newline()
        if operands and isinstance(operands[-1], str):
            out.append(operands[-1])
    elif op in ("T*", "Tm"):
        newline()
    elif op in ("Td", "TD") and len(operands) >= 2 and isinstance(operands[-1], float):
        if operands[-1] != 0:
            newline()
        elif out and not out[-1].endswith((" ", "\n")):
            out.append(" ")
    elif op == "ET":
        newline()


def _literal_string(content: bytes, pos: int) -> tuple[bytes, int]:
    depth, start = 1, pos
    while pos < len(content):
        byte = content[pos : pos + 1]
        if byte == b"\\":
            pos += 2
            continue
        if byte == b"(":
            depth += 1
        elif byte == b")":
            depth -= 1
            if depth == 0:
                return _unescape_literal(content[start:pos]), pos + 1
        pos += 1
    return _unescape_literal(content[start:]), pos


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape_literal(raw: bytes) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        seq = match.group(1)
        if seq[:1].isdigit():
            return bytes([int(seq, 8) & 0xFF])
        if seq in (b"\n", b"\r\n", b"\r"):
            return b""
        return _ESCAPES.get(seq, seq)

    return re.sub(rb"\\([0-7]{1,3}|\r\n|.)", replace, raw, flags=re.DOTALL)


def _decode_pdf_string(raw: bytes) -> str:
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "replace")
    return raw.decode("latin-1")


# -------------------------------------------------------------------- Office XML


def _office_text(data: bytes, members: tuple[str, ...]) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return ""
    parts: list[str] = []
    with archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".xml") and n.startswith(members))
        for name in names:
            xml = archive.read(name).decode("utf-8", "replace")
            xml = re.sub(r"</(?:w:p|a:p|text:p|text:h)>", "\n", xml)
            xml = re.sub(r"<(?:w:tab|text:tab)\b[^>]*/>", "\t", xml)
            parts.append(html.unescape(re.sub(r"<[^>]+>", "", xml)))
    return "\n".join(p.strip() for p in parts if p.strip())
