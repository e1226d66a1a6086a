"""Thin HTTP doors of the chat: the page, a small JSON API for the sidebar and conversation, and exports."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat.api import error_response, json_body, json_errors
from chat.attached import attachment_json, attachments_by_message
from chat.branches import versions_of
from chat.errors import filter_note, message_error
from chat.events import folder_state
from chat.models import Conversation, Message
from chat.relay import buffer_read_sync
from chat.rendering import render_markdown, render_plain
from chat.selectors import (
    conversation_get,
    conversation_list,
    conversation_search_hits,
    feedback_by_message,
    folder_list,
    message_list,
    notice_acknowledged,
    notice_current,
)
from chat.services import (
    MAX_SYSTEM_PROMPT,
    MAX_TEXT,
    ChatRefused,
    conversation_configure,
    conversation_delete,
    conversation_folder_set,
    conversation_pin,
    conversation_rename,
    conversation_version_show,
    feedback_save,
    folder_create,
    folder_delete,
    folder_move,
    folder_rename,
)
from llm.models import ModelVersion
from llm.selectors import model_version_default, model_version_list
from tenants.models import Tenant, User
from tenants.types import AuthedRequest
from usage.meter import usage_meter

# Every string the chat page's modules show (static/js/chat/, `t("key")`), translated here and sent as `i18n` in the
# page's configuration: the only source (the modules keep no copies). tests/js/test_chat_modules.py checks that each
# key the modules use is here and each key here is used.
CHAT_STRINGS: dict[str, str] = {
    "new_chat": gettext_noop("New chat"),
    "no_conversations": gettext_noop("No chats yet"),
    "no_results": gettext_noop("No chats match your search"),
    "rename": gettext_noop("Rename"),
    "rename_label": gettext_noop("New title"),
    "delete": gettext_noop("Delete"),
    "confirm_delete": gettext_noop("Delete “{title}”? This cannot be undone."),
    "system_prompt_too_long": gettext_noop("The system prompt is too long: {count} characters, the limit is {max}."),
    "message_too_long": gettext_noop(
        "Your message is too long: {count} characters, the limit is {max}. Shorten it and send again."
    ),
    "message_empty": gettext_noop("Write a message first."),
    "char_count": gettext_noop("{count} / {max}"),
    "connecting": gettext_noop("Connecting…"),
    "reconnecting": gettext_noop("Reconnecting…"),
    "connected": gettext_noop("Connected"),
    "not_connected": gettext_noop("Not connected. Your text is kept: send it again when the connection is back."),
    "session_ended": gettext_noop(
        "Your session has ended (signed out, or your access was removed). Copy any text you want to keep, then "
        "reload the page."
    ),
    "send_unconfirmed": gettext_noop(
        "The connection dropped before your message was confirmed. Your text is kept; check the chat before "
        "sending it again."
    ),
    "no_reply": gettext_noop("The server did not confirm your message. Your text is kept; try again."),
    "regenerate": gettext_noop("Regenerate"),
    "regenerate_label": gettext_noop("Regenerate this answer"),
    "edit": gettext_noop("Edit"),
    "edit_label": gettext_noop("Edit this message"),
    "edit_input_label": gettext_noop("Your message"),
    "save_and_send": gettext_noop("Save and send"),
    "cancel": gettext_noop("Cancel"),
    "retry": gettext_noop("Retry"),
    "copy": gettext_noop("Copy"),
    "copy_code": gettext_noop("Copy code"),
    "copy_answer": gettext_noop("Copy answer"),
    "copied": gettext_noop("Copied"),
    "copy_failed": gettext_noop("Could not copy"),
    "previous_version": gettext_noop("Previous version"),
    "next_version": gettext_noop("Next version"),
    "version_of": gettext_noop("Version {n} of {count}"),
    # Files in the composer
    "file_remove": gettext_noop("Remove {name}"),
    "file_uploading": gettext_noop("Uploading…"),
    "file_reading": gettext_noop("Reading… {percent}%"),
    "file_ready": gettext_noop("Ready"),
    "files_sent": gettext_noop("Attached files"),
    "files_wait": gettext_noop("Wait until the attached files are read, or remove them."),
    "files_failed": gettext_noop("Remove the files that could not be attached before sending."),
    "context_trimmed": gettext_noop("Earlier messages were left out to fit the model's context window."),
    "status_stopped": gettext_noop("Stopped"),
    "status_error": gettext_noop("Error"),
    "status_prompt_filtered": gettext_noop("Blocked by the content filter"),
    "status_completion_filtered": gettext_noop("Cut by the content filter"),
    "status_truncated": gettext_noop("Cut off"),
    "status_length": gettext_noop("Reached the length limit"),
    "answer_failed": gettext_noop("The model could not answer."),
    "error_generic": gettext_noop("Something went wrong. Please try again."),
    "error_network": gettext_noop("The server cannot be reached. Check your connection and try again."),
    "error_session": gettext_noop("Your session has ended. Reload the page to sign in again."),
    "error_load": gettext_noop("Could not load this chat."),
    "error_list": gettext_noop("Could not load your chats."),
    "conversation_not_found": gettext_noop("This chat does not exist or was deleted."),
    "dismiss": gettext_noop("Dismiss"),
    "you": gettext_noop("You"),
    "assistant": gettext_noop("Office AI"),
    # Sidebar: groups, folders, menus
    "group_pinned": gettext_noop("Pinned"),
    "group_today": gettext_noop("Today"),
    "group_yesterday": gettext_noop("Yesterday"),
    "group_week": gettext_noop("Previous 7 days"),
    "group_month": gettext_noop("Previous 30 days"),
    "folders": gettext_noop("Folders"),
    "new_folder": gettext_noop("New folder"),
    "folder_name_label": gettext_noop("Folder name"),
    "folder_empty": gettext_noop("No chats here yet. Drag one in, or use its menu."),
    "folder_options": gettext_noop("Folder options: {name}"),
    "conversation_options": gettext_noop("Chat options: {title}"),
    "pin": gettext_noop("Pin"),
    "unpin": gettext_noop("Unpin"),
    "move_to_folder": gettext_noop("Move to folder"),
    "no_folder": gettext_noop("No folder"),
    "no_folders": gettext_noop("No folders yet"),
    "back": gettext_noop("Back"),
    "move_up": gettext_noop("Move up"),
    "move_down": gettext_noop("Move down"),
    "confirm_delete_folder": gettext_noop("Delete the folder “{name}”? Its chats are kept, outside any folder."),
    # Search
    "match_title": gettext_noop("In the title"),
    "match_message": gettext_noop("In the messages"),
    # Prompt library
    "prompts": gettext_noop("Prompts"),
    "manage_prompts": gettext_noop("Manage prompts"),
    "prompts_loading": gettext_noop("Loading…"),
    "prompts_none": gettext_noop("No saved prompts yet."),
    "prompts_no_match": gettext_noop("No prompt matches “{query}”."),
    "prompts_hint": gettext_noop("Type / at the start of an empty message to use one."),
    "prompt_shared": gettext_noop("Shared"),
    "prompt_fill_title": gettext_noop("Fill in “{name}”"),
    "prompt_insert": gettext_noop("Insert"),
    "prompt_new": gettext_noop("New prompt"),
    "prompt_edit_title": gettext_noop("Edit prompt"),
    "prompt_edit_label": gettext_noop("Edit “{name}”"),
    "prompt_delete_label": gettext_noop("Delete “{name}”"),
    "prompt_name": gettext_noop("Name"),
    "prompt_content": gettext_noop("Prompt"),
    "prompt_content_help": gettext_noop(
        "Write {{name}} where a value goes: you fill it in each time you use the prompt."
    ),
    "prompt_variables_found": gettext_noop("Variables: {names}"),
    "prompt_description": gettext_noop("Description (optional)"),
    "prompt_folder": gettext_noop("Folder (optional)"),
    "prompt_share": gettext_noop("Share with everyone in the company"),
    "confirm_delete_prompt": gettext_noop("Delete the prompt “{name}”?"),
    "error_prompts": gettext_noop("Could not load your prompts."),
    "save": gettext_noop("Save"),
    "close": gettext_noop("Close"),
    # Feedback on answers
    "feedback_label": gettext_noop("Rate this answer"),
    "feedback_up": gettext_noop("Good answer"),
    "feedback_down": gettext_noop("Bad answer"),
    "feedback_comment_label": gettext_noop("What was wrong? (optional)"),
    "feedback_send": gettext_noop("Send"),
    "feedback_skip": gettext_noop("Skip"),
    "feedback_thanks": gettext_noop("Thanks for your feedback."),
    # Model picker
    "model_reasoning": gettext_noop("Reasoning"),
    "model_vision": gettext_noop("Understands images"),
    "model_context": gettext_noop("{size} tokens"),
}


def notice_payload(*, tenant: Tenant, user: User, language: str) -> dict[str, Any] | None:
    notice = notice_current(tenant=tenant)
    if notice is None:
        return None
    text = notice.web_text(language)
    if not text.strip():
        return None
    return {
        "version": notice.version,
        "text": text,
        "html": render_markdown(text),
        "acknowledged": notice_acknowledged(user=user, notice=notice),
    }


def _model_json(version: ModelVersion) -> dict[str, Any]:
    """A model as the picker shows it: the operator's display name, what it is for (in the reader's language), and
    hints of what it can do."""
    japanese = (translation.get_language() or "").startswith("ja")
    description = (version.description_ja if japanese else version.description_en) or (
        version.description_en or version.description_ja
    )
    return {
        "id": version.pk,
        "display_name": version.display_name,
        "label": version.label,
        "status": version.status,
        "description": description,
        "reasoning": bool(version.reasoning_efforts),
        "vision": version.vision,
        "context_window": version.context_window,
    }


def chat_page(request: AuthedRequest, conversation_id: int | None = None) -> HttpResponse:
    if conversation_id is not None:
        conversation_get(tenant=request.tenant, user=request.user, conversation_id=conversation_id)  # 404 if not yours
    models = [_model_json(v) for v in model_version_list(tenant=request.tenant)]
    default = model_version_default(tenant=request.tenant)
    notice = notice_payload(tenant=request.tenant, user=request.user, language=translation.get_language())
    zero = {"conversation_id": 0}
    config = {
        "ws_url": "/ws/",
        "conversation_id": conversation_id,
        "models": models,
        "default_model_id": default.pk if default else None,
        "limits": {"max_text": MAX_TEXT, "max_system_prompt": MAX_SYSTEM_PROMPT},
        "csrf_token": get_token(request),
        "urls": {
            "conversations": reverse("chat:conversations"),
            "conversation": reverse("chat:conversation", kwargs=zero),
            "rename": reverse("chat:rename", kwargs=zero),
            "delete": reverse("chat:delete", kwargs=zero),
            "settings": reverse("chat:settings", kwargs=zero),
            "pin": reverse("chat:pin", kwargs=zero),
            "conversation_folder": reverse("chat:conversation_folder", kwargs=zero),
            "folders": reverse("chat:folders"),
            "folder_rename": reverse("chat:folder_rename", kwargs={"folder_id": 0}),
            "folder_delete": reverse("chat:folder_delete", kwargs={"folder_id": 0}),
            "folder_move": reverse("chat:folder_move", kwargs={"folder_id": 0}),
            "prompts": reverse("chat:prompts"),
            "prompt": reverse("chat:prompt", kwargs={"prompt_id": 0}),
            "prompt_delete": reverse("chat:prompt_delete", kwargs={"prompt_id": 0}),
            "feedback": reverse("chat:feedback", kwargs={"message_id": 0}),
            "versions": reverse("chat:versions", kwargs=zero),
            "attachments": reverse("attachments:upload"),
            "attachment": reverse("attachments:detail", kwargs={"attachment_id": 0}),
            "attachment_delete": reverse("attachments:delete", kwargs={"attachment_id": 0}),
            "attachment_download": reverse("attachments:download", kwargs={"attachment_id": 0}),
            "import": reverse("chat:import"),
            "export_md": reverse("chat:export_md", kwargs=zero),
            "export_json": reverse("chat:export_json", kwargs=zero),
            "page": reverse("chat:page", kwargs=zero),
            "home": reverse("home"),
        },
        "notice": notice,
        "i18n": {key: _(text) for key, text in CHAT_STRINGS.items()},
    }
    meter = usage_meter(user=request.user)
    return render(
        request,
        "chat/index.html",
        {
            "chat_config": config,
            "notice": notice,
            "models": models,
            "conversation_id": conversation_id,
            "meter": meter,
            "meter_url": reverse("usage_me"),
        },
    )


# --- JSON API -------------------------------------------------------------------------------------------------------
def _error(code: str, message: str, status: int) -> JsonResponse:
    return error_response(code, message, status)


# The JSON API answers in JSON also when it refuses: a refused change is a 400 (409 while an answer runs), a missing
# (or another person's) conversation a 404, a wrong method a 405, never an HTML page the page's fetch() cannot read.
json_api = json_errors(not_found=lambda: _("This conversation does not exist."))


def _conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "system_prompt": conversation.system_prompt,
        "model_version_id": conversation.model_version_id,
        "model_label": conversation.model_version.label if conversation.model_version else "",
        "updated_at": conversation.updated_at.isoformat(),
        "pinned": conversation.pinned,
        "folder_id": conversation.folder_id,
        "title_source": conversation.title_source,
    }


def _message_json(message: Message) -> dict[str, Any]:
    is_user = message.role == Message.Role.USER
    return {
        "id": message.pk,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "html": render_plain(message.content) if is_user else render_markdown(message.content),
        "status": message.status,
        "model_label": message.model_label,
        "created_at": message.created_at.isoformat(),
        "error": message_error(message.error_code, message.error_params, message.error_message),
        "note": filter_note(message.status),
        "superseded": message.superseded,
        "context_trimmed": message.context_trimmed,
    }


_body = json_body


@json_api
@require_GET
def conversations(request: AuthedRequest) -> JsonResponse:
    query = request.GET.get("q", "").replace("\x00", "")[:200]  # PostgreSQL text cannot hold NUL
    rows = list(conversation_list(tenant=request.tenant, user=request.user, query=query)[:200])
    hits = conversation_search_hits(tenant=request.tenant, conversations=rows, query=query)
    return JsonResponse(
        {
            "conversations": [
                {
                    "id": c.pk,
                    "title": c.title,
                    "updated_at": c.updated_at.isoformat(),
                    "model_label": c.model_version.label if c.model_version else "",
                    "pinned": c.pinned,
                    "folder_id": c.folder_id,
                    # With a query: where it matched ("title" | "message") and the first matching message's text
                    # around the hit ("" when only the title matched). Without one: null and "".
                    "match": hits[c.pk].match if hits else None,
                    "snippet": hits[c.pk].snippet if hits else "",
                }
                for c in rows
            ],
            # Pinned ones come first, then the newest; the page groups the rest by day from updated_at. The folders
            # too, so one request draws the whole sidebar.
            "folders": [folder_state(f) for f in folder_list(tenant=request.tenant, user=request.user)],
        }
    )


@json_api
@require_GET
def conversation_detail(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_get(tenant=request.tenant, user=request.user, conversation_id=conversation_id)
    return JsonResponse(_conversation_page(request, conversation))


def _conversation_page(request: AuthedRequest, conversation: Conversation) -> dict[str, Any]:
    """The conversation as the page shows it: its active path (``chat.branches``), each message with its versions."""
    every = list(message_list(tenant=request.tenant, conversation=conversation))
    messages = [m for m in every if not m.superseded]
    versions = versions_of([(m.pk, m.parent_id) for m in every], [m.pk for m in messages])
    running = next((m for m in reversed(messages) if m.status == Message.Status.STREAMING), None)
    if running is not None:
        running.content = buffer_read_sync(running.pk) or running.content
    answers = [m.pk for m in messages if m.role == Message.Role.ASSISTANT]
    thumbs = feedback_by_message(tenant=request.tenant, user=request.user, message_ids=answers)
    files = attachments_by_message(messages)
    return {
        "conversation": _conversation_json(conversation),
        "messages": [
            {
                **_message_json(m),
                "feedback": thumbs.get(m.pk),
                "versions": versions[m.pk].as_json() if m.pk in versions else None,
                "attachments": [attachment_json(a) for a in files.get(m.pk, [])],
            }
            for m in messages
        ],
        # The text so far (reply buffer): the page shows it and joins the socket with this end for the rest.
        "running": {"message_id": running.pk, "end": len(running.content)} if running else None,
    }


@json_api
@require_POST
def show_version(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    """``POST /api/conversations/<id>/versions/`` ``{"message_id": n}``: show that version of a question or an
    answer (the "< 1/2 >" arrows). Answers with the conversation as the page then shows it."""
    body = _body(request)
    conversation_version_show(
        tenant=request.tenant, user=request.user, conversation_id=conversation_id, message_id=body.get("message_id")
    )
    conversation = conversation_get(tenant=request.tenant, user=request.user, conversation_id=conversation_id)
    return JsonResponse(_conversation_page(request, conversation))


def _mutation(request: AuthedRequest, conversation_id: int, action: Any) -> JsonResponse:
    conversation = conversation_get(tenant=request.tenant, user=request.user, conversation_id=conversation_id)
    return JsonResponse(action(conversation, _body(request)))  # a ChatRefused becomes its JSON error in json_api


@json_api
@require_POST
def rename(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    return _mutation(
        request,
        conversation_id,
        lambda c, body: {
            "conversation": _conversation_json(
                conversation_rename(tenant=request.tenant, user=request.user, conversation=c, title=body.get("title"))
            )
        },
    )


@json_api
@require_POST
def delete(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    def act(c: Conversation, body: dict[str, Any]) -> dict[str, Any]:
        conversation_delete(tenant=request.tenant, user=request.user, conversation=c)
        return {"ok": True}

    return _mutation(request, conversation_id, act)


@json_api
@require_POST
def pin(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    """``{"pinned": true | false}`` → ``{"conversation": {…}}``."""
    return _mutation(
        request,
        conversation_id,
        lambda c, body: {
            "conversation": _conversation_json(
                conversation_pin(tenant=request.tenant, user=request.user, conversation=c, pinned=body.get("pinned"))
            )
        },
    )


@json_api
@require_POST
def conversation_folder(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    """``{"folder_id": <id> | null}`` → ``{"conversation": {…}}``; another person's folder is a 404."""

    def act(c: Conversation, body: dict[str, Any]) -> dict[str, Any]:
        if "folder_id" not in body:
            raise ChatRefused("bad_value", _("“%(name)s” must be the id of a folder, or null.") % {"name": "folder_id"})
        moved = conversation_folder_set(
            tenant=request.tenant, user=request.user, conversation=c, folder_id=body["folder_id"]
        )
        return {"conversation": _conversation_json(moved)}

    return _mutation(request, conversation_id, act)


