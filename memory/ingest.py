"""Reading brand documents and images for brand memory: check, parse, chunk, analyse.

Text keeps its source (file, page, heading path) through structure-aware splitting: LangChain's markdown
and HTML header splitters, pypdf's pages, python-docx's heading styles; then a recursive character splitter
cuts long sections. Images get their size, dominant palette and perceptual hash. Text that reads like
instructions to a model is kept as data and flagged, never obeyed.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from briefcraft.errors import IngestError
from briefcraft.imaging import IMAGE_TYPES, dominant_colours

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "Chunk",
    "ImageInfo",
    "ParsedDocument",
    "Section",
    "allowed_types",
    "chunk_document",
    "citation",
    "injection_phrases",
    "passage_text",
    "read_document",
    "readable",
    "source_name",
]

#: Extension -> media type of the documents and images brand memory accepts.
DOCUMENT_TYPES = {
    ".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain", ".html": "text/html",
    ".htm": "text/html", ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
CHUNK_CHARS = 500
CHUNK_OVERLAP = 50

#: Phrases that address a model rather than a reader. A match is flagged in the ingest report and the
#: chunk is kept out of prompts; the text itself stays stored, as data.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}?\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bapprove (?:all|every(?:thing)?)\b|\bnew instructions?\b"
    r"|\bdeveloper mode\b|\bjailbreak\b"
    # addressed to a model: "Note for the AI system:", a chat role marker opening a line
    r"|\b(?:notes?|messages?|instructions?|reminders?) (?:for|to) (?:the |any |an? )?"
    r"(?:ai|assistant|model|llm|bot|agent)\b|^[ \t>*-]*assistant[ \t]*:"
    # getting past the human review
    r"|\b(?:skip|bypass|disable[ds]?|circumvent)\b[^.\n]{0,20}?\b(?:review|approval|sign-?off)\b"
    r"|\b(?:review|approval|sign-?off) (?:is |are )?(?:disabled|not required|unnecessary|waived)\b"
    r"|\bapproval (?:is |has been )?granted\b|\bmark (?:every|all|each)\b[^.\n]{0,20}?\bapproved\b"
    r"|\bexport (?:it |them |everything )?(?:now|immediately)\b"
    # tools, other brands, secrets, withdrawn rules
    r"|\b(?:call|invoke|use) the \w+ (?:tool|function|plugin)\b"
    r"|\b(?:every|any|all) other brands?\b|\b(?:rival|competitor|other) brand'?s? (?:internal|confidential|secret)\b"
    r"|\b(?:print|reveal|dump|leak|write|show)\b[^.\n]{0,30}?\b(?:api[ _-]?keys?|secrets?|passwords?|credentials)\b"
    r"|\b(?:rule|requirement|disclaimer|guideline)s? (?:is |are |has been |have been )(?:now )?"
    r"(?:withdrawn|revoked|lifted|cancel+ed|suspended|void)\b",
    re.IGNORECASE | re.MULTILINE,
)
_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (on one page of a PDF)."""

    heading: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A piece of a section small enough to embed, with its place in the document."""

    text: str
    index: int
    heading: tuple[str, ...]
    page: int | None
    injection: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageInfo:
    """What brand memory keeps about an image: size, dominant colours (hex, share) and perceptual hash."""

    width: int
    height: int
    palette: tuple[tuple[str, float], ...]
    phash: str


@dataclass(frozen=True)
class ParsedDocument:
    """A checked and parsed file, ready to chunk and store."""

    source: str
    kind: Literal["document", "image"]
    media_type: str
    sha256: str
    size: int
    data: bytes = field(repr=False)
    sections: tuple[Section, ...] = ()
    pages: int | None = None
    image: ImageInfo | None = None


def citation(source: str, page: int | None, heading: tuple[str, ...] | list[str]) -> str:
    """``guidelines.pdf p.2 > Words > Never say``: how a passage is cited everywhere."""
    parts = [source + (f" p.{page}" if page else ""), *heading]
    return " > ".join(parts)


def passage_text(text: str, cited: str) -> str:
    """A stored chunk's own words: ``text`` without the heading path ``chunk_document`` leads it with (``cited`` is
    the chunk's citation, which ends with that path)."""
    _, _, heading = cited.partition(" > ")
    return text.removeprefix(f"{heading}\n") if heading else text


