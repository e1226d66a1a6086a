"""Reads of attachments: always of one company and one person; someone else's file is the same 404 as a missing
one (docs/tenancy.md)."""

from __future__ import annotations

from django.db.models import QuerySet, Sum
from django.http import Http404

from attachments.models import Attachment
from tenants.models import Tenant, User


def attachment_list(*, tenant: Tenant, user: User) -> QuerySet[Attachment]:
    return Attachment.objects.filter(tenant=tenant, owner=user).defer("text_encrypted")


def attachment_get(*, tenant: Tenant, user: User, attachment_id: object) -> Attachment:
    try:
        return attachment_list(tenant=tenant, user=user).get(pk=int(attachment_id))  # type: ignore[call-overload]
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def attachment_bytes_used(*, tenant: Tenant, user: User) -> int:
    return int(attachment_list(tenant=tenant, user=user).aggregate(total=Sum("size"))["total"] or 0)


def attachments_of_messages(
    *, tenant_id: int, message_ids: list[int], with_text: bool = False
) -> dict[int, list[Attachment]]:
    """The files sent with these messages of the company, by message id, in the order they were attached.
    ``with_text``: with the documents' extracted text (a prompt needs it; a page does not)."""
    found: dict[int, list[Attachment]] = {}
    rows = Attachment.objects.filter(tenant_id=tenant_id, message_id__in=message_ids)
    if not with_text:
        rows = rows.defer("text_encrypted")
    for attachment in rows.order_by("pk"):
        found.setdefault(attachment.message_id or 0, []).append(attachment)
    return found
