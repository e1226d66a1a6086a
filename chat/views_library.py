"""Thin HTTP doors of the prompt library (a JSON API for the composer) and of the chatbot-ui import page.

Prompt API (JSON in and out, CSRF token in ``X-CSRFToken``; errors are ``{"error": {"code", "message", "field"}}``):

* ``GET  /api/prompts/``: the prompts the person may use (their own and the company's shared ones);
* ``POST /api/prompts/``: create (``{"name", "content", "description"?, "folder_name"?, "shared"?}``), 201;
* ``GET  /api/prompts/<id>/``: one; ``POST /api/prompts/<id>/``: change the fields given;
* ``POST /api/prompts/<id>/delete/``: delete;
* ``POST /api/prompts/<id>/fill/``: ``{"values": {name: text}}`` → the prompt's text filled in.

Another person's prompt and another company's are the same 404 as a missing one; a shared prompt changed by a
member is a 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chat.api import error_response, json_body, json_errors
from chat.importer import MAX_BYTES, MAX_CONVERSATIONS, ImportRefused, import_chatbot_ui, too_large
from chat.models import Prompt
from chat.prompts.selectors import prompt_can_share, prompt_get, prompt_list
from chat.prompts.services import (
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_FOLDER_NAME,
    MAX_NAME,
    MAX_PROMPTS,
    PromptRefused,
    prompt_create,
    prompt_delete,
    prompt_update,
)
from chat.prompts.variables import MAX_VARIABLES, prompt_fill, prompt_variables
from chat.services import MAX_TEXT
from tenants.types import AuthedRequest


# --- Prompt API -----------------------------------------------------------------------------------------------------
def _error(code: str, message: str, status: int, field: str = "") -> JsonResponse:
    return error_response(code, message, status, field=field)


# Answers in JSON also when it refuses: 400 for a refused input (``field`` names it), 403 for a shared prompt a
# member may not change, 404 for a prompt that is not there or not theirs, 405 for a wrong method.
prompt_api = json_errors(
    not_found=lambda: _("This prompt does not exist."),
    forbidden=lambda: _("Only company administrators can change shared prompts."),
    with_field=True,
)
_body = json_body


def _prompt_json(prompt: Prompt, *, user_id: int, can_share: bool) -> dict[str, Any]:
    shared = prompt.owner_id is None
    return {
        "id": prompt.pk,
        "name": prompt.name,
        "description": prompt.description,
        "content": prompt.content,
        "folder_name": prompt.folder_name,
        "variables": prompt_variables(prompt.content),
        "shared": shared,
        "editable": can_share if shared else prompt.owner_id == user_id,
        "updated_at": prompt.updated_at.isoformat(),
    }


def _one(request: AuthedRequest, prompt: Prompt, status: int = 200) -> JsonResponse:
    can_share = prompt_can_share(user=request.user, tenant=request.tenant)
    return JsonResponse({"prompt": _prompt_json(prompt, user_id=request.user.pk, can_share=can_share)}, status=status)


@prompt_api
@require_http_methods(["GET", "POST"])
def prompts(request: AuthedRequest) -> JsonResponse:
    if request.method == "POST":
        body = _body(request)
        shared = body.get("shared", False)
        if not isinstance(shared, bool):
            raise PromptRefused("bad_type", _("“shared” must be true or false."), "shared")
        prompt = prompt_create(
            tenant=request.tenant,
            user=request.user,
            name=body.get("name"),
            content=body.get("content"),
            description=body.get("description", ""),
            folder_name=body.get("folder_name", ""),
            shared=shared,
        )
        return _one(request, prompt, status=201)
    can_share = prompt_can_share(user=request.user, tenant=request.tenant)
    rows = prompt_list(tenant=request.tenant, user=request.user)
    return JsonResponse(
        {
            "prompts": [_prompt_json(p, user_id=request.user.pk, can_share=can_share) for p in rows],
            "can_share": can_share,
            "limits": {
                "max_prompts": MAX_PROMPTS,
                "max_name": MAX_NAME,
                "max_description": MAX_DESCRIPTION,
                "max_content": MAX_CONTENT,
                "max_folder_name": MAX_FOLDER_NAME,
                "max_variables": MAX_VARIABLES,
            },
        }
    )


@prompt_api
@require_http_methods(["GET", "POST"])
def prompt_detail(request: AuthedRequest, prompt_id: int) -> JsonResponse:
    prompt = prompt_get(tenant=request.tenant, user=request.user, prompt_id=prompt_id)
    if request.method == "POST":
        body = _body(request)
        prompt = prompt_update(
            tenant=request.tenant,
            user=request.user,
            prompt=prompt,
            name=body.get("name"),
            content=body.get("content"),
            description=body.get("description"),
            folder_name=body.get("folder_name"),
        )
    return _one(request, prompt)


@prompt_api
@require_POST
def prompt_remove(request: AuthedRequest, prompt_id: int) -> JsonResponse:
    prompt = prompt_get(tenant=request.tenant, user=request.user, prompt_id=prompt_id)
    prompt_delete(tenant=request.tenant, user=request.user, prompt=prompt)
    return JsonResponse({"ok": True})


@prompt_api
@require_POST
def prompt_filled(request: AuthedRequest, prompt_id: int) -> JsonResponse:
    prompt = prompt_get(tenant=request.tenant, user=request.user, prompt_id=prompt_id)
    values = _body(request).get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in values.values()):
        raise PromptRefused(
            "bad_values",
            _("“values” must map each variable to a text of at most %(max)s characters.") % {"max": f"{MAX_TEXT:,}"},
            "values",
        )
    names = prompt_variables(prompt.content)
    return JsonResponse(
        {
            "text": prompt_fill(prompt.content, values),
            "variables": names,
            "missing": [name for name in names if name not in values],
        }
    )


# --- Import from chatbot-ui ------------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def import_page(request: AuthedRequest) -> HttpResponse:
    """A form to upload chatbot-ui v1's export; on POST, what was imported (or why nothing was)."""
    context: dict[str, Any] = {"max_mb": MAX_BYTES // 1024 // 1024, "max_conversations": f"{MAX_CONVERSATIONS:,}"}
    if request.method == "GET":
        return render(request, "chat/import.html", context)
    upload = request.FILES.get("file")
    status = 200
    if upload is None:
        context["error"], status = _("Choose the JSON file that chatbot-ui exported."), 400
    elif upload.size is not None and upload.size > MAX_BYTES:  # refused unread
        context["error"], status = too_large(upload.size).message, 413
    else:
        try:
            context["result"] = import_chatbot_ui(user=request.user, data=upload.read())
        except ImportRefused as exc:
            context["error"], status = exc.message, 413 if exc.code == "too_large" else 400
    return render(request, "chat/import.html", context, status=status)
