"""Reads of the prompt library. A person reads their own prompts and their company's shared ones; another
person's prompt and another company's are the same 404 as a missing one."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from chat.models import Prompt
from tenants.models import Tenant, User


def prompt_can_share(*, user: User, tenant: Tenant) -> bool:
    """Whether ``user`` may create, change and delete ``tenant``'s shared prompts: its admins and operators."""
    return _can_share(user, tenant.pk)


def _can_share(user: User, tenant_id: int) -> bool:
    if not user.is_active:
        return False
    return user.is_superuser or (user.is_tenant_admin and user.tenant_id == tenant_id)


def prompt_list(*, tenant: Tenant, user: User) -> QuerySet[Prompt]:
    """The prompts ``user`` may use: their own and the company's shared ones, by name."""
    if user.tenant_id != tenant.pk:
        return Prompt.objects.none()
    return Prompt.objects.filter(Q(owner=user) | Q(owner__isnull=True), tenant=tenant).order_by("name", "pk")


def prompt_get(*, tenant: Tenant, user: User, prompt_id: object) -> Prompt:
    """One prompt ``user`` may use (their own or a shared one of their company); anything else is a 404."""
    try:
        pk = int(prompt_id)  # type: ignore[call-overload]
    except (ValueError, TypeError):
        raise Http404 from None
    if not 0 < pk < 2**63:  # beyond the column's range: the database would refuse the query itself
        raise Http404
    try:
        return prompt_list(tenant=tenant, user=user).get(pk=pk)
    except Prompt.DoesNotExist:
        raise Http404 from None


def prompt_editable(*, prompt: Prompt, user: User) -> bool:
    """Whether ``user`` may change ``prompt`` (which they can already read)."""
    if prompt.owner_id is None:
        return _can_share(user, prompt.tenant_id)
    return prompt.owner_id == user.pk


def prompt_count(*, tenant: Tenant, owner: User | None) -> int:
    """How many prompts ``owner`` has (``None``: the company's shared prompts)."""
    if owner is None:
        return Prompt.objects.filter(tenant=tenant, owner__isnull=True).count()
    return Prompt.objects.filter(tenant=tenant, owner=owner).count()
