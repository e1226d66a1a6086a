"""Writes of attachments (docs/attachments.md): upload (checked, then stored encrypted), reading in the background,
deletion and retention. A refused file leaves nothing stored: not the file, not a row."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone

from attachments.crypto import decrypt_for, encrypt_for
from attachments.extract import extract_text
from attachments.images import prepare_image
from attachments.inspect import Refused, extension_of, judge
from attachments.models import Attachment
from attachments.selectors import attachment_bytes_used, attachment_get, attachment_list
from ops import queue
from tenants.models import Tenant, User

logger = logging.getLogger("officeai.attachments")

PROCESS_TASK = "attachments.tasks.attachment_process_task"
MB = 1024 * 1024


def attachment_storage() -> Storage:
    return storages["attachments"]


def limits_of(tenant: Tenant) -> dict[str, int]:
    return {
        "max_bytes": tenant.attachment_max_mb * MB,
        "max_files": tenant.attachment_max_files,
        "quota_bytes": tenant.attachment_quota_mb * MB,
    }


def upload_check(*, tenant: Tenant, user: User, name: str, size: int) -> None:
    """The checks that need no bytes (made before the upload is read): name, size, the person's quota."""
    if not name.strip() or len(name) > 255:
        raise Refused("name")
    limits = limits_of(tenant)
    if size == 0:
        raise Refused("empty")
    if size > limits["max_bytes"]:
        raise Refused("too_large", size=size, max=limits["max_bytes"])
    used = attachment_bytes_used(tenant=tenant, user=user)
    if used + size > limits["quota_bytes"]:
        raise Refused("quota", used=used, max=limits["quota_bytes"])


def attachment_upload(
    *, tenant: Tenant, user: User, name: str, declared_type: str, size: int, read: Callable[[], bytes]
) -> Attachment:
    """Check the file, store it encrypted, and read it in the background (``attachment_process``). Name, size and
    quota are checked before ``read`` is called: a file over the limit is refused without being read."""
    name = name.strip().replace("\x00", "")
    upload_check(tenant=tenant, user=user, name=name, size=size)
    data = read()
    if len(data) != size:  # the size given was not the file's: check what was read
        upload_check(tenant=tenant, user=user, name=name, size=len(data))
    verdict = judge(name, declared_type, data)
    storage = attachment_storage()
    stored = storage.save(f"{tenant.pk}/{uuid.uuid4().hex}.bin", ContentFile(encrypt_for(tenant.pk, data)))
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                tenant=tenant,
                owner=user,
                name=name,
                content_type=verdict.content_type,
                kind=verdict.kind,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                stored_name=stored,
            )
            queue.enqueue_on_commit(PROCESS_TASK, attachment.pk)
    except Exception:
        storage.delete(stored)  # the row never came to be: neither does the file
        raise
    return attachment


def attachment_process(*, attachment_id: int) -> None:
    """The background reading: a document's text, or an image downscaled for the models. On a refusal the stored
    file is deleted and the row says why (the chip shows it)."""
    attachment = Attachment.objects.filter(pk=attachment_id, status=Attachment.Status.PROCESSING).first()
    if attachment is None:
        return  # done already, or deleted: a redelivered task does nothing
    rows = Attachment.objects.filter(pk=attachment_id)
    storage = attachment_storage()
    last = [0]

    def progress(percent: int) -> None:
        if percent - last[0] >= 5:
            last[0] = percent
            rows.update(progress=min(percent, 99))

    try:
        with storage.open(attachment.stored_name, "rb") as stored:
            data = decrypt_for(attachment.tenant_id, stored.read())
        if attachment.kind == Attachment.Kind.IMAGE:
            prepared = prepare_image(data)
            derived = storage.save(
                f"{attachment.tenant_id}/{uuid.uuid4().hex}-image.bin",
                ContentFile(encrypt_for(attachment.tenant_id, prepared.data)),
            )
            rows.update(
                status=Attachment.Status.READY, progress=100, derived_name=derived, width=prepared.width,
                height=prepared.height,
            )  # fmt: skip
        else:
            text = extract_text(extension_of(attachment.name), data, progress)
            encoded = text.encode()
            rows.update(
                status=Attachment.Status.READY,
                progress=100,
                text_encrypted=encrypt_for(attachment.tenant_id, encoded),
                text_chars=len(text),
                text_sha256=hashlib.sha256(encoded).hexdigest(),
            )
    except Refused as refused:
        storage.delete(attachment.stored_name)
        rows.update(status=Attachment.Status.FAILED, error_code=refused.code, error_params=refused.params, progress=0)
    except Exception:
        logger.exception("attachment %s could not be read", attachment_id)
        storage.delete(attachment.stored_name)
        rows.update(status=Attachment.Status.FAILED, error_code="unreadable", error_params={}, progress=0)


