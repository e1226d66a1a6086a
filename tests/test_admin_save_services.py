"""The services the admin console saves deployments, Slack workspaces and companies through: the acting user's
powers are checked there (not only by the admin's permissions), and a company admin can never write another
company's row."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from llm.client import ConnectionTestResult
from llm.models import Deployment, ProviderKind
from llm.services import deployment_save
from slack.models import SlackWorkspace
from slack.services import slack_workspace_save
from tenants.models import Tenant, User
from tenants.services import tenant_save


def fake_deployment() -> Deployment:
    return Deployment(label="fake-1", kind=ProviderKind.FAKE, endpoint="fake://", deployment_name="fake")


def test_deployments_are_saved_by_operators_only_with_their_check(operator: User, admin_a: User, user_b: User) -> None:
    for person in (admin_a, user_b):
        with pytest.raises(PermissionDenied):
            deployment_save(deployment=fake_deployment(), acting_user=person)
    assert not Deployment.objects.exists()
    check = ConnectionTestResult(True, 12.5, "gpt-4o-2024-11-20", None, "ok")
    saved = deployment_save(deployment=fake_deployment(), acting_user=operator, check=check)
    saved.refresh_from_db()
    assert (saved.last_check_ok, saved.last_check_latency_ms, saved.last_check_model) == (
        True,
        12.5,
        "gpt-4o-2024-11-20",
    )


def test_a_company_admin_saves_slack_workspaces_of_their_own_company_only(
    tenant_a: Tenant, tenant_b: Tenant, admin_a: User, user_a: User, operator: User
) -> None:
    # Aimed at company B by a company A admin: it lands in A.
    workspace = slack_workspace_save(
        workspace=SlackWorkspace(tenant=tenant_b, slug="sneaky", team_id="T1"), acting_user=admin_a
    )
    assert workspace.tenant_id == tenant_a.pk
    with pytest.raises(PermissionDenied):
        slack_workspace_save(workspace=SlackWorkspace(tenant=tenant_a, slug="m", team_id="T2"), acting_user=user_a)
    # An operator chooses the company.
    other = slack_workspace_save(
        workspace=SlackWorkspace(tenant=tenant_b, slug="b", team_id="T3"), acting_user=operator
    )
    assert other.tenant_id == tenant_b.pk
    assert sorted(SlackWorkspace.objects.values_list("slug", "tenant__slug")) == [("b", "beta"), ("sneaky", "alpha")]


def test_companies_are_saved_by_operators_only(
    tenant_a: Tenant, tenant_b: Tenant, admin_a: User, operator: User
) -> None:
    tenant_b.name = "Renamed by A"
    with pytest.raises(PermissionDenied):
        tenant_save(tenant=tenant_b, acting_user=admin_a)
    tenant_b.refresh_from_db()
    assert tenant_b.name == "Beta Inc"
    tenant_b.name = "Beta Holdings"
    tenant_save(tenant=tenant_b, acting_user=operator)
    assert Tenant.objects.get(pk=tenant_b.pk).name == "Beta Holdings"
