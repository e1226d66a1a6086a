"""The audit trail: an outbox written in the business transaction, and the append-only, hash-chained entries
that a Celery task makes of it.

Chains: one per tenant (``tenant:<id>``) and one ``global`` chain for platform events without a tenant. Inside a
chain ``seq`` has no gaps; each entry's ``entry_hash`` covers its content and the previous entry's hash.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantScopedModel


def chain_for(tenant_id: int | None) -> str:
    """The chain an event of ``tenant_id`` goes on: one per tenant, and one for events of no tenant."""
    return f"tenant:{tenant_id}" if tenant_id else "global"


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    SLACK = "slack", _("Slack")
    ADMIN = "admin", _("Admin console")
    SYSTEM = "system", _("System")


class LLMStatus(models.TextChoices):
    """How a model call ended: one vocabulary for the chat page, the audit trail and its exports (chat's
    ``Message.Status`` takes its words from here)."""

    OK = "ok", _("Complete")
    STOPPED = "stopped", _("Stopped")
    LENGTH = "length", _("Reached the length limit")
    ERROR = "error", _("Error")
    PROMPT_FILTERED = "prompt_filtered", _("Blocked by the content filter")
    COMPLETION_FILTERED = "completion_filtered", _("Cut by the content filter")
    TRUNCATED = "truncated", _("Cut off")


# Entries chained before the vocabulary was one keep the word they were sealed with (a chained entry is never
# rewritten); filters and pages read them as today's word.
LEGACY_STATUS = {"cancelled": LLMStatus.STOPPED.value}


def status_stored_as(status: str) -> list[str]:
    """The stored values that mean ``status`` (today's word and the legacy ones)."""
    return [status, *(old for old, new in LEGACY_STATUS.items() if new == status)]


def status_label(value: str) -> str:
    """The reader's words for a stored status ("" stays "")."""
    value = LEGACY_STATUS.get(value, value)
    return str(LLMStatus(value).label) if value in LLMStatus.values else value


class AuditOutbox(models.Model):
    """An event waiting to be chained. Written in the same transaction as the change it records."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    chain = models.CharField(max_length=40)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False)
    event_type = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    model_label = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="audit_outbox_pending", condition=models.Q(processed_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"outbox {self.event_id} {self.event_type}"


class AuditChainHead(models.Model):
    """The last link of a chain; locked (SELECT ... FOR UPDATE) while the next entry is appended."""

    chain = models.CharField(max_length=40, unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"{self.chain}@{self.last_seq}"


class AuditEntry(models.Model):
    """One recorded event. Never updated; deleted only by retention, which leaves a signed checkpoint."""

    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    event_id = models.UUIDField(unique=True)
    # No FK constraint: entries must outlive anything they mention, and rows are never cascaded.
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    event_type = models.CharField(_("event"), max_length=80)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(_("user"), max_length=254, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    model_label = models.CharField(_("model"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=32, blank=True)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    # HMAC of entry_hash with the key named by key_id (AUDIT_HMAC_KEYS, never in the database): re-hashing an
    # edited chain cannot re-seal it (audit.hashing).
    key_id = models.CharField(max_length=16)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_entry_chain_seq_unique")]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="audit_entry_tenant_time"),
            models.Index(fields=["tenant", "event_type", "occurred_at"], name="audit_entry_tenant_type"),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.event_type}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("audit entries are deleted only by retention (audit.services.audit_retention_apply)")

    @property
    def status_label(self) -> str:
        return status_label(self.status)


class AuditCheckpoint(models.Model):
    """Where a chain continues after retention deleted its head: the last deleted entry's seq and hash, signed."""

    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    entry_hash = models.CharField(max_length=64)
    deleted_count = models.BigIntegerField()
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_checkpoint_chain_seq_unique")]

    def __str__(self) -> str:
        return f"{self.chain} checkpoint @{self.seq}"


class AuditExport(TenantScopedModel):
    """A large export prepared by Celery for a reviewer; the file is downloadable when ``status`` is done."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    format = models.CharField(max_length=8)
    include_files = models.BooleanField(default=False)  # the attached files of the exported model calls too
    filters = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.BigIntegerField(default=0)
    done_rows = models.BigIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)
    manifest = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"


class AuditVerification(TenantScopedModel):
    """ "Verify chain" pressed on the audit page: a Celery job that re-checks the company's whole chain, with its
    progress and result. The run is itself recorded as ``audit.verify`` (kind ``manual``, by whom)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.BigIntegerField(default=0)  # entries in the chain when it was asked for
    checked = models.BigIntegerField(default=0)
    ok = models.BooleanField(null=True)
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    problems = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"], name="auditverify_tenant_recent")]

    def __str__(self) -> str:
        return f"verification {self.pk} ({self.status})"