def injection_phrases(text: str) -> tuple[str, ...]:
    """The phrases in ``text`` that read like instructions to a model."""
    return tuple(match.group(0) for match in _INJECTION.finditer(text))


def source_name(name: str) -> str:
    """Check a document's name as stored in memory: a plain file name, no folders, no traversal."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise IngestError(f"file name {name!r} is not allowed: give a plain file name without folders")
    if any(unicodedata.category(ch) == "Cc" for ch in name) or len(name) > 200:
        raise IngestError(f"file name {name!r} is not allowed: control characters or over 200 characters")
    return name


def allowed_types() -> str:
    """The extensions brand memory reads, for messages: '.docx, .htm, ...'."""
    return ", ".join(sorted({*DOCUMENT_TYPES, *IMAGE_TYPES}))


def readable(name: str) -> bool:
    """Whether brand memory reads a file of this name's type (by its extension)."""
    suffix = Path(name).suffix.lower()
    return suffix in DOCUMENT_TYPES or suffix in IMAGE_TYPES


def read_document(path: Path, *, max_bytes: int, name: str | None = None) -> ParsedDocument:
    """Check and parse one file; ``IngestError`` naming the file and what is allowed when it cannot be used.

    Args:
        path: the file to read.
        max_bytes: the largest size accepted.
        name: the name to store it under (an upload's original name); default: the file's name.
    """
    source = source_name(name if name is not None else path.name)
    suffix = Path(source).suffix.lower()
    if not readable(source):
        raise IngestError(f"{source}: unsupported type {suffix or '(no extension)'!r}; allowed: {allowed_types()}")
    if not path.is_file():
        raise IngestError(f"{source}: no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{source}: the file is empty")
    if size > max_bytes:
        raise IngestError(
            f"{source}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit (BRIEFCRAFT_MAX_UPLOAD_MB)"
        )
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if suffix in IMAGE_TYPES:
        return ParsedDocument(
            source=source, kind="image", media_type=f"image/{IMAGE_TYPES[suffix].lower()}", sha256=sha,
            size=size, data=data, image=_read_image(source, data, IMAGE_TYPES[suffix]),
        )
    media_type = DOCUMENT_TYPES[suffix]
    pages: int | None = None
    if media_type == "application/pdf":
        sections, pages = _read_pdf(source, data)
    elif suffix == ".docx":
        sections = _read_docx(source, data)
    else:
        text = _decode(source, data)
        sections = (
            _read_markdown(text) if media_type == "text/markdown"
            else _read_html(text) if media_type == "text/html"
            else [Section(heading=(), text=text)]
        )
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise IngestError(f"{source}: no text found (a scanned PDF needs OCR before it can be ingested)")
    return ParsedDocument(
        source=source, kind="document", media_type=media_type, sha256=sha, size=size, data=data,
        sections=tuple(sections), pages=pages,
    )