def attachment_text(attachment: Attachment) -> str:
    """A ready document's extracted text (read with the row where it was loaded, else fetched once)."""
    token = bytes(attachment.text_encrypted)
    return decrypt_for(attachment.tenant_id, token).decode() if token else ""


def attachment_image(attachment: Attachment) -> bytes:
    """A ready image as prepared for the models (downscaled, no metadata)."""
    with attachment_storage().open(attachment.derived_name, "rb") as stored:
        return decrypt_for(attachment.tenant_id, stored.read())


def attachment_original(attachment: Attachment) -> bytes:
    with attachment_storage().open(attachment.stored_name, "rb") as stored:
        return decrypt_for(attachment.tenant_id, stored.read())


def attachments_for_question(*, tenant: Tenant, user: User, attachment_ids: list[int]) -> list[Attachment]:
    """The person's own files for one question, in the order given: each ready (read) and not sent before."""
    wanted = list(dict.fromkeys(attachment_ids))
    if len(wanted) > tenant.attachment_max_files:
        raise Refused("too_many_files", max=tenant.attachment_max_files)
    # With the extracted text: the question's prompt is built from these rows.
    unsent = attachment_list(tenant=tenant, user=user).defer(None).filter(pk__in=wanted, message__isnull=True)
    rows = {a.pk: a for a in unsent}
    chosen = []
    for pk in wanted:
        attachment = rows.get(pk)
        if attachment is None:
            raise Refused("not_found")
        if attachment.status == Attachment.Status.PROCESSING:
            raise Refused("not_ready", name=attachment.name)
        if attachment.status == Attachment.Status.FAILED:
            raise Refused("failed", name=attachment.name)
        chosen.append(attachment)
    return chosen


def attachments_link(*, attachments: list[Attachment], message_id: int) -> None:
    """The files went with this message (in the transaction that saved it)."""
    Attachment.objects.filter(pk__in=[a.pk for a in attachments], message__isnull=True).update(message_id=message_id)


def files_for_export(tenant_id: int, hashes: list[str]) -> Iterator[tuple[str, bytes]]:
    """The company's stored files with these SHA-256s, decrypted, one at a time: ``files/<sha256>/<name>``."""
    seen: set[str] = set()
    rows = Attachment.objects.filter(tenant_id=tenant_id, sha256__in=hashes).exclude(stored_name="")
    for attachment in rows.exclude(status=Attachment.Status.FAILED).defer("text_encrypted").order_by("pk"):
        if attachment.sha256 in seen:
            continue
        try:
            data = attachment_original(attachment)
        except FileNotFoundError:
            continue  # deleted since (retention): the manifest lists it as missing
        seen.add(attachment.sha256)
        safe = attachment.name.replace("/", "_").replace("\\", "_")
        yield f"files/{attachment.sha256}/{safe}", data


@transaction.atomic
def attachment_delete(*, tenant: Tenant, user: User, attachment_id: object) -> None:
    """Remove a file before it is sent (the chip's remove button). A sent file goes with its conversation."""
    attachment = attachment_get(tenant=tenant, user=user, attachment_id=attachment_id)
    if attachment.message_id is not None:
        raise Refused("sent")
    attachment.delete()  # the files go in the post_delete handler, after commit


def attachments_expire() -> int:
    """Retention: files older than their company's ``attachment_retention_days`` are deleted (their messages stay,
    saying which file was attached). Returns how many."""
    moment = timezone.now()
    deleted = 0
    for tenant in Tenant.objects.filter(attachment_retention_days__isnull=False):
        cutoff = moment - timedelta(days=tenant.attachment_retention_days or 0)
        old = Attachment.objects.filter(tenant=tenant, created_at__lt=cutoff)
        for attachment in old.iterator():
            attachment.delete()
            deleted += 1
    return deleted
