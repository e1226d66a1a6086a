"""Images for vision models: decoded once, downscaled server-side to what the models take (the long side at most
2,048 px and the short side at most 768 px, as Azure OpenAI and OpenAI scale high-detail images), metadata (EXIF,
GPS) dropped, saved as PNG (transparency) or JPEG."""

from __future__ import annotations

import io
from dataclasses import dataclass

from attachments.inspect import MAX_IMAGE_PIXELS, Refused

MAX_LONG_SIDE = 2048
MAX_SHORT_SIDE = 768


@dataclass(frozen=True)
class Prepared:
    data: bytes
    content_type: str
    width: int
    height: int


def prepare_image(data: bytes) -> Prepared:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow refuses a decompression bomb past this
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)  # the first frame of an animation
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise Refused("unreadable") from None
    width, height = image.size
    scale = min(1.0, MAX_LONG_SIDE / max(width, height), MAX_SHORT_SIDE / max(min(width, height), 1))
    if scale < 1.0:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85)
        content_type = "image/jpeg"
    return Prepared(out.getvalue(), content_type, image.size[0], image.size[1])
