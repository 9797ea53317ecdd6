"""Chunking, a deterministic lexical embedding and vector search, shaped like the server's LanceDB path.

* Chunks: the server's recursive character splitter (1000 characters, 20 overlap, separators
  ``\\n\\n``, ``\\n``, space, character), each chunk prefixed with the ``<document_metadata>`` header
  naming the source document and its published date, exactly as the recorded sources show.
* Embedding: a hashed bag of words (lower-cased ``\\w+`` tokens, weight ``1 + ln(tf)``, halved for
  English stop words) in 1023 buckets, unit length, like the stand-in embedder the recorded exchanges
  were made with. No model, no randomness: the same text always gets the same vector. A text without
  words gets a unit vector in the 1024th dimension, which no word uses.
* Search: cosine distance (LanceDB's ``_distance``), nearest ``topN`` first, then the similarity
  threshold on ``score`` = the server's ``distanceToSimilarity(_distance)``. That function maps a
  distance ``>= 1`` to similarity 1, so a chunk sharing no word with the query (distance exactly 1)
  scores 1 and passes any threshold, as the recorded chats show (``"_distance": 1, "score": 1``). The
  weights are never negative, so distances above 1 (the recorded embedder gave up to 1.1) do not
  occur here; they would score 1 all the same.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHUNK_OVERLAP",
    "CHUNK_SIZE",
    "DIMENSIONS",
    "Hit",
    "Vector",
    "chunk_header",
    "cosine_distance",
    "dense",
    "distance_to_similarity",
    "document_chunks",
    "embed",
    "search",
    "split_text",
]

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 20
DIMENSIONS = 1024
_BUCKETS = DIMENSIONS - 1
_STOP_WEIGHT = 0.5  # function words count, a little (texts sharing only "the" and "of" stay below 0.25)
_SEPARATORS = ("\n\n", "\n", " ", "")
_WORD = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves
    """.split()  # noqa: SIM905
)

Embedding = dict[int, float]  # sparse: bucket -> weight; bucket _BUCKETS only for a text without words


def chunk_header(title: str, published: str) -> str:
    """The metadata header the server puts in front of every chunk it embeds."""
    return f"<document_metadata>\nsourceDocument: {title}\npublished: {published}\n</document_metadata>\n\n"


def split_text(text: str, chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split like LangChain's ``RecursiveCharacterTextSplitter`` (chunks are trimmed, empty ones dropped)."""
    return _split(text, _SEPARATORS, chunk_size, overlap)


def _split(text: str, separators: Sequence[str], size: int, overlap: int) -> list[str]:
    separator = separators[-1]
    rest: tuple[str, ...] = ()
    for i, candidate in enumerate(separators):
        if candidate == "":
            separator = candidate
            break
        if candidate in text:
            separator, rest = candidate, tuple(separators[i + 1 :])
            break
    pieces = text.split(separator) if separator else list(text)
    chunks: list[str] = []
    fitting: list[str] = []
    for piece in pieces:
        if len(piece) < size:
            fitting.append(piece)
            continue
        if fitting:
            chunks.extend(_merge(fitting, separator, size, overlap))
            fitting = []
        chunks.extend(_split(piece, rest, size, overlap) if rest else [piece])
    if fitting:
        chunks.extend(_merge(fitting, separator, size, overlap))
    return chunks


def _merge(pieces: Iterable[str], separator: str, size: int, overlap: int) -> list[str]:
    docs: list[str] = []
    current: list[str] = []
    total = 0
    sep_len = len(separator)
    for piece in pieces:
        length = len(piece)
        if total + length + (sep_len if current else 0) > size and current:
            joined = separator.join(current).strip()
            if joined:
                docs.append(joined)
            while total > overlap or (total + length + (sep_len if current else 0) > size and total > 0):
                total -= len(current[0]) + (sep_len if len(current) > 1 else 0)
                current.pop(0)
        current.append(piece)
        total += length + (sep_len if len(current) > 1 else 0)
    joined = separator.join(current).strip()
    if joined:
        docs.append(joined)
    return docs


def document_chunks(text: str, title: str, published: str) -> list[str]:
    """The texts the server stores for a document: header + chunk, for every chunk."""
    header = chunk_header(title, published)
    return [header + chunk for chunk in split_text(text)]


def _bucket(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big") % _BUCKETS


def embed(text: str) -> Embedding:
    """The lexical embedding of ``text`` (sparse, unit length)."""
    counts = Counter(_WORD.findall(text.lower()))
    weights: dict[int, float] = {}
    for token, count in counts.items():
        bucket = _bucket(token)
        weight = (1.0 + math.log(count)) * (_STOP_WEIGHT if token in _STOP_WORDS else 1.0)
        weights[bucket] = weights.get(bucket, 0.0) + weight
    norm = math.sqrt(sum(w * w for w in weights.values()))
    if not norm:
        return {_BUCKETS: 1.0}
    return {bucket: w / norm for bucket, w in weights.items()}


def dense(vector: Embedding) -> list[float]:
    """The embedding as the list of :data:`DIMENSIONS` floats the OpenAI-compatible route returns."""
    out = [0.0] * DIMENSIONS
    for bucket, weight in vector.items():
        out[bucket] = weight
    return out


def cosine_distance(a: Embedding, b: Embedding) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(k, 0.0) for k, w in a.items())
    return max(0.0, 1.0 - dot)


def distance_to_similarity(distance: float) -> float:
    """The server's LanceDB ``distanceToSimilarity``: a distance ``>= 1`` counts as similarity 1."""
    if distance >= 1.0:
        return 1.0
    if distance < 0:
        return 1.0 - abs(distance)
    return 1.0 - distance


@dataclass
class Vector:
    """One stored chunk: vector id, chunk text, the document metadata it carries, its embedding."""

    id: str
    text: str
    metadata: dict[str, Any]
    embedding: Embedding = field(repr=False)
    docpath: str = ""
    row_doc_id: str = ""


@dataclass(frozen=True)
class Hit:
    vector: Vector
    distance: float
    score: float


def search(
    vectors: Sequence[Vector],
    query: str,
    *,
    top_n: int,
    threshold: float,
    exclude: frozenset[str] = frozenset(),
) -> list[Hit]:
    """The ``top_n`` nearest chunks whose score reaches ``threshold``, nearest first.

    ``exclude`` holds source identifiers (``title:<title>-timestamp:<published>``) of pinned documents,
    which the server leaves out of the search because their whole text is already in the context.
    """
    if not vectors:
        return []
    query_vector = embed(query)
    scored = sorted(
        ((cosine_distance(query_vector, v.embedding), n, v) for n, v in enumerate(vectors)),
        key=lambda item: (item[0], item[1]),
    )
    hits: list[Hit] = []
    for distance, _, vector in scored[:top_n]:
        if source_identifier(vector.metadata) in exclude:
            continue
        score = distance_to_similarity(distance)
        if score < threshold:
            continue
        hits.append(Hit(vector, distance, score))
    return hits


def source_identifier(metadata: dict[str, Any]) -> str:
    """The server's ``sourceIdentifier``: how pinned documents are told apart from search results."""
    return f"title:{metadata.get('title')}-timestamp:{metadata.get('published')}"
