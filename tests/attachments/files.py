"""Files of every kind the chat accepts (and some it must refuse), made here so nothing binary is checked in. The
documents carry Japanese text, to check that it survives extraction."""

from __future__ import annotations

import io
import zipfile

JAPANESE = "会議の議事録、予算案は承認されました"


def pdf_with_text(text: str = JAPANESE) -> bytes:
    """A one-page PDF whose text is ``text``: a Type0 font with Identity-H and a ToUnicode map (no font embedded;
    extraction reads the map, as it does in PDFs from Word or a scanner's OCR)."""
    cids = {ch: i + 1 for i, ch in enumerate(dict.fromkeys(text))}
    shown = "".join(f"{cids[ch]:04X}" for ch in text)
    cmap_lines = "\n".join(f"<{cid:04X}> <{ord(ch):04X}>" for ch, cid in cids.items())
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(cids)} beginbfchar\n{cmap_lines}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    ).encode()
    content = f"BT /F1 12 Tf 72 720 Td <{shown}> Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor 8 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
        b"<< /Type /FontDescriptor /FontName /HeiseiKakuGo-W5 /Flags 4 /FontBBox [0 0 1000 1000] /ItalicAngle 0 "
        b"/Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_encrypted() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(text: str = JAPANESE) -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "項目"
    table.rows[0].cells[1].text = "金額"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(text: str = JAPANESE) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "予算"
    sheet.append(["項目", "金額"])
    sheet.append([text, 1200])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx(text: str = JAPANESE) -> bytes:
    from pptx import Presentation

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "四半期報告"
    slide.placeholders[1].text = text
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def csv_cp932(text: str = JAPANESE) -> bytes:
    return f"項目,内容\r\n議題,{text}\r\n".encode("cp932")


def png(width: int = 3000, height: int = 1000, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A real .docx with one more member: 400 MB of zeros packed into a few hundred KB."""
    return _bomb(docx())


def zip_bomb_xlsx() -> bytes:
    return _bomb(xlsx())


def _bomb(office_file: bytes) -> bytes:
    base = zipfile.ZipFile(io.BytesIO(office_file))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        for item in base.infolist():
            bomb.writestr(item, base.read(item.filename))
        with bomb.open("word/media/bomb.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(400):
                member.write(block)
    return out.getvalue()