# --- Folders (the sidebar's) ----------------------------------------------------------------------------------------
def _folders_json(request: AuthedRequest) -> list[dict[str, Any]]:
    return [folder_state(f) for f in folder_list(tenant=request.tenant, user=request.user)]


@json_api
@require_http_methods(["GET", "POST"])
def folders(request: AuthedRequest) -> JsonResponse:
    """``GET`` → ``{"folders": [{id, name, position}]}`` in order; ``POST {"name": …}`` → 201 ``{"folder": {…}}``."""
    if request.method == "GET":
        return JsonResponse({"folders": _folders_json(request)})
    name = _body(request).get("name")
    folder = folder_create(tenant=request.tenant, user=request.user, name=name)
    return JsonResponse({"folder": folder_state(folder)}, status=201)


@json_api
@require_POST
def folder_rename_view(request: AuthedRequest, folder_id: int) -> JsonResponse:
    """``{"name": …}`` → ``{"folder": {…}}``."""
    name = _body(request).get("name")
    folder = folder_rename(tenant=request.tenant, user=request.user, folder_id=folder_id, name=name)
    return JsonResponse({"folder": folder_state(folder)})


@json_api
@require_POST
def folder_delete_view(request: AuthedRequest, folder_id: int) -> JsonResponse:
    """→ ``{"ok": true}``; the folder's conversations stay, in no folder."""
    folder_delete(tenant=request.tenant, user=request.user, folder_id=folder_id)
    return JsonResponse({"ok": True})


