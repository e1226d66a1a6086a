"""Audit pages for compliance: the filtered list, one entry in full, and exports (streamed inline, or prepared as a
Celery job and downloaded when ready).

Who sees what: a compliance reviewer (and a company administrator where the company allows it,
``Tenant.admins_read_audit``) sees their own tenant, whatever the URL says; a platform operator (superuser)
chooses a tenant with ``?tenant=<slug>``; everyone else gets 403 before anything is looked up.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import date, timedelta
from typing import IO, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from audit.display import chat_entry
from audit.export import (
    async_chunks,
    audit_export_create,
    audit_export_prepare,
    audit_export_record,
    export_file_path,
)
from audit.forms import FORMATS, AuditExportForm, AuditFilterForm
from audit.models import AuditExport, AuditVerification
from audit.selectors import (
    audit_conversation_turns,
    audit_entry_get,
    audit_entry_list,
    audit_entry_neighbours,
    audit_export_get,
    audit_export_list,
    audit_filter_suggestions,
    audit_last_verification,
    audit_tenant_get_by_slug,
    audit_tenant_list,
    audit_verification_get,
    audit_verification_list,
)
from audit.verification import audit_verification_request
from tenants.models import Tenant
from tenants.types import AuthedRequest

PAGE_SIZE = 50
FILE_BLOCK = 64 * 1024


def _is_operator(request: AuthedRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def reviewer_tenant(request: AuthedRequest) -> Tenant:
    """The tenant whose trail this request may read, or PermissionDenied.

    The tenant never comes from the URL for a reviewer (docs/tenancy.md); only operators, whose powers are
    global, may name one, and an unknown slug is a 404.
    """
    if _is_operator(request):
        slug = request.GET.get("tenant")
        if not slug:
            return request.tenant
        tenant = audit_tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise Http404
        return tenant
    if request.user.reads_company_audit:
        return request.tenant
    raise PermissionDenied


def _tenant_params(request: AuthedRequest, tenant: Tenant) -> dict[str, str]:
    # Operators carry their choice from page to page; for reviewers there is nothing to carry.
    return {"tenant": tenant.slug} if _is_operator(request) else {}


def _url(request: AuthedRequest, tenant: Tenant, name: str, *args: Any, **params: str) -> str:
    query = urlencode({**params, **_tenant_params(request, tenant)})
    return reverse(name, args=args) + (f"?{query}" if query else "")


def _context(request: AuthedRequest, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    operator = _is_operator(request)
    job = audit_verification_list(tenant=tenant).first()
    verification = last_check(audit_last_verification(tenant=tenant), job)
    bad_seq = verification.get("first_bad_seq") if verification and not verification["ok"] else None
    bad_entry = audit_entry_list(tenant=tenant).filter(seq=bad_seq).first() if isinstance(bad_seq, int) else None
    return {
        "tenant": tenant,
        "is_operator": operator,
        "tenants": audit_tenant_list() if operator else [],
        "tenant_query": urlencode(_tenant_params(request, tenant)),
        "verification": verification,
        "bad_seq": bad_seq,
        "bad_entry": bad_entry,
        "verification_job": job,
        "verification_status_url": _url(request, tenant, "audit:verify_status", job.pk) if job else "",
        **extra,
    }


def last_check(recorded: Any, job: AuditVerification | None) -> dict[str, Any] | None:
    """The newest verification of the chain for the panel: the recorded ``audit.verify`` entry, or a finished
    "Verify chain" job when nothing was recorded since it started (its own entry may not be chained yet when the
    page reloads)."""
    job_done = job is not None and job.status == AuditVerification.Status.DONE and job.finished_at is not None
    if job is not None and job_done and (recorded is None or recorded.occurred_at < job.created_at):
        return {
            "ok": bool(job.ok),
            "when": job.finished_at,
            "by": job.requested_by.email,
            "checked": job.checked,
            "first_seq": None,  # the recorded entry has the range; the job counts what it checked
            "last_seq": None,
            "vouched_seq": None,
            "problems": job.problems,
            "first_bad_seq": job.first_bad_seq,
        }
    if recorded is None:
        return None
    payload = recorded.payload if isinstance(recorded.payload, dict) else {}
    return {
        "ok": recorded.status == "ok",
        "when": recorded.occurred_at,
        "by": recorded.actor_email,
        "checked": payload.get("checked", 0),
        "first_seq": payload.get("first_seq"),
        "last_seq": payload.get("last_seq"),
        "vouched_seq": payload.get("vouched_seq"),
        "problems": payload.get("problems") or [],
        "first_bad_seq": payload.get("first_bad_seq"),
    }


@require_http_methods(["POST"])
def verify(request: AuthedRequest) -> HttpResponse:
    """ "Verify chain": a Celery job over the whole chain; the page shows its progress, then the result."""
    tenant = reviewer_tenant(request)
    audit_verification_request(tenant=tenant, requested_by=request.user)
    return redirect(_url(request, tenant, "audit:entry_list"))


@require_GET
def verify_status(request: AuthedRequest, verification_id: int) -> JsonResponse:
    tenant = reviewer_tenant(request)
    job = audit_verification_get(tenant=tenant, verification_id=verification_id)
    return JsonResponse(
        {
            "id": job.pk,
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "checked": job.checked,
            "total": job.total,
            "ok": job.ok,
            "first_bad_seq": job.first_bad_seq,
        }
    )


def _streaming(request: AuthedRequest, chunks: Generator[bytes, None, None]) -> Any:
    # Under ASGI Django reads a sync iterator into memory before sending; hand it an async one there.
    return async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks


def _invalid(request: AuthedRequest, tenant: Tenant, form: AuditFilterForm) -> HttpResponse:
    context = _context(request, tenant, form=form, back_url=_url(request, tenant, "audit:entry_list"))
    return render(request, "audit/export_invalid.html", context, status=400)


@require_GET
def entry_list(request: AuthedRequest) -> HttpResponse:
    tenant = reviewer_tenant(request)
    form = AuditFilterForm(request.GET)
    if form.is_valid():
        entries = audit_entry_list(tenant=tenant, filters=form.filters())
    else:
        entries = audit_entry_list(tenant=tenant).none()  # not an unfiltered list that looks filtered
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/entry_list.html",
        _context(
            request,
            tenant,
            form=form,
            page_obj=page,
            filter_values=form.filters_json() if form.is_valid() else {},
            export_formats=FORMATS,
            suggestions=audit_filter_suggestions(tenant=tenant),
            date_presets=date_presets(timezone.localdate()),
        ),
    )


def date_presets(today: date) -> list[dict[str, str]]:
    """Today, the last 7 days and this month, in the site's time zone (the filters' days are local days)."""
    return [
        {"label": _("Today"), "date_from": today.isoformat(), "date_to": today.isoformat()},
        {"label": _("Last 7 days"), "date_from": (today - timedelta(days=6)).isoformat(), "date_to": today.isoformat()},
        {"label": _("This month"), "date_from": today.replace(day=1).isoformat(), "date_to": today.isoformat()},
    ]


@require_GET
def entry_detail(request: AuthedRequest, entry_id: int) -> HttpResponse:
    tenant = reviewer_tenant(request)
    entry = audit_entry_get(tenant=tenant, entry_id=entry_id)
    payload = json.dumps(entry.payload, indent=2, ensure_ascii=False, sort_keys=True)
    before, after = audit_entry_neighbours(tenant=tenant, entry=entry)
    chat = chat_entry(entry.payload, entry.status) if entry.event_type == "llm.chat" else None
    turns = (
        audit_conversation_turns(tenant=tenant, conversation_id=chat.conversation_id)
        if chat is not None and chat.conversation_id is not None
        else []
    )
    context = _context(
        request, tenant, entry=entry, payload_json=payload, before=before, after=after, chat=chat, turns=turns
    )
    return render(request, "audit/entry_detail.html", context)


@require_GET
def export_download(request: AuthedRequest) -> HttpResponseBase:
    """``/audit/export.zip?format=csv|jsonl&<filters>``: the ZIP streamed as it is written."""
    tenant = reviewer_tenant(request)
    form = AuditExportForm(request.GET)
    if not form.is_valid():
        return _invalid(request, tenant, form)
    fmt = form.cleaned_data["format"]
    stream = audit_export_prepare(
        tenant=tenant, format=fmt, filters=form.filters_json(), include_files=form.cleaned_data["include_files"]
    )
    limit = settings.AUDIT_EXPORT_INLINE_MAX_ROWS
    if stream.total_rows > limit:
        messages.warning(
            request,
            _(
                "These filters match %(count)s entries, more than a direct download allows (%(limit)s). "
                "Use “Prepare large export”: it is prepared in the background and can be downloaded here."
            )
            % {"count": stream.total_rows, "limit": limit},
        )
        return redirect(_url(request, tenant, "audit:export_list", format=fmt, **form.filters_json()))
    audit_export_record(stream=stream, kind="inline", actor=request.user)
    response = StreamingHttpResponse(_streaming(request, stream.chunks()), content_type="application/zip")
    filename = f"audit-{tenant.slug}-{timezone.localdate():%Y%m%d}.zip"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a buffering proxy would defeat the streaming
    return response


@require_http_methods(["GET", "POST"])
def export_list(request: AuthedRequest) -> HttpResponse:
    """GET: the tenant's prepared exports with progress. POST: prepare a new one (a Celery job)."""
    tenant = reviewer_tenant(request)
    if request.method == "POST":
        form = AuditExportForm(request.POST)
        if not form.is_valid():
            return _invalid(request, tenant, form)
        export = audit_export_create(
            tenant=tenant,
            requested_by=request.user,
            format=form.cleaned_data["format"],
            filters=form.filters_json(),
            include_files=form.cleaned_data["include_files"],
        )
        export.refresh_from_db(fields=["status"])  # in the embedded mode (eager Celery) it is already done
        if export.status == AuditExport.Status.DONE:
            messages.success(request, _("Your export is ready. Download it below."))
        else:
            messages.success(request, _("Your export is being prepared. Its progress shows below; download it there."))
        return redirect(_url(request, tenant, "audit:export_list"))
    # Arriving from a too-large direct download: offer to prepare exactly that export.
    offer = None
    if "format" in request.GET:
        offer = AuditExportForm(request.GET)
        if not offer.is_valid():
            offer = None
    exports = [
        (export, _url(request, tenant, "audit:export_status", export.pk))
        for export in audit_export_list(tenant=tenant)[:50]
    ]
    context = _context(
        request,
        tenant,
        exports=exports,
        offer=offer,
        offer_values=offer.filters_json() if offer else {},
        post_url=_url(request, tenant, "audit:export_list"),
    )
    return render(request, "audit/export_list.html", context)


