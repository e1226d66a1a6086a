"""Why a file was refused, in the reader's language: the code and its parameters are stored, the sentence is made
when it is shown (as chat.errors does for answers)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


def _mb(value: Any) -> str:
    return f"{int(value) / (1024 * 1024):,.0f} MB" if isinstance(value, int) else str(value)


def refusal_text(code: str, params: dict[str, Any]) -> str:
    p = params
    texts = {
        "empty": lambda: gettext("The file is empty (0 bytes)."),
        "unsupported": lambda: (
            gettext(
                "Files of this type (%(extension)s) cannot be attached. Attach PDF, Word, Excel, CSV, PowerPoint, "
                "text, Markdown or source code, or a PNG, JPEG, GIF or WebP image."
            )
            % {"extension": p.get("extension", "")}
        ),
        "wrong_type": lambda: (
            gettext(
                "The file's content does not match its name (%(extension)s). Save it again in that format and "
                "attach it."
            )
            % {"extension": p.get("extension", "")}
        ),
        "zip_bomb": lambda: gettext(
            "The file unpacks to far more data than it holds (a compressed bomb) and was refused."
        ),
        "encrypted": lambda: gettext("The PDF is protected with a password. Remove the password and attach it again."),
        "unreadable": lambda: gettext("The file could not be read. It may be damaged."),
        "image_too_large": lambda: (
            gettext("The image is %(width)s by %(height)s pixels; at most %(max)s pixels on a side can be attached.")
            % {"width": p.get("width"), "height": p.get("height"), "max": f"{p.get('max_side', 0):,}"}
        ),
        "too_much_text": lambda: (
            gettext(
                "The file holds more text (%(chars)s characters) than any model can read at once. Split it, or attach "
                "the part you need."
            )
            % {"chars": f"{p.get('chars', 0):,}"}
        ),
        "too_large": lambda: (
            gettext("The file is %(size)s; your company allows %(max)s per file.")
            % {"size": _mb(p.get("size")), "max": _mb(p.get("max"))}
        ),
        "too_many_files": lambda: (
            gettext("At most %(max)s files can be attached to one message.") % {"max": p.get("max")}
        ),
        "quota": lambda: (
            gettext(
                "Your attachments take %(used)s of the %(max)s your company allows. Delete conversations with "
                "files you no longer need."
            )
            % {"used": _mb(p.get("used")), "max": _mb(p.get("max"))}
        ),
        "name": lambda: gettext("The file needs a name of at most 255 characters."),
        "no_file": lambda: gettext("Choose a file to attach."),
        "not_found": lambda: gettext("An attached file is no longer there. Remove it and attach it again."),
        "not_ready": lambda: (
            gettext("%(name)s is still being read. Send when its chip says it is ready.") % {"name": p.get("name", "")}
        ),
        "failed": lambda: (
            gettext("%(name)s could not be read. Remove it before sending.") % {"name": p.get("name", "")}
        ),
        "sent": lambda: gettext("This file was sent with a message; it is deleted with its conversation."),
    }
    make = texts.get(code)
    return make() if make is not None else gettext("The file could not be attached.")