@json_api
@require_POST
def folder_move_view(request: AuthedRequest, folder_id: int) -> JsonResponse:
    """``{"position": n}`` (0 is the top) → ``{"folders": [...]}`` in their new order."""
    position = _body(request).get("position")
    moved = folder_move(tenant=request.tenant, user=request.user, folder_id=folder_id, position=position)
    return JsonResponse({"folders": [folder_state(f) for f in moved]})


@json_api
@require_POST
def configure(request: AuthedRequest, conversation_id: int) -> JsonResponse:
    return _mutation(
        request,
        conversation_id,
        lambda c, body: {
            "conversation": _conversation_json(
                conversation_configure(
                    tenant=request.tenant,
                    conversation=c,
                    system_prompt=body.get("system_prompt"),
                    model_version_id=body.get("model_version_id"),
                )
            )
        },
    )


# --- Exports --------------------------------------------------------------------------------------------------------
def _export_rows(request: AuthedRequest, conversation_id: int) -> tuple[Conversation, list[Message]]:
    conversation = conversation_get(tenant=request.tenant, user=request.user, conversation_id=conversation_id)
    return conversation, list(message_list(tenant=request.tenant, conversation=conversation))


def export_disposition(title: str, pk: int, ext: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the UTF-8 ``filename*`` (RFC 8187) that keeps a Japanese
    title: ``attachment; filename="conversation-7.md"; filename*=UTF-8''%E4%BC%9A%E8%AD%B0.md``."""
    name = slugify(title, allow_unicode=True)[:60] or f"conversation-{pk}"
    fallback = slugify(title)[:60] or f"conversation-{pk}"
    return f"attachment; filename=\"{fallback}.{ext}\"; filename*=UTF-8''{quote(f'{name}.{ext}', safe='')}"


def _download(body: str, conversation: Conversation, ext: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = export_disposition(conversation.title, conversation.pk, ext)
    return response


@require_GET
def export_markdown(request: AuthedRequest, conversation_id: int) -> HttpResponse:
    conversation, messages = _export_rows(request, conversation_id)
    untitled, exported, system_prompt = _("Conversation"), _("Exported"), _("System prompt")
    you, assistant = _("You"), _("Assistant")
    lines = ["# " + (conversation.title or untitled), ""]
    lines.append(f"_{exported} {timezone.localtime():%Y-%m-%d %H:%M} · {request.user.email}_")
    if conversation.system_prompt:
        lines += ["", f"**{system_prompt}:**", "", conversation.system_prompt]
    for message in messages:
        if message.superseded:
            continue
        who = you if message.role == Message.Role.USER else f"{assistant} ({message.model_label})"
        lines += ["", f"## {who}", "", message.content]
        if message.status not in (Message.Status.OK, Message.Status.STREAMING):
            lines += ["", f"_({message.get_status_display()})_"]
    return _download("\n".join(lines) + "\n", conversation, "md", "text/markdown; charset=utf-8")


@require_GET
def export_json(request: AuthedRequest, conversation_id: int) -> HttpResponse:
    conversation, messages = _export_rows(request, conversation_id)
    data = {
        "conversation": _conversation_json(conversation),
        "exported_at": timezone.now().isoformat(),
        "messages": [{k: v for k, v in _message_json(m).items() if k != "html"} for m in messages],
    }
    return _download(json.dumps(data, ensure_ascii=False, indent=2), conversation, "json", "application/json")


@json_api
@require_POST
def feedback(request: AuthedRequest, message_id: int) -> JsonResponse:
    """``POST /api/messages/<id>/feedback/`` ``{"rating": 1 | -1 | 0, "comment": "..."}``: the person's thumbs on
    an answer (0 takes it back)."""
    body = _body(request)
    saved = feedback_save(
        tenant=request.tenant,
        user=request.user,
        message_id=message_id,
        rating=body.get("rating"),
        comment=body.get("comment", ""),
    )
    return JsonResponse({"message_id": message_id, "feedback": saved})


__all__ = ["Http404", "chat_page"]
