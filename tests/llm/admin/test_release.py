"""Release day in the admin console (llm/release.py, docs/models.md): presets, a new version from an existing one
tested with the request its flags build, a roll-out in one transaction, switching a company's default without a
constraint error; and the console's clean-up (no stock clutter, messages as written, endpoint ports kept)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditOutbox
from chat.models import Conversation
from llm.models import ModelVersion, ModelVersionAccess
from llm.release import PRESETS
from llm.specs import deployment_snapshot
from tenants.models import Tenant, User
from tests.conftest import signed_in
from tests.model_fixtures import make_deployment
from tests.upstream.server import UpstreamServer


@pytest.fixture
def ops(operator: User) -> Client:
    return signed_in(operator)


def copy_form(source: ModelVersion, deployment_ids: list[int], **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "display_name": "o4-mini",
        "family": "o4-mini",
        "version": "2025-04-16",
        "status": "active",
        "description_en": "Fast reasoning",
        "description_ja": "高速な推論",
        "context_window": "200000",
        "max_output_tokens": "100000",
        "token_param": "max_completion_tokens",
        "system_role": "developer",
        "reasoning_efforts": "low,medium,high",
        "vision": "on",
        "streaming": "on",
        "usage_in_stream": "on",
        "deployments": deployment_ids,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def audited(event_type: str) -> list[AuditOutbox]:
    return list(AuditOutbox.objects.filter(event_type=event_type).order_by("pk"))


# --- presets ----------------------------------------------------------------------------------------------------------
def test_a_preset_fills_the_new_version_form_and_every_flag_stays_editable(ops: Client) -> None:
    page = ops.get("/admin/llm/modelversion/add/").content.decode()
    for preset in PRESETS.values():
        assert f'href="?preset={preset.key}"' in page
    page = ops.get("/admin/llm/modelversion/add/", {"preset": "o-series"}).content.decode()
    assert 'data-testid="preset-applied"' in page
    assert '<option value="max_completion_tokens" selected>' in page
    assert '<option value="developer" selected>' in page
    assert 'name="temperature_allowed" id="id_temperature_allowed">' in page  # unticked, editable
    assert 'value="low,medium,high"' in page
    assert ops.get("/admin/llm/modelversion/add/", {"preset": "nonsense"}).status_code == 200  # ignored


# --- new version from this one ----------------------------------------------------------------------------------------
def test_a_new_version_from_an_existing_one_is_tested_with_its_flags_then_saved_with_deployments_and_access(
    ops: Client, o3mini: ModelVersion, upstream: UpstreamServer, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    upstream.add_deployment("o4-mini", reasoning=True)
    target = make_deployment(upstream, "japaneast-o4mini", "o4-mini", api_version="2024-12-01-preview")
    url = f"/admin/llm/modelversion/{o3mini.pk}/copy/"
    page = ops.get(url).content.decode()
    assert 'value="o3-mini"' in page  # the source's values are the start
    assert 'value="2025-01-31"' not in page  # the version string is the new one's own

    response = ops.post(url, copy_form(o3mini, [target.pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    new = ModelVersion.objects.get(family="o4-mini")
    assert response["Location"] == f"/admin/llm/modelversion/{new.pk}/rollout/?replaces={o3mini.pk}"
    sent = upstream.requests_to("o4-mini")[-1].json
    assert "max_completion_tokens" in sent  # the request its flags build
    assert "max_tokens" not in sent
    assert "temperature" not in sent
    assert [d.label for d in new.deployments.all()] == ["japaneast-o4mini"]
    assert set(new.tenants.all()) == {tenant_a, tenant_b}  # access as the source had it
    assert not ModelVersionAccess.objects.filter(model_version=new, is_default=True).exists()  # defaults stay put
    (entry,) = audited("admin.modelversion.created")
    assert entry.payload["from"] == o3mini.label
    assert entry.payload["changed"]["family"] == ["o3-mini", "o4-mini"]


def test_flags_the_deployment_refuses_are_caught_before_anything_is_saved(
    ops: Client, o3mini: ModelVersion, upstream: UpstreamServer
) -> None:
    upstream.add_deployment("o4-mini", reasoning=True)
    target = make_deployment(upstream, "japaneast-o4mini", "o4-mini", api_version="2024-12-01-preview")
    form = copy_form(o3mini, [target.pk], token_param="max_tokens")  # the old chat-model flag
    response = ops.post(f"/admin/llm/modelversion/{o3mini.pk}/copy/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The test request with these settings failed on japaneast-o4mini" in page
    assert "max_tokens" in page
    assert "max_tokens" in upstream.requests_to("o4-mini")[-1].json
    assert not ModelVersion.objects.filter(family="o4-mini").exists()
    # The diff table shows what the form holds against the source.
    assert 'data-field="token_param"' in page


def test_a_copy_needs_a_new_version_string(ops: Client, o3mini: ModelVersion) -> None:
    deployment = o3mini.deployments.get()
    form = copy_form(o3mini, [deployment.pk], family="o3-mini", version=o3mini.version)
    response = ops.post(f"/admin/llm/modelversion/{o3mini.pk}/copy/", form)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert ModelVersion.objects.filter(family="o3-mini").count() == 1


# --- roll-out ---------------------------------------------------------------------------------------------------------
def test_roll_out_to_all_companies_as_default_retiring_the_old_version_in_one_submit(
    ops: Client,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: UpstreamServer,
    user_a: User,
    user_b: User,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    new = ModelVersion.objects.create(display_name="GPT-4.1", family="gpt-4.1", version="2025-04-14")
    new.modelversiondeployment_set.create(deployment=gpt4o.deployments.get(label="japaneast-gpt4o"))
    on_old_a = Conversation.objects.create(tenant=tenant_a, user=user_a, title="a", model_version=gpt4o)
    response = ops.post(
        f"/admin/llm/modelversion/{new.pk}/rollout/",
        {"all_companies": "on", "make_default": "on", "retire": o3mini.pk},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    defaults = dict(ModelVersionAccess.objects.filter(is_default=True).values_list("tenant_id", "model_version_id"))
    assert defaults == {tenant_a.pk: new.pk, tenant_b.pk: new.pk}
    o3mini.refresh_from_db()
    assert o3mini.status == ModelVersion.Status.RETIRED
    on_old_a.refresh_from_db()
    assert on_old_a.model_version_id == gpt4o.pk  # gpt-4o was not retired
    page = ops.get(response["Location"]).content.decode()
    assert "gpt-4.1 2025-04-14 rolled out." in page
    (platform, *per_company) = audited("admin.modelversion.rolled_out")
    assert platform.tenant_id is None
    assert {e.tenant_id for e in per_company} == {tenant_a.pk, tenant_b.pk}
    changed = audited("admin.modelversion.default_changed")
    assert {(e.tenant_id, e.payload["from"]) for e in changed} == {
        (tenant_a.pk, gpt4o.label),
        (tenant_b.pk, o3mini.label),
    }


def test_retiring_moves_conversations_to_the_successor_or_the_companys_default(
    ops: Client, gpt4o: ModelVersion, user_a: User, user_b: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    new = ModelVersion.objects.create(display_name="GPT-4.1", family="gpt-4.1", version="2025-04-14")
    new.modelversiondeployment_set.create(deployment=gpt4o.deployments.get(label="japaneast-gpt4o"))
    mine = Conversation.objects.create(tenant=tenant_a, user=user_a, title="a", model_version=gpt4o)
    theirs = Conversation.objects.create(tenant=tenant_b, user=user_b, title="b", model_version=gpt4o)
    before = mine.updated_at
    response = ops.post(
        f"/admin/llm/modelversion/{new.pk}/rollout/",
        {"companies": [tenant_a.pk], "make_default": "on", "retire": gpt4o.pk},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.model_version_id == new.pk  # A may use the successor
    assert theirs.model_version_id is None  # B may not: its company default
    assert mine.updated_at == before  # the sidebar order does not change
    assert audited("admin.modelversion.rolled_out")[0].payload["conversations_moved"] == 2


def test_a_roll_out_that_would_leave_a_company_without_a_default_changes_nothing(
    ops: Client, gpt4o: ModelVersion, o3mini: ModelVersion, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    new = ModelVersion.objects.create(display_name="o4-mini", family="o4-mini", version="2025-04-16")
    new.modelversiondeployment_set.create(deployment=o3mini.deployments.get())
    # o3-mini is B's default; rolling out to A only and retiring o3-mini would leave B with none.
    response = ops.post(
        f"/admin/llm/modelversion/{new.pk}/rollout/",
        {"companies": [tenant_a.pk], "make_default": "on", "retire": o3mini.pk},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "would leave these companies without a default model: Beta Inc" in page
    assert not ModelVersionAccess.objects.filter(model_version=new).exists()
    assert ModelVersionAccess.objects.get(tenant=tenant_a, is_default=True).model_version_id == gpt4o.pk
    o3mini.refresh_from_db()
    assert o3mini.status == ModelVersion.Status.ACTIVE
    assert not audited("admin.modelversion.rolled_out")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Choose at least one company, or all companies."),
        ({"all_companies": "on", "retire": "self"}, "Select a valid choice."),
    ],
)
def test_roll_out_form_errors_are_plain_sentences(
    ops: Client, gpt4o: ModelVersion, form: dict[str, str], message: str
) -> None:
    if form.get("retire") == "self":
        form = {**form, "retire": str(gpt4o.pk)}
    response = ops.post(f"/admin/llm/modelversion/{gpt4o.pk}/rollout/", form)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_a_version_with_no_enabled_deployment_cannot_become_a_default(
    ops: Client, gpt4o: ModelVersion, tenant_a: Tenant
) -> None:
    bare = ModelVersion.objects.create(display_name="Empty", family="empty", version="1")
    response = ops.post(f"/admin/llm/modelversion/{bare.pk}/rollout/", {"all_companies": "on", "make_default": "on"})
    assert "has no enabled deployment" in response.content.decode()
    assert ModelVersionAccess.objects.get(tenant=tenant_a, is_default=True).model_version_id == gpt4o.pk


def test_ticking_a_new_default_in_the_access_inline_switches_the_company_default(
    ops: Client, gpt4o: ModelVersion, o3mini: ModelVersion, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    access_a = ModelVersionAccess.objects.get(model_version=o3mini, tenant=tenant_a)
    access_b = ModelVersionAccess.objects.get(model_version=o3mini, tenant=tenant_b)
    link = o3mini.modelversiondeployment_set.get()
    form = {
        "display_name": o3mini.display_name,
        "family": o3mini.family,
        "version": o3mini.version,
        "status": "active",
        "context_window": str(o3mini.context_window),
        "max_output_tokens": str(o3mini.max_output_tokens),
        "token_param": o3mini.token_param,
        "system_role": o3mini.system_role,
        "streaming": "on",
        "usage_in_stream": "on",
        "reasoning_efforts": o3mini.reasoning_efforts,
        "modelversiondeployment_set-TOTAL_FORMS": "1",
        "modelversiondeployment_set-INITIAL_FORMS": "1",
        "modelversiondeployment_set-0-id": link.pk,
        "modelversiondeployment_set-0-model_version": o3mini.pk,
        "modelversiondeployment_set-0-deployment": link.deployment_id,
        "modelversiondeployment_set-0-priority": "0",
        "modelversionaccess_set-TOTAL_FORMS": "2",
        "modelversionaccess_set-INITIAL_FORMS": "2",
        "modelversionaccess_set-0-id": access_a.pk,
        "modelversionaccess_set-0-model_version": o3mini.pk,
        "modelversionaccess_set-0-tenant": tenant_a.pk,
        "modelversionaccess_set-0-is_default": "on",  # A's default is gpt-4o until now
        "modelversionaccess_set-1-id": access_b.pk,
        "modelversionaccess_set-1-model_version": o3mini.pk,
        "modelversionaccess_set-1-tenant": tenant_b.pk,
        "modelversionaccess_set-1-is_default": "on",
    }
    response = ops.post(f"/admin/llm/modelversion/{o3mini.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    defaults = dict(ModelVersionAccess.objects.filter(is_default=True).values_list("tenant_id", "model_version_id"))
    assert defaults == {tenant_a.pk: o3mini.pk, tenant_b.pk: o3mini.pk}
    (changed,) = audited("admin.modelversion.default_changed")
    assert (changed.tenant_id, changed.payload) == (tenant_a.pk, {"from": gpt4o.label, "to": o3mini.label})

    # The same save with flags its deployment refuses is caught by the test request, and nothing changes.
    response = ops.post(f"/admin/llm/modelversion/{o3mini.pk}/change/", {**form, "token_param": "max_tokens"})
    assert response.status_code == 200
    assert "The test request with these settings failed on japaneast-o3mini" in response.content.decode()
    o3mini.refresh_from_db()
    assert o3mini.token_param == "max_completion_tokens"


def test_tenant_admins_cannot_copy_or_roll_out(admin_a: User, gpt4o: ModelVersion, tenant_a: Tenant) -> None:
    client = signed_in(admin_a)
    for url in (f"/admin/llm/modelversion/{gpt4o.pk}/copy/", f"/admin/llm/modelversion/{gpt4o.pk}/rollout/"):
        assert client.get(url).status_code == 403
        assert client.post(url, {"all_companies": "on", "make_default": "on"}).status_code == 403
    assert ModelVersionAccess.objects.filter(model_version=gpt4o).count() == 1


# --- the console's clean-up -------------------------------------------------------------------------------------------
def test_the_console_lists_only_what_the_product_uses(ops: Client) -> None:
    index = ops.get("/admin/").content.decode()
    for hidden in ("/admin/auth/group/", "/admin/sites/site/", "/admin/account/emailaddress/", "/admin/socialaccount/"):
        assert hidden not in index
    for shown in ("/admin/llm/modelversion/", "/admin/tenants/tenant/", "/admin/audit/auditentry/"):
        assert shown in index
    assert ops.get("/admin/auth/group/").status_code == 404


def test_admin_messages_keep_a_lower_case_label(ops: Client, upstream: UpstreamServer) -> None:
    deployment = make_deployment(upstream, "az-echo", "gpt-4o")
    response = ops.post(
        "/admin/llm/deployment/",
        {"action": "test_connection", "_selected_action": [deployment.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "az-echo: OK in" in page
    assert "Az-echo" not in page


def test_the_audit_snapshot_of_a_deployment_keeps_the_endpoint_port(
    gpt4o: ModelVersion, upstream: UpstreamServer
) -> None:
    deployment = gpt4o.deployments.first()
    assert deployment is not None
    snapshot = deployment_snapshot(deployment, gpt4o)
    assert snapshot["endpoint_host"] == upstream.url.removeprefix("http://")  # 127.0.0.1:<port>
    assert ":" in snapshot["endpoint_host"]
