"""The attachment door of the web chat (docs/attachments.md): upload, the chip's status, remove before sending, and
the owner's download. JSON in and out; someone else's file is a 404 like a missing one."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from attachments.errors import refusal_text
from attachments.inspect import Refused
from attachments.models import Attachment
from attachments.selectors import attachment_get
from attachments.services import attachment_delete, attachment_original, attachment_upload
from tenants.types import AuthedRequest

STATUS = {"quota": 413, "too_large": 413}


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    failed = attachment.status == Attachment.Status.FAILED
    return {
        **attachment.summary(),
        "status": attachment.status,
        "progress": attachment.progress,
        "error": {
            "code": attachment.error_code,
            "message": refusal_text(attachment.error_code, attachment.error_params),
        }
        if failed
        else None,
        "sha256": attachment.sha256,
    }


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _refused(refused: Refused) -> JsonResponse:
    body = {"error": _error(refused.code, refusal_text(refused.code, refused.params))}
    return JsonResponse(body, status=STATUS.get(refused.code, 400))


@require_POST
def upload(request: AuthedRequest) -> JsonResponse:
    """``POST /api/attachments/`` (multipart, field ``file``): 201 with the attachment, or 400/413 saying why."""
    file = request.FILES.get("file")
    if file is None:
        return _refused(Refused("no_file"))
    try:
        attachment = attachment_upload(
            tenant=request.tenant,
            user=request.user,
            name=file.name or "",
            declared_type=file.content_type or "",
            size=file.size or 0,
            read=file.read,
        )
    except Refused as refused:
        return _refused(refused)
    attachment.refresh_from_db()  # eager Celery (embedded mode) has read it already
    return JsonResponse({"attachment": attachment_json(attachment)}, status=201)


@require_GET
def detail(request: AuthedRequest, attachment_id: int) -> JsonResponse:
    try:
        attachment = attachment_get(tenant=request.tenant, user=request.user, attachment_id=attachment_id)
    except Http404:
        return JsonResponse(
            {"error": {"code": "not_found", "message": gettext("This file does not exist.")}}, status=404
        )
    return JsonResponse({"attachment": attachment_json(attachment)})


@require_POST
def remove(request: AuthedRequest, attachment_id: int) -> JsonResponse:
    try:
        attachment_delete(tenant=request.tenant, user=request.user, attachment_id=attachment_id)
    except Http404:
        return JsonResponse(
            {"error": {"code": "not_found", "message": gettext("This file does not exist.")}}, status=404
        )
    except Refused as refused:
        return _refused(refused)
    return JsonResponse({"ok": True})


@require_GET
def download(request: AuthedRequest, attachment_id: int) -> HttpResponse:
    """The owner's own file, as uploaded (decrypted here); always a download, never rendered by the browser."""
    attachment = attachment_get(tenant=request.tenant, user=request.user, attachment_id=attachment_id)
    if attachment.status == Attachment.Status.FAILED:
        raise Http404
    response = HttpResponse(attachment_original(attachment), content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
