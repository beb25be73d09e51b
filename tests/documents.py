"""Reading the PDFs jamsos writes, as a person and a filing office would: each page's text, the
fonts its text uses (and whether they are embedded), and a PNG of a page."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c


def page_texts(path: Path) -> list[str]:
    """Each page's text with runs of whitespace as one space (table cells wrap lines)."""
    document = pdfium.PdfDocument(str(path))
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def text_fonts(path: Path) -> dict[str, bool]:
    """Base font name → embedded, for every font that text on any page is drawn with."""
    document = pdfium.PdfDocument(str(path))
    fonts: dict[str, bool] = {}
    try:
        for page in document:
            for obj in page.get_objects():
                if obj.type != pdfium_c.FPDF_PAGEOBJ_TEXT:
                    continue
                font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
                size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
                name = ctypes.create_string_buffer(size)
                pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
                fonts[name.value.decode()] = bool(pdfium_c.FPDFFont_GetIsEmbedded(font))
    finally:
        document.close()
    return fonts


def render_png(path: Path, png: Path, page: int = 0) -> tuple[int, int, int]:
    """Render one page to `png`; returns (width, height, dark pixels) of the greyscale image."""
    document = pdfium.PdfDocument(str(path))
    try:
        image = document[page].render(scale=1).to_pil().convert("L")
    finally:
        document.close()
    image.save(png)
    width, height = image.size
    return width, height, sum(image.histogram()[:128])
