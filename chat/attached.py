"""Files in a turn (docs/attachments.md): which of the person's files go with a question, and what the model reads of
them. A document's text goes into the question, each file marked by name; an image goes as an image part, to
models with the ``vision`` flag only. The audit trail records the files by name, type, size and hash, never their
contents, so exports stay small."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext

from attachments.errors import refusal_text
from attachments.inspect import Refused
from attachments.models import Attachment
from attachments.selectors import attachments_of_messages
from attachments.services import attachment_image, attachment_text, attachments_for_question
from chat.models import Message
from llm.models import ModelVersion
from tenants.models import Tenant, User


class AttachmentRefused(Exception):  # noqa: N818 - turned into ChatRefused by the caller
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def attachments_choose(
    *, tenant: Tenant, user: User, attachment_ids: object, model_version: ModelVersion
) -> list[Attachment]:
    """The person's ready, unsent files for a question, in the order given; images only for a vision model."""
    if attachment_ids in (None, [], ()):
        return []
    if not isinstance(attachment_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in attachment_ids
    ):
        raise AttachmentRefused("bad_value", gettext("“attachment_ids” must be a list of file ids."))
    try:
        chosen = attachments_for_question(tenant=tenant, user=user, attachment_ids=attachment_ids)
    except Refused as refused:
        raise AttachmentRefused(refused.code, refusal_text(refused.code, refused.params)) from None
    images = [a.name for a in chosen if a.kind == Attachment.Kind.IMAGE]
    if images and not model_version.vision:
        raise AttachmentRefused(
            "vision_unsupported",
            gettext(
                "%(model)s cannot read images (%(names)s). Choose a model marked “Understands images”, or remove "
                "the image."
            )
            % {"model": model_version.display_name, "names": ", ".join(images)},
        )
    return chosen


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return attachment.summary()


def attachment_record(attachment: Attachment) -> dict[str, Any]:
    """What the audit trail keeps of a file sent to the model."""
    summary = attachment.summary()
    del summary["id"]
    return {**summary, "sha256": attachment.sha256, "text_sha256": attachment.text_sha256}


def attachments_by_message(messages: Sequence[Message], *, with_text: bool = False) -> dict[int, list[Attachment]]:
    """The files of these messages (of one conversation), by message id: one query, and none when no message has
    any (``attachment_count``). ``with_text``: the documents' text comes with them (a prompt)."""
    ids = [m.pk for m in messages if m.pk is not None and m.attachment_count]
    if not ids:
        return {}
    return attachments_of_messages(tenant_id=messages[0].tenant_id, message_ids=ids, with_text=with_text)


def turn_contents(
    text: str, attachments: Sequence[Attachment], *, vision: bool
) -> tuple[str | list[dict[str, Any]], str]:
    """A question with its files: what the model is sent, and what the audit trail records instead."""
    sent, recorded = text, text
    documents = [a for a in attachments if a.kind == Attachment.Kind.DOCUMENT]
    images = [a for a in attachments if a.kind == Attachment.Kind.IMAGE]
    for document in documents:
        body = attachment_text(document) if document.status == Attachment.Status.READY else ""
        sent += f'\n\n<attached_file name="{document.name}">\n{body}\n</attached_file>'
        recorded += f"\n\n[attached file {document.name}: sha256 {document.sha256}, text sha256 {document.text_sha256}]"
    for image in images:
        recorded += f"\n\n[attached image {image.name}: sha256 {image.sha256}]"
        if not vision:
            sent += f"\n\n[attached image {image.name}: not shown, this model cannot read images]"
    if not images or not vision:
        return sent, recorded
    parts: list[dict[str, Any]] = [{"type": "text", "text": sent}]
    for image in images:
        if image.status != Attachment.Status.READY:
            continue
        prepared = attachment_image(image)
        mime = "image/png" if prepared.startswith(b"\x89PNG") else "image/jpeg"
        data = base64.b64encode(prepared).decode()
        parts.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}", "detail": "auto"}})
    return parts, recorded
