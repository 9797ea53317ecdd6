"""The benchmark's inputs, generated deterministically: small text files, and a mixed corpus of real
PDF, DOCX, Markdown, CSV and JSON files from 10 KB to 5 MB (standard library only).

The same seed gives the same bytes on every run and machine. A PDF has real pages (a catalog, a page
tree, Helvetica text in uncompressed content streams, a cross-reference table); a DOCX is a real
WordprocessingML package (content types, relationships, ``word/document.xml``). Their larger sizes
come mostly from a picture, as in real documents: a grey-scale image XObject in the PDF, a JPEG-like
media part in the DOCX (bytes from 0x80–0xFF, so no text extractor finds words in it). Markdown,
CSV and JSON are all text.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

TOPICS = [
    *("zorblax", "quasar", "nebula", "pulsar", "comet", "aurora", "meteor", "eclipse", "parallax"),
    *("redshift", "spectrograph", "magnetar", "asteroid", "corona", "photon", "neutrino", "galaxy"),
    *("cluster", "binary", "supernova", "telescope", "mirror", "eyepiece", "observatory", "dome"),
    *("mount", "tracking", "guider", "filter", "sensor"),
]
PLACES = ["the ridge", "the valley", "the summit", "the harbour", "the desert", "the plateau", "the island"]
VERBS = ["orbits", "outshines", "eclipses", "calibrates", "tracks", "focuses", "records", "outlasts"]
KIB = 1024
#: the mixed corpus: every kind at every size (bytes on disk, about)
MIXED_KINDS = ("pdf", "docx", "md", "csv", "json")
MIXED_SIZES = (10 * KIB, 100 * KIB, 1024 * KIB, 5 * 1024 * KIB)
#: at most this much text in a PDF or DOCX; the rest of its size is a picture
DOCUMENT_TEXT = 160 * KIB


def sentence(rng: random.Random) -> str:
    a, b = rng.sample(TOPICS, 2)
    return f"The {a} {rng.choice(VERBS)} the {b} near {rng.choice(PLACES)}."


def prose(size: int, rng: random.Random) -> list[str]:
    """Sentences adding up to about ``size`` characters."""
    out, length = [], 0
    while length < size:
        out.append(sentence(rng))
        length += len(out[-1]) + 1
    return out


def small_text(index: int, rng: random.Random) -> bytes:
    """A small text file (~1 KiB): a title line and twelve sentences."""
    lines = [f"Field note {index:04d}.", *(sentence(rng) for _ in range(12))]
    return (" ".join(lines) + "\n").encode()


def picture(size: int, rng: random.Random) -> bytes:
    return bytes(rng.randrange(0x80, 0x100) for _ in range(min(size, 4096))) * (size // 4096 + 1)


# ------------------------------------------------------------------------------------ PDF


def pdf(size: int, rng: random.Random, title: str) -> bytes:
    text_budget = min(size * 3 // 4, DOCUMENT_TEXT)
    lines = [f"{title}."]
    for words in prose(text_budget, rng):
        lines.append(words)
    pages = [lines[i : i + 48] for i in range(0, len(lines), 48)]
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = add(f"<< /Title ({title}) /Creator (bench corpus) >>".encode())
    kids = []
    image_id = None
    used = sum(len(line) for line in lines) + 600 * len(pages)
    if size - used > 4096:
        width = 1024
        height = max(1, (size - used) // width)
        data = picture(width * height, rng)[: width * height]
        header = (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 8 /Length {len(data)} >>\nstream\n"
        ).encode()
        image_id = add(header + data + b"\nendstream")
    for number, page in enumerate(pages):
        ops = ["BT /F1 10 Tf 12 TL 40 800 Td"] + [f"({line}) Tj T*" for line in page] + ["ET"]
        if image_id is not None and number == 0:
            ops.append("q 200 0 0 150 300 40 cm /Im1 Do Q")
        content = "\n".join(ops).encode()
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        xobject = f" /XObject << /Im1 {image_id} 0 R >>" if image_id is not None and number == 0 else ""
        kids.append(
            add(
                f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 595 842] "
                f"/Resources << /Font << /F1 {font} 0 R >>{xobject} >> /Contents {stream} 0 R >>".encode()
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    refs = " ".join(f"{kid} 0 R" for kid in kids)
    objects[tree - 1] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


# ----------------------------------------------------------------------------------- DOCX

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="jpeg" ContentType="image/jpeg"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def docx(size: int, rng: random.Random, title: str) -> bytes:
    sentences = prose(min(size * 3 // 4, DOCUMENT_TEXT), rng)
    paragraphs = [title] + [" ".join(sentences[i : i + 6]) for i in range(0, len(sentences), 6)]
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    rest = size - out.tell() - 200
    if rest > 4096:
        with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as archive:
            archive.writestr("word/media/image1.jpeg", picture(rest, rng)[:rest])
    return out.getvalue()


# ------------------------------------------------------------------------ Markdown, CSV, JSON


def markdown(size: int, rng: random.Random, title: str) -> bytes:
    parts, length, section = [f"# {title}\n"], 0, 0
    while length < size:
        section += 1
        block = f"\n## Section {section}\n\n" + " ".join(prose(600, rng)) + "\n"
        parts.append(block)
        length += len(block)
    return "".join(parts).encode()[:size]


def csv_file(size: int, rng: random.Random, title: str) -> bytes:
    rows, length, number = ["id,topic,place,observation,value"], 0, 0
    while length < size:
        number += 1
        row = f'{number},{rng.choice(TOPICS)},{rng.choice(PLACES)},"{sentence(rng)}",{rng.randrange(10**6)}'
        rows.append(row)
        length += len(row) + 1
    return ("\n".join(rows) + "\n").encode()


def json_file(size: int, rng: random.Random, title: str) -> bytes:
    records, length, number = [], 0, 0
    while length < size:
        number += 1
        record = {"id": number, "topic": rng.choice(TOPICS), "note": sentence(rng), "value": rng.random()}
        records.append(json.dumps(record))
        length += len(records[-1]) + 2
    return ("[\n" + ",\n".join(records) + "\n]\n").encode()


MAKERS = {"pdf": pdf, "docx": docx, "md": markdown, "csv": csv_file, "json": json_file}


def write_small(folder: Path, count: int, seed: int = 7) -> list[Path]:
    """``count`` small text files ``note-0000.txt``… in ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"note-{index:04d}.txt"
        path.write_bytes(small_text(index, rng))
        paths.append(path)
    return paths


def write_mixed(folder: Path, seed: int = 7) -> list[Path]:
    """The mixed corpus in ``folder``: every kind of :data:`MIXED_KINDS` at every size of
    :data:`MIXED_SIZES` (``report-pdf-10k.pdf``, …)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in MIXED_KINDS:
        for size in MIXED_SIZES:
            label = f"{size // KIB}k"
            rng = random.Random(f"{seed}-{kind}-{size}")
            title = f"Report {kind} {label}"
            path = folder / f"report-{kind}-{label}.{kind}"
            path.write_bytes(MAKERS[kind](size, rng, title))
            paths.append(path)
    return paths