def _status_json(request: AuthedRequest, tenant: Tenant, export: AuditExport) -> dict[str, Any]:
    done = export.status == AuditExport.Status.DONE
    return {
        "id": export.pk,
        "status": export.status,
        "status_label": str(export.get_status_display()),
        "total_rows": export.total_rows,
        "done_rows": export.done_rows,
        "download_url": _url(request, tenant, "audit:export_file", export.pk) if done else None,
    }


@require_GET
def export_status(request: AuthedRequest, export_id: int) -> JsonResponse:
    tenant = reviewer_tenant(request)
    export = audit_export_get(tenant=tenant, export_id=export_id)
    return JsonResponse(_status_json(request, tenant, export))


def _file_blocks(fh: IO[bytes]) -> Generator[bytes, None, None]:
    while block := fh.read(FILE_BLOCK):
        yield block


@require_GET
def export_file(request: AuthedRequest, export_id: int) -> HttpResponseBase:
    tenant = reviewer_tenant(request)
    export = audit_export_get(tenant=tenant, export_id=export_id)
    if export.status != AuditExport.Status.DONE:
        context = _context(request, tenant, export=export, back_url=_url(request, tenant, "audit:export_list"))
        return render(request, "audit/export_not_ready.html", context, status=409)
    try:
        fh = export_file_path(export).open("rb")
    except FileNotFoundError:
        raise Http404 from None
    filename = f"audit-{tenant.slug}-export-{export.pk}.zip"
    response = FileResponse(fh, as_attachment=True, filename=filename, content_type="application/zip")
    if isinstance(request, ASGIRequest):
        # FileResponse's own iterator is sync: under ASGI it would be read whole into memory.
        response.streaming_content = async_chunks(_file_blocks(fh))
    response["Cache-Control"] = "no-store"
    return response
