"""What the collector process does with an upload, a raw text or a link: the stored document and its name.

* file: ``custom-documents/<slugify(name)>-<uuid>.json``; title, author, description, source and chunk
  source from ``metadata`` when given (``published`` is the upload time);
* raw text: ``custom-documents/raw-<stripAndSlug(title)>-<uuid>.json``, title rewritten to
  ``<slug>.txt``, defaults "no author specified" etc., ``published`` from epoch milliseconds if given;
* link: ``custom-documents/url-<slugify(host + path)>-<uuid>.json``. There is no network here: only links
  to loopback servers (``127.0.0.1``, ``localhost``, ``::1``) are fetched; anything else is answered as the
  server answers a link it cannot fetch.

``wordCount`` is ``text.split(" ").length`` as in the collector (newlines do not separate words).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp

from anythingllm_bridge.testing.extract import ExtractionError, extract_text
from anythingllm_bridge.testing.slugify import slugify, strip_and_slug
from anythingllm_bridge.testing.state import DEFAULT_FOLDER, Store, StoredDocument, locale_string, now
from anythingllm_bridge.testing.tokens import estimate_tokens

__all__ = [
    "HOTDIR_URL",
    "CollectorError",
    "lenient_json",
    "normalize_link",
    "process_file",
    "process_link",
    "process_raw_text",
]

HOTDIR_URL = "file:///app/collector/hotdir/"
_FILE_KEYS = ("title", "docAuthor", "description", "docSource", "chunkSource")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class CollectorError(Exception):
    """The collector refused; ``str(exc)`` is the reason the server returns."""

    def __init__(self, reason: str, *, with_documents: bool = True) -> None:
        super().__init__(reason)
        self.with_documents = with_documents


def lenient_json(value: Any) -> dict[str, Any]:
    """``metadata`` as the server reads it: an object, or a string parsed leniently (else ``{}``)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return {}
    for candidate in (value, value[value.find("{") : value.rfind("}") + 1]):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return {}


def _document(store: Store, meta: dict[str, Any], text: str, stem: str) -> StoredDocument:
    document = StoredDocument(
        meta={**meta, "wordCount": text.count(" ") + 1},  # `text.split(" ").length`
        page_content=text,
        token_count=estimate_tokens(text),
        folder=DEFAULT_FOLDER,
        filename=f"{stem}-{meta['id']}.json",
    )
    store.add_document(document)
    return document


def process_file(store: Store, filename: str, data: bytes, metadata: dict[str, Any]) -> StoredDocument:
    """Parse an uploaded file into a stored document (raises :class:`CollectorError`)."""
    if filename == "__HOTDIR__.md":
        raise CollectorError("Filename is a reserved filename and cannot be processed.")
    try:
        extracted = extract_text(filename, data)
    except ExtractionError as exc:
        raise CollectorError(str(exc)) from None
    given = {key: metadata[key] for key in _FILE_KEYS if metadata.get(key)}
    meta = {
        "id": store.new_uuid(),
        "url": HOTDIR_URL + filename,
        "title": given.get("title", filename),
        "docAuthor": given.get("docAuthor", extracted.doc_author),
        "description": given.get("description", extracted.description),
        "docSource": given.get("docSource", extracted.doc_source),
        "chunkSource": given.get("chunkSource", ""),
        "published": locale_string(now()),
    }
    return _document(store, meta, extracted.text, slugify(filename))


def _published(value: Any) -> str:
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return locale_string(now())
    try:
        return locale_string(datetime.fromtimestamp(millis / 1000, UTC))
    except (OverflowError, OSError, ValueError):
        return locale_string(now())


def process_raw_text(store: Store, text: str, metadata: dict[str, Any]) -> StoredDocument:
    """Store a raw text as the collector does (``metadata["title"]`` must be set by the caller)."""
    slug = strip_and_slug(str(metadata["title"]))

    def text_or(key: str, default: str) -> str:
        value = metadata.get(key)
        return value if isinstance(value, str) and value else default

    url = metadata.get("url")
    is_web = isinstance(url, str) and url.lower().startswith(("http://", "https://"))
    meta = {
        "id": store.new_uuid(),
        "url": f"web://{url.lower()}.website" if is_web and isinstance(url, str) else f"file://{slug}.txt",
        "title": f"{slug}.txt",
        "docAuthor": text_or("docAuthor", "no author specified"),
        "description": text_or("description", "no description found"),
        "docSource": text_or("docSource", "no source set"),
        "chunkSource": text_or("chunkSource", f"{slug}.txt"),
        "published": _published(metadata.get("published")),
    }
    return _document(store, meta, text, f"raw-{slug}")


def normalize_link(link: Any) -> str | None:
    """The collector's link check: ``https://`` added when there is no scheme, trailing ``/`` removed, only
    http(s), no bare private IPv4 hosts (``127.0.0.1`` and ``0.0.0.0`` allowed). ``None``: not valid."""
    if not isinstance(link, str) or not link.strip():
        return None
    text = link.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if (
        isinstance(address, ipaddress.IPv4Address)
        and host not in ("127.0.0.1", "0.0.0.0")
        and host.split(".")[0] in ("10", "127", "169", "172", "192")
    ):
        return None
    return text.rstrip("/")


def _html_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr)>", "\n", markup)
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


async def _fetch(link: str, headers: dict[str, str]) -> tuple[str, bytes] | None:
    host = urlsplit(link).hostname or ""
    if host not in _LOOPBACK:
        return None  # no network from the emulator
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(link, headers=headers) as response,
        ):
            if response.status >= 400:
                return None
            return response.content_type, await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def process_link(
    store: Store, link: Any, headers: dict[str, Any], metadata: dict[str, Any]
) -> StoredDocument:
    """Scrape a link into a stored document (raises :class:`CollectorError`)."""
    normalized = normalize_link(link)
    if normalized is None:
        raise CollectorError("Not a valid URL.", with_documents=False)
    sent = {k: v for k, v in headers.items() if isinstance(v, str) and v} if isinstance(headers, dict) else {}
    fetched = await _fetch(normalized, sent)
    text = ""
    if fetched is not None:
        content_type, data = fetched
        if content_type == "text/html":
            text = _html_text(data.decode("utf-8", "replace"))
        else:
            name = unquote(urlsplit(normalized).path.rsplit("/", 1)[-1]) or "index.txt"
            try:
                text = extract_text(name if "." in name else name + ".txt", data).text
            except ExtractionError:
                text = ""
    if not text.strip():
        raise CollectorError(f"No URL content found at {normalized}.")
    parts = urlsplit(normalized)
    stem = slugify(f"{parts.hostname}{unquote(parts.path).replace('/', '_')}")

    def given(key: str, default: str) -> Any:
        return metadata.get(key) or default

    meta = {
        "id": store.new_uuid(),
        "url": f"file://{stem}.html",
        "title": given("title", f"{stem}.html"),
        "docAuthor": given("docAuthor", "no author found"),
        "description": given("description", "No description found."),
        "docSource": given("docSource", "URL link uploaded by the user."),
        "chunkSource": f"link://{normalized}",
        "published": locale_string(now()),
    }
    return _document(store, meta, text, f"url-{stem}")
