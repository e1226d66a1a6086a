"""Text out of documents, for the model to read (docs/attachments.md). Japanese text is kept as written.

Each extractor takes the file's bytes and ``progress(percent)`` and returns the text; a file that passed
``attachments.inspect`` can still fail here (a damaged PDF page), which raises ``Refused("unreadable")``."""

from __future__ import annotations

import io
from collections.abc import Callable

from attachments.inspect import Refused, decode_text

Progress = Callable[[int], None]
MAX_TEXT_CHARS = 3_000_000  # beyond this no model window could hold it: refused, not cut
MAX_SHEET_ROWS = 50_000  # per sheet; a larger sheet is refused for the same reason


def extract_text(extension: str, data: bytes, progress: Progress) -> str:
    extractor = {".pdf": _pdf, ".docx": _docx, ".xlsx": _xlsx, ".pptx": _pptx}.get(extension, _plain)
    try:
        text = extractor(data, progress)
    except Refused:
        raise
    except Exception:  # any parser's failure on a malformed file is the same answer for the person
        raise Refused("unreadable") from None
    if len(text) > MAX_TEXT_CHARS:
        raise Refused("too_much_text", chars=len(text), max=MAX_TEXT_CHARS)
    progress(100)
    return text.strip()


def _plain(data: bytes, progress: Progress) -> str:
    return decode_text(data)


def _pdf(data: bytes, progress: Progress) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    pages = []
    total = max(len(reader.pages), 1)
    for number, page in enumerate(reader.pages, start=1):
        pages.append(page.extract_text() or "")
        progress(number * 99 // total)
    return "\n\n".join(pages)


def _docx(data: bytes, progress: Progress) -> str:
    from docx import Document

    document = Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    progress(60)
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _xlsx(data: bytes, progress: Progress) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts = []
    sheets = book.worksheets
    for number, sheet in enumerate(sheets, start=1):
        parts.append(f"## {sheet.title}")
        for count, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if count > MAX_SHEET_ROWS:
                raise Refused("too_much_text", chars=MAX_TEXT_CHARS + 1, max=MAX_TEXT_CHARS)
            if any(value is not None for value in row):
                parts.append("\t".join("" if value is None else str(value) for value in row))
        progress(number * 99 // max(len(sheets), 1))
    book.close()
    return "\n".join(parts)


def _pptx(data: bytes, progress: Progress) -> str:
    from pptx import Presentation

    presentation = Presentation(io.BytesIO(data))
    parts = []
    slides = list(presentation.slides)
    for number, slide in enumerate(slides, start=1):
        parts.append(f"## {number}")
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
        progress(number * 99 // max(len(slides), 1))
    return "\n".join(parts)
