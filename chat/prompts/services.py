"""Writes of the prompt library. Personal prompts belong to one person; shared prompts (``owner`` empty) to the whole
company, and only its admins and operators change them, each change audited (``prompt.shared.*``) in its
transaction. Every text is checked the same way here, for the API, the admin console and the importer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext

from audit.models import Channel
from audit.services import audit_record
from chat.models import Prompt
from chat.prompts.selectors import prompt_can_share, prompt_count
from chat.prompts.variables import MAX_VARIABLES, prompt_variables
from chat.services import ChatRefused, storable
from tenants.models import Tenant, User

MAX_NAME = 100
MAX_DESCRIPTION = 300
MAX_CONTENT = 32_000
MAX_FOLDER_NAME = 100
MAX_PROMPTS = 500  # per person, and shared per company

FIELDS = ("name", "description", "content", "folder_name")


class PromptRefused(ChatRefused):
    """A refused prompt change; ``field`` names the input that is wrong (empty for the prompt as a whole)."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(code, message)
        self.field = field


@dataclass(frozen=True)
class PromptFields:
    name: str
    description: str
    content: str
    folder_name: str


def _storable(text: str, field: str) -> str:
    try:
        return storable(text)
    except ChatRefused as exc:
        raise PromptRefused(exc.code, exc.message, field) from None


def _too_long(field: str, text: str, limit: int) -> PromptRefused:
    return PromptRefused(
        "too_long",
        gettext("The %(field)s is too long: %(n)s characters; the limit is %(max)s.")
        % {"field": _label(field), "n": f"{len(text):,}", "max": f"{limit:,}"},
        field,
    )


def _label(field: str) -> str:
    return {
        "name": gettext("name"),
        "description": gettext("description"),
        "content": gettext("prompt"),
        "folder_name": gettext("folder"),
    }[field]


def _line(value: object, field: str, limit: int) -> str:
    """An optional one-line text (description, folder): runs of spaces and line breaks become one space."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PromptRefused("bad_type", gettext("The %(field)s must be text.") % {"field": _label(field)}, field)
    text = _storable(" ".join(value.split()), field)
    if len(text) > limit:
        raise _too_long(field, text, limit)
    return text


def prompt_fields_clean(
    *, name: object, content: object, description: object = "", folder_name: object = ""
) -> PromptFields:
    """The prompt's fields as stored, or ``PromptRefused`` naming the first wrong one."""
    if not isinstance(name, str) or not name.strip():
        raise PromptRefused("empty", gettext("Enter a name for the prompt."), "name")
    if not isinstance(content, str) or not content.strip():
        raise PromptRefused("empty", gettext("Write the text of the prompt."), "content")
    clean_name = _line(name, "name", MAX_NAME)
    text = _storable(content.strip(), "content")
    if len(text) > MAX_CONTENT:
        raise _too_long("content", text, MAX_CONTENT)
    count = len(prompt_variables(text))
    if count > MAX_VARIABLES:
        raise PromptRefused(
            "too_many_variables",
            gettext("A prompt can have at most %(max)s variables; this one has %(n)s.")
            % {"max": MAX_VARIABLES, "n": count},
            "content",
        )
    return PromptFields(
        name=clean_name,
        description=_line(description, "description", MAX_DESCRIPTION),
        content=text,
        folder_name=_line(folder_name, "folder_name", MAX_FOLDER_NAME),
    )


def _check_may_change(*, user: User, tenant: Tenant, shared: bool) -> None:
    if shared and not prompt_can_share(user=user, tenant=tenant):
        raise PermissionDenied(gettext("Only company administrators can change shared prompts."))


def _check_room(*, tenant: Tenant, owner: User | None) -> None:
    """At most ``MAX_PROMPTS`` per person (shared: per company). The owner's row (the tenant's for shared ones) is
    locked first, so two concurrent creations cannot both take the last place. NO KEY UPDATE does not block rows
    that merely reference it."""
    if owner is not None:
        User.objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
    else:
        Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()
    if prompt_count(tenant=tenant, owner=owner) >= MAX_PROMPTS:
        raise PromptRefused(
            "limit_reached",
            gettext("You can keep at most %(max)s prompts. Delete some to make room.") % {"max": MAX_PROMPTS},
        )


