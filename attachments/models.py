"""Files people attach in the web chat (docs/attachments.md): stored encrypted per company, text extracted in the
background, sent to the model as context (documents) or image parts (images, vision models only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantScopedModel


class Attachment(TenantScopedModel):
    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Document")
        IMAGE = "image", _("Image")

    class Status(models.TextChoices):
        PROCESSING = "processing", _("Reading")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Could not be read")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    # Set when the message it was sent with is saved; deleting the conversation deletes its messages and these.
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, shown on the chip
    error_code = models.CharField(max_length=40, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    stored_name = models.CharField(max_length=255)  # the encrypted original in the "attachments" storage
    # Documents: the extracted text (encrypted at rest like the file). Images: empty; the downscaled image is
    # stored beside the original (``derived_name``).
    text_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    text_chars = models.PositiveIntegerField(default=0)
    text_sha256 = models.CharField(max_length=64, blank=True)
    derived_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [
            models.Index(fields=["tenant", "owner", "-created_at"], name="attachment_owner_recent"),
            models.Index(fields=["tenant", "created_at"], name="attachment_retention"),
        ]

    def __str__(self) -> str:
        return self.name

    def summary(self) -> dict[str, object]:
        """The file as a page lists it: id, name, size, kind and type."""
        return {
            "id": self.pk,
            "name": self.name,
            "size": self.size,
            "kind": self.kind,
            "content_type": self.content_type,
        }
