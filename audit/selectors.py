"""Reads of the audit trail. Every read of entries and exports takes ``tenant=`` and sees only that tenant's chain; a
missing row and another tenant's row are the same 404 (docs/tenancy.md). The platform gauges at the end (for
/metrics) count over all chains and return numbers only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Max, Min, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEntry, AuditExport, AuditOutbox, AuditVerification, chain_for, status_stored_as
from tenants.models import Tenant


def _as_date(value: Any) -> date | None:
    # Filters come typed from a form, or as ISO strings from a stored job.
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _local_midnight(day: date) -> datetime:
    """Start of ``day`` in settings.TIME_ZONE: a reviewer's "1 April" is the Tokyo day, not the UTC one."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _text_q(q: str) -> Q:
    cond = Q(actor_email__icontains=q) | Q(event_type__icontains=q) | Q(model_label__icontains=q)
    cond |= Q(status__icontains=q) | Q(payload_text__icontains=q)
    # SQLite keeps the payload as json.dumps() wrote it, non-ASCII as \uXXXX; PostgreSQL's jsonb::text has the
    # characters themselves. Matching the JSON-escaped form too makes Japanese (and quotes) work on both.
    escaped = json.dumps(q)[1:-1]
    if escaped != q:
        cond |= Q(payload_text__icontains=escaped)
    return cond


def audit_entry_list(*, tenant: Tenant, filters: Mapping[str, Any] | None = None) -> QuerySet[AuditEntry]:
    """The tenant's entries (its chain ``tenant:<id>`` only), newest first, narrowed by ``filters``.

    Filters (empty values ignored): ``date_from``/``date_to`` (dates, inclusive, local time), ``user``, ``channel``,
    ``model``, ``status``, ``event_type`` (prefix) and ``q`` (free text, payload included).
    """
    filters = filters or {}
    qs = AuditEntry.objects.filter(tenant_id=tenant.pk, chain=chain_for(tenant.pk))
    if day := _as_date(filters.get("date_from")):
        qs = qs.filter(occurred_at__gte=_local_midnight(day))
    if day := _as_date(filters.get("date_to")):
        qs = qs.filter(occurred_at__lt=_local_midnight(day + timedelta(days=1)))
    if value := filters.get("user"):
        qs = qs.filter(actor_email__icontains=value)
    if value := filters.get("channel"):
        qs = qs.filter(channel=value)
    if value := filters.get("model"):
        qs = qs.filter(model_label__icontains=value)
    if value := filters.get("status"):
        qs = qs.filter(status__in=status_stored_as(str(value).lower()))
    if value := filters.get("event_type"):
        qs = qs.filter(event_type__istartswith=value)
    if value := filters.get("q"):
        qs = qs.annotate(payload_text=Cast("payload", TextField())).filter(_text_q(str(value)))
    return qs.order_by("-seq")


SUGGESTIONS = 500  # per picker: the most recent distinct values


def audit_filter_suggestions(*, tenant: Tenant) -> dict[str, list[str]]:
    """What the filter pickers offer for the tenant's trail: its event types, model labels and people (the most
    recently seen first, ``SUGGESTIONS`` each). A value typed that is not offered still filters."""
    entries = AuditEntry.objects.filter(tenant_id=tenant.pk, chain=chain_for(tenant.pk))

    def recent(column: str) -> list[str]:
        rows = entries.exclude(**{column: ""}).values(column).annotate(last=Max("seq")).order_by("-last")
        return [row[column] for row in rows[:SUGGESTIONS]]

    return {"event_type": sorted(recent("event_type")), "model": recent("model_label"), "user": recent("actor_email")}


def audit_entry_neighbours(*, tenant: Tenant, entry: AuditEntry) -> tuple[AuditEntry | None, AuditEntry | None]:
    """The entries before and after ``entry`` in its (the tenant's) chain."""
    chain = audit_entry_list(tenant=tenant)
    before = chain.filter(seq__lt=entry.seq).order_by("-seq").first()
    after = chain.filter(seq__gt=entry.seq).order_by("seq").first()
    return before, after


def audit_conversation_turns(*, tenant: Tenant, conversation_id: int, limit: int = 100) -> list[AuditEntry]:
    """The tenant's ``llm.chat`` entries of one conversation, oldest first (at most ``limit``)."""
    turns = audit_entry_list(tenant=tenant).filter(event_type="llm.chat", payload__conversation_id=conversation_id)
    return list(turns.order_by("seq")[:limit])


def audit_entry_get(*, tenant: Tenant, entry_id: int) -> AuditEntry:
    """One entry of the tenant; another tenant's entry is the same 404 as a missing one."""
    try:
        return audit_entry_list(tenant=tenant).get(pk=entry_id)
    except (AuditEntry.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def audit_last_verification(*, tenant: Tenant) -> AuditEntry | None:
    """The newest recorded verification of the tenant's chain (``audit.verify``: daily, per export, or by hand)."""
    return audit_entry_list(tenant=tenant).filter(event_type="audit.verify").first()


def audit_export_list(*, tenant: Tenant) -> QuerySet[AuditExport]:
    return AuditExport.objects.filter(tenant=tenant).select_related("requested_by").order_by("-created_at", "-pk")


def audit_export_get(*, tenant: Tenant, export_id: int) -> AuditExport:
    """One export job of the tenant; another tenant's job is the same 404 as a missing one."""
    try:
        return audit_export_list(tenant=tenant).get(pk=export_id)
    except (AuditExport.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def audit_verification_list(*, tenant: Tenant) -> QuerySet[AuditVerification]:
    return AuditVerification.objects.filter(tenant=tenant).select_related("requested_by").order_by("-created_at", "-pk")


def audit_verification_get(*, tenant: Tenant, verification_id: object) -> AuditVerification:
    """One verification job of the tenant; another tenant's job is the same 404 as a missing one."""
    try:
        return audit_verification_list(tenant=tenant).get(pk=int(verification_id))  # type: ignore[call-overload]
    except (AuditVerification.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# Platform operators pick any tenant (inactive ones too: their trail must stay exportable).
def audit_tenant_list() -> QuerySet[Tenant]:
    return Tenant.objects.order_by("name")


def audit_tenant_get_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()


def audit_outbox_backlog() -> list[tuple[list[str], float]]:
    """Events recorded but not yet chained (the /metrics gauge)."""
    return [([], float(AuditOutbox.objects.filter(processed_at__isnull=True).count()))]


def audit_chain_lag() -> list[tuple[list[str], float]]:
    """Seconds since the oldest event still waiting to be chained occurred; 0 when none waits."""
    oldest = AuditOutbox.objects.filter(processed_at__isnull=True).aggregate(at=Min("occurred_at"))["at"]
    return [([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)]