def _audit(*, prompt: Prompt, user: User, action: str, channel: str, changed: list[str] | None = None) -> None:
    payload: dict[str, object] = {"prompt_id": prompt.pk, "name": prompt.name, "folder_name": prompt.folder_name}
    if action != "deleted":
        payload["content_chars"] = len(prompt.content)
        payload["variables"] = prompt_variables(prompt.content)
    if changed is not None:
        payload["changed"] = changed
    audit_record(
        event_type=f"prompt.shared.{action}", tenant=prompt.tenant_id, actor=user, channel=channel, payload=payload
    )


@transaction.atomic
def prompt_create(
    *,
    tenant: Tenant,
    user: User,
    name: object,
    content: object,
    description: object = "",
    folder_name: object = "",
    shared: bool = False,
    channel: str = Channel.WEB,
) -> Prompt:
    """A new prompt: ``user``'s own, or (``shared``, admins only) one for everyone in ``tenant``."""
    if shared:
        _check_may_change(user=user, tenant=tenant, shared=True)
    elif user.tenant_id != tenant.pk:
        raise PermissionDenied
    fields = prompt_fields_clean(name=name, content=content, description=description, folder_name=folder_name)
    owner = None if shared else user
    _check_room(tenant=tenant, owner=owner)
    prompt = Prompt.objects.create(tenant=tenant, owner=owner, created_by=user, **asdict(fields))
    if shared:
        _audit(prompt=prompt, user=user, action="created", channel=channel)
    return prompt


def _may_edit(*, tenant: Tenant, prompt: Prompt, user: User) -> None:
    if prompt.tenant_id != tenant.pk:
        raise PermissionDenied
    if prompt.owner_id is None:
        _check_may_change(user=user, tenant=tenant, shared=True)
    elif prompt.owner_id != user.pk:
        raise PermissionDenied


@transaction.atomic
def prompt_update(
    *,
    tenant: Tenant,
    user: User,
    prompt: Prompt,
    name: object = None,
    content: object = None,
    description: object = None,
    folder_name: object = None,
    channel: str = Channel.WEB,
) -> Prompt:
    """Change the given fields of ``prompt`` (``None``: keep). A prompt stays personal or shared."""
    _may_edit(tenant=tenant, prompt=prompt, user=user)
    given = {"name": name, "content": content, "description": description, "folder_name": folder_name}
    merged = {field: getattr(prompt, field) if value is None else value for field, value in given.items()}
    fields = prompt_fields_clean(**merged)
    changed = [f for f in FIELDS if getattr(prompt, f) != getattr(fields, f)]
    if not changed:
        return prompt
    for field in changed:
        setattr(prompt, field, getattr(fields, field))
    prompt.save(update_fields=[*changed, "updated_at"])
    if prompt.owner_id is None:
        _audit(prompt=prompt, user=user, action="updated", channel=channel, changed=changed)
    return prompt


@transaction.atomic
def prompt_delete(*, tenant: Tenant, user: User, prompt: Prompt, channel: str = Channel.WEB) -> None:
    _may_edit(tenant=tenant, prompt=prompt, user=user)
    if prompt.owner_id is None:
        _audit(prompt=prompt, user=user, action="deleted", channel=channel)
    prompt.delete()


@transaction.atomic
def prompt_shared_save(*, prompt: Prompt, user: User, channel: str = Channel.ADMIN) -> Prompt:
    """Save a shared prompt edited in the admin console (its form has set the fields and the tenant): checked like
    the API's, owner forced empty, audited."""
    tenant = Tenant.objects.get(pk=prompt.tenant_id)
    _check_may_change(user=user, tenant=tenant, shared=True)
    fields = prompt_fields_clean(
        name=prompt.name, content=prompt.content, description=prompt.description, folder_name=prompt.folder_name
    )
    for field in FIELDS:
        setattr(prompt, field, getattr(fields, field))
    prompt.owner = None
    if prompt.pk is None:
        _check_room(tenant=tenant, owner=None)
        prompt.created_by = user
        prompt.save()
        _audit(prompt=prompt, user=user, action="created", channel=channel)
        return prompt
    stored = Prompt.objects.filter(tenant=tenant, pk=prompt.pk).values(*FIELDS).first() or {}
    changed = [f for f in FIELDS if stored.get(f) != getattr(prompt, f)]
    prompt.save()
    if changed:
        _audit(prompt=prompt, user=user, action="updated", channel=channel, changed=changed)
    return prompt
