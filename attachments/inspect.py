"""What a file is, judged by its bytes (never by its name alone), and the checks that refuse it before anything is
stored: wrong type, empty, a ZIP bomb inside an Office file, an encrypted PDF, an image too large to open safely.

Pure: bytes in, a verdict or ``Refused(code, params)`` out. The sentences are made where they are read
(``attachments.errors``), in the reader's language."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

DOCUMENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}
CODE_EXTENSIONS = {
    ".py", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c", ".h", ".cpp", ".hpp", ".cs",
    ".rb", ".php", ".swift", ".scala", ".sh", ".sql", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml",
    ".html", ".css", ".r", ".log",
}  # fmt: skip
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
OOXML_MAIN_PART = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml", ".pptx": "ppt/presentation.xml"}

# ZIP bombs: an Office file unpacks to at most this much, each member at most this many times its packed size.
MAX_UNPACKED_BYTES = 300 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 20_000
# Images: decoded, an image costs width x height x 4 bytes; beyond these it is refused before it is decoded.
MAX_IMAGE_SIDE = 12_000
MAX_IMAGE_PIXELS = 60_000_000


class Refused(Exception):  # noqa: N818 - a refusal, as chat.services.ChatRefused
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Verdict:
    kind: str  # "document" | "image"
    content_type: str
    extension: str


def extension_of(name: str) -> str:
    return PurePath(name).suffix.lower()


def judge(name: str, declared_type: str, data: bytes) -> Verdict:
    """The file's kind and type from its name and bytes; ``Refused`` when they disagree or it is unsafe."""
    extension = extension_of(name)
    if not data:
        raise Refused("empty")
    if extension in IMAGE_TYPES:
        content_type = _image_type(data)
        if content_type != IMAGE_TYPES[extension]:
            raise Refused("wrong_type", extension=extension)
        _check_image(data)
        return Verdict("image", content_type, extension)
    if extension == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise Refused("wrong_type", extension=extension)
        _check_pdf(data)
        return Verdict("document", DOCUMENT_TYPES[extension], extension)
    if extension in OOXML_MAIN_PART:
        _check_ooxml(data, OOXML_MAIN_PART[extension], extension)
        return Verdict("document", DOCUMENT_TYPES[extension], extension)
    if extension in DOCUMENT_TYPES or extension in CODE_EXTENSIONS:
        if _looks_binary(data):
            raise Refused("wrong_type", extension=extension)
        return Verdict("document", DOCUMENT_TYPES.get(extension, "text/plain"), extension)
    raise Refused("unsupported", extension=extension or declared_type or "—")


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_image(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise Refused("unreadable") from None
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise Refused("image_too_large", width=width, height=height, max_side=MAX_IMAGE_SIDE)


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and reader.decrypt("") == 0:  # an owner password alone (no user password) still opens
            raise Refused("encrypted")
    except Refused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise Refused("unreadable") from None


def _check_ooxml(data: bytes, main_part: str, extension: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Refused("wrong_type", extension=extension) from None
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or main_part not in names:
        raise Refused("wrong_type", extension=extension)
    if len(members) > MAX_MEMBERS:
        raise Refused("zip_bomb")
    unpacked = 0
    for member in members:
        unpacked += member.file_size
        if member.file_size > 1024 * 1024 and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise Refused("zip_bomb")
    if unpacked > MAX_UNPACKED_BYTES:
        raise Refused("zip_bomb")


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    return b"\x00" in sample


def decode_text(data: bytes) -> str:
    """Text files in UTF-8 (with or without BOM), else Japanese Windows text (CP932, as Excel saves CSV)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")