def _decode(source: str, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise IngestError(f"{source}: binary content behind a text extension; allowed: UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(f"{source}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error


def _read_markdown(text: str) -> list[Section]:
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    splitter = MarkdownHeaderTextSplitter(_HEADINGS, strip_headers=True)
    return [
        Section(heading=tuple(doc.metadata[key] for _, key in _HEADINGS if key in doc.metadata),
                text=doc.page_content)
        for doc in splitter.split_text(text)
    ]


def _read_html(text: str) -> list[Section]:
    from langchain_text_splitters import HTMLHeaderTextSplitter

    levels = [(f"h{n}", f"h{n}") for n in range(1, 5)]
    sections: list[Section] = []
    for doc in HTMLHeaderTextSplitter(levels).split_text(text):
        heading = tuple(doc.metadata[key] for _, key in levels if key in doc.metadata)
        if heading and doc.page_content.strip() == heading[-1]:
            continue  # the splitter emits each heading as its own document
        sections.append(Section(heading=heading, text=doc.page_content))
    return sections


def _read_pdf(source: str, data: bytes) -> tuple[list[Section], int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF-"):
        raise IngestError(f"{source}: not a PDF (no %PDF- header); allowed: {allowed_types()}")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError(f"{source}: the PDF is encrypted; remove the password and add it again")
        texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise IngestError(f"{source}: corrupt PDF ({error})") from error
    return [Section(heading=(), text=text, page=number) for number, text in enumerate(texts, 1)], len(texts)


def _read_docx(source: str, data: bytes) -> list[Section]:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "word/document.xml" not in archive.namelist():
                raise IngestError(f"{source}: a zip file but not a Word document; allowed: {allowed_types()}")
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise IngestError(f"{source}: not a Word (.docx) document ({error}); allowed: {allowed_types()}") from error
    sections: list[Section] = []
    heading: dict[int, str] = {}  # level -> text; the Title is level 0
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        level = _heading_level(style)
        if level is None:
            if paragraph.text.strip():
                lines.append(("- " if "List" in style else "") + paragraph.text.strip())
            continue
        if lines:
            sections.append(Section(heading=tuple(heading.values()), text="\n".join(lines)))
            lines = []
        heading = {n: text for n, text in heading.items() if n < level} | {level: paragraph.text.strip()}
    if lines:
        sections.append(Section(heading=tuple(heading.values()), text="\n".join(lines)))
    return sections


def _heading_level(style: str) -> int | None:
    if style == "Title":
        return 0
    match = re.fullmatch(r"Heading (\d)", style)
    return int(match.group(1)) if match else None


def _read_image(source: str, data: bytes, expected: str) -> ImageInfo:
    import imagehash
    from PIL import Image, UnidentifiedImageError

    allowed = f"allowed: {', '.join(sorted(IMAGE_TYPES))} whose content matches the extension"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise IngestError(
                    f"{source}: the content is {image.format or 'unknown'}, not {expected} as its extension says; "
                    f"{allowed}"
                )
            image.load()
            rgb = image.convert("RGB")
    except UnidentifiedImageError as error:  # its message holds a memory address: say what it means instead
        raise IngestError(f"{source}: not a readable image (the content is not {expected} as its extension says); "
                          f"{allowed}") from error
    except Image.DecompressionBombError as error:
        # Pillow's message names the image's pixels and the limit: "Image size (N pixels) exceeds limit of M pixels"
        raise IngestError(f"{source}: too many pixels to open safely: {str(error).split(',')[0]}") from error
    except OSError as error:
        raise IngestError(f"{source}: not a readable image ({error}); {allowed}") from error
    palette = tuple(dominant_colours(rgb))
    return ImageInfo(width=rgb.width, height=rgb.height, palette=palette, phash=str(imagehash.phash(rgb)))


def chunk_document(document: ParsedDocument) -> list[Chunk]:
    """Split a parsed document into chunks that keep their heading path and page."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    return [
        Chunk(text=text, index=index, heading=section.heading, page=section.page,
              injection=injection_phrases(text))
        for index, (section, text) in enumerate(_pieces(document.sections, splitter.split_text))
    ]


def _pieces(sections: tuple[Section, ...], split: Callable[[str], list[str]]) -> Iterator[tuple[Section, str]]:
    for section in sections:
        for piece in split(section.text):
            # The heading path leads each chunk so its embedding knows what the passage is about.
            yield section, (" > ".join(section.heading) + "\n" + piece) if section.heading else piece
