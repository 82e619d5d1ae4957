"""Test helpers: real documents (PDF via pypdf, Word via python-docx, images via Pillow) and a free local port."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import docx
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

GUIDELINES = """# Acme guidelines

## Voice
- Bold — we say it straight
- Kind

## Words
Never say: cheap, "guilt-free"
Avoid: hack

## Always include
- "T&Cs apply"

## Colours
Primary #112233, accent #ABCDEF.

## Imagery
Natural light, real people, no studio backgrounds.
"""


def make_pdf(pages: list[str], *, password: str | None = None) -> bytes:
    """A PDF whose pages hold ``pages`` as Helvetica text lines."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})
        })
        escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.splitlines()]
        content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in escaped) + " ET"
        stream = DecodedStreamObject()
        stream.set_data(content.encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(path: Path) -> Path:
    """A Word file with a heading structure, bullets and an inline rule."""
    document = docx.Document()
    document.add_heading("Acme style guide", 0)
    document.add_heading("Voice", 1)
    document.add_paragraph("Bold", style="List Bullet")
    document.add_heading("Words", 1)
    document.add_paragraph("Never say: cheap")
    document.save(str(path))
    return path


def make_image(path: Path, colours: tuple[tuple[int, int, int], tuple[int, int, int]], size: tuple[int, int] = (256, 128)
               ) -> Path:
    """An image: left three quarters in the first colour, the rest in the second."""
    image = Image.new("RGB", size, colours[0])
    ImageDraw.Draw(image).rectangle([size[0] * 3 // 4, 0, size[0], size[1]], fill=colours[1])
    image.save(path)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for the servers tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
