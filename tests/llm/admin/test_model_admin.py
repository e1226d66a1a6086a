"""Deployments and model versions in the admin console: tested on save, keys encrypted, audited, scoped."""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client

from audit.models import AuditOutbox
from llm import admin as llm_admin
from llm.models import Deployment, ModelVersion
from tenants.models import User
from tests.conftest import signed_in
from tests.model_fixtures import KEY, make_deployment
from tests.upstream.server import UpstreamServer, hang


def deployment_form(upstream: UpstreamServer, **overrides: Any) -> dict[str, Any]:
    form = {
        "label": "japaneast-new",
        "kind": "azure_dated",
        "endpoint": upstream.url,
        "deployment_name": "gpt-4o",
        "api_version": "2024-10-21",
        "api_key": KEY,
        "connect_timeout": "2",
        "first_token_timeout": "5",
        "stall_timeout": "5",
        "enabled": "on",
        "region": "japaneast",
        "notes": "",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def ops(operator: User) -> Client:
    return signed_in(operator)


def test_add_deployment_is_tested_on_save_and_reports_latency_and_model(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post("/admin/llm/deployment/add/", deployment_form(upstream), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Connection test passed" in page
    assert "gpt-4o-2024-11-20" in page
    deployment = Deployment.objects.get(label="japaneast-new")
    assert deployment.last_check_ok is True
    assert deployment.last_check_latency_ms is not None
    sent = upstream.requests_to("gpt-4o")[-1]
    assert sent.headers["api-key"] == KEY
    assert sent.query["api-version"] == "2024-10-21"


def test_bad_key_is_refused_with_the_upstreams_reason(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post("/admin/llm/deployment/add/", deployment_form(upstream, api_key="sk-wrong"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "connection test failed" in page
    assert "The upstream rejected the API key (HTTP 401)" in page
    assert not Deployment.objects.exists()


def test_missing_deployment_is_refused_naming_it(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post("/admin/llm/deployment/add/", deployment_form(upstream, deployment_name="gpt-5-typo"))
    assert response.status_code == 200
    assert "gpt-5-typo" in response.content.decode()
    assert not Deployment.objects.exists()


def test_unsupported_api_version_is_explained(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post("/admin/llm/deployment/add/", deployment_form(upstream, api_version="2023-03-15-preview"))
    assert response.status_code == 200
    assert "API version “2023-03-15-preview” is not supported" in response.content.decode()
    assert not Deployment.objects.exists()


def test_failing_deployment_can_be_saved_only_disabled(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post(
        "/admin/llm/deployment/add/", deployment_form(upstream, api_key="sk-wrong", enabled=None), follow=True
    )
    assert response.status_code == 200
    assert "Saved as disabled" in response.content.decode()
    deployment = Deployment.objects.get(label="japaneast-new")
    assert deployment.enabled is False
    assert deployment.last_check_ok is False
    assert deployment.last_check_error


def test_unreachable_endpoint(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post(
        "/admin/llm/deployment/add/", deployment_form(upstream, endpoint="http://127.0.0.1:9", connect_timeout="0.5")
    )
    assert response.status_code == 200
    assert "connection test failed" in response.content.decode()
    assert "is unreachable" in response.content.decode()


def test_form_validation_needs_api_version_for_dated_api(ops: Client, upstream: UpstreamServer) -> None:
    response = ops.post("/admin/llm/deployment/add/", deployment_form(upstream, api_version=""))
    assert response.status_code == 200
    assert "needs an api-version" in response.content.decode()
    assert upstream.requests == []  # no live call for an invalid form


def test_key_is_encrypted_at_rest_and_never_shown(ops: Client, upstream: UpstreamServer) -> None:
    deployment = make_deployment(upstream, "d1", "gpt-4o")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM llm_deployment WHERE id = %s", [deployment.pk])
        raw = cursor.fetchone()[0]
    assert KEY not in raw
    assert raw.startswith("fernet:")
    assert Deployment.objects.get(pk=deployment.pk).api_key == KEY
    page = ops.get(f"/admin/llm/deployment/{deployment.pk}/change/").content.decode()
    assert KEY not in page
    assert "sha256:" in page


def test_editing_without_retyping_the_key_keeps_it(ops: Client, upstream: UpstreamServer) -> None:
    deployment = make_deployment(upstream, "d1", "gpt-4o")
    form = deployment_form(upstream, label="d1", api_key="", region="eastus")
    response = ops.post(f"/admin/llm/deployment/{deployment.pk}/change/", form)
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.api_key == KEY
    assert deployment.region == "eastus"


def test_changes_are_audited_with_key_fingerprint_only(ops: Client, upstream: UpstreamServer) -> None:
    ops.post("/admin/llm/deployment/add/", deployment_form(upstream))
    deployment = Deployment.objects.get(label="japaneast-new")
    ops.post(
        f"/admin/llm/deployment/{deployment.pk}/change/",
        deployment_form(upstream, api_key="sk-test-SECRET-0123456789abcdef", region="westus"),
    )
    rows = list(AuditOutbox.objects.filter(event_type__startswith="admin.deployment.").order_by("pk"))
    assert [r.event_type for r in rows] == ["admin.deployment.created", "admin.deployment.updated"]
    assert rows[0].tenant_id is None  # a global object: the global chain
    assert rows[0].payload["after"]["api_key"].startswith("sha256:")
    assert KEY not in str([r.payload for r in rows])
    assert rows[1].payload["changed_fields"] == ["region"]


def test_test_connection_action_and_health_page(ops: Client, upstream: UpstreamServer) -> None:
    good = make_deployment(upstream, "good", "gpt-4o")
    bad = make_deployment(upstream, "bad", "gpt-4o", api_key="sk-wrong")
    response = ops.post(
        "/admin/llm/deployment/",
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    page = response.content.decode().lower()  # the admin capitalises messages
    assert "good: ok in" in page
    assert "bad: the upstream rejected the api key (http 401)" in page
    health = ops.get("/admin/llm/deployment/health/").content.decode()
    assert "good" in health
    assert "bad" in health
    assert "Failed" in health


def test_llm_health_command(upstream: UpstreamServer, db: None) -> None:
    make_deployment(upstream, "good", "gpt-4o")
    out = StringIO()
    call_command("llm_health", stdout=out)
    assert "OK" in out.getvalue()
    make_deployment(upstream, "broken", "missing-deployment")
    with pytest.raises(CommandError, match="broken"):
        call_command("llm_health", stdout=StringIO())


def test_tenant_admin_cannot_reach_deployments_or_model_versions(
    admin_a: User, upstream: UpstreamServer, gpt4o: ModelVersion
) -> None:
    client = signed_in(admin_a)
    deployment = Deployment.objects.first()
    assert deployment is not None
    assert client.get("/admin/llm/deployment/").status_code == 403
    assert client.get(f"/admin/llm/deployment/{deployment.pk}/change/").status_code == 403
    assert client.get("/admin/llm/modelversion/").status_code == 403
    assert client.get(f"/admin/llm/modelversion/{gpt4o.pk}/change/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "/admin/llm/deployment/" not in index
    assert "/admin/llm/modelversion/" not in index


def test_operator_manages_model_versions_with_deployments_and_tenants(
    ops: Client, upstream: UpstreamServer, tenant_a: Any, tenant_b: Any
) -> None:
    deployment = make_deployment(upstream, "d1", "gpt-4o")
    response = ops.post(
        "/admin/llm/modelversion/add/",
        {
            "display_name": "GPT-4.1",
            "family": "gpt-4.1",
            "version": "2025-04-14",
            "status": "active",
            "context_window": "1000000",
            "max_output_tokens": "32768",
            "token_param": "max_tokens",
            "temperature_allowed": "on",
            "system_role": "system",
            "streaming": "on",
            "usage_in_stream": "on",
            "reasoning_efforts": "",
            "modelversiondeployment_set-TOTAL_FORMS": "1",
            "modelversiondeployment_set-INITIAL_FORMS": "0",
            "modelversiondeployment_set-0-deployment": deployment.pk,
            "modelversiondeployment_set-0-priority": "0",
            "modelversionaccess_set-TOTAL_FORMS": "1",
            "modelversionaccess_set-INITIAL_FORMS": "0",
            "modelversionaccess_set-0-tenant": tenant_b.pk,
            "modelversionaccess_set-0-is_default": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    version = ModelVersion.objects.get(family="gpt-4.1")
    assert list(version.tenants.all()) == [tenant_b]
    assert AuditOutbox.objects.filter(event_type="admin.modelversion.created").count() == 1


# --- Live checks off the request path ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_hanging_upstream_holds_a_save_only_for_the_check_budget_and_never_inside_the_transaction(
    operator: User, upstream: UpstreamServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LLM_ADMIN_CHECK_TIMEOUT = 1
    seen: list[bool] = []
    real = llm_admin.deployment_check

    def watched(**kwargs: Any) -> Any:
        seen.append(transaction.get_connection().in_atomic_block)
        return real(**kwargs)

    monkeypatch.setattr(llm_admin, "deployment_check", watched)
    upstream.script("gpt-4o", hang(seconds=30))
    started = time.monotonic()
    # The deployment's own first-token timeout is 60 s; the admin's budget (1 s) wins.
    response = signed_in(operator).post(
        "/admin/llm/deployment/add/", deployment_form(upstream, first_token_timeout="60")
    )
    elapsed = time.monotonic() - started
    assert elapsed < 6, elapsed
    assert response.status_code == 200
    assert "The connection test failed" in response.content.decode()
    assert not Deployment.objects.exists()
    assert seen == [False]  # one live call, made before the admin's transaction opened


@pytest.mark.django_db(transaction=True)
def test_test_connection_and_check_all_call_every_deployment_at_once(
    operator: User, upstream: UpstreamServer, settings: Any
) -> None:
    settings.LLM_ADMIN_CHECK_TIMEOUT = 2
    deployments = []
    for index in range(4):
        upstream.add_deployment(f"slow-{index}")
        deployments.append(make_deployment(upstream, f"slow-{index}", f"slow-{index}", first_token_timeout=60))
    client = signed_in(operator)
    for round_ in ("action", "check all"):
        for index in range(4):
            upstream.script(f"slow-{index}", hang(seconds=30))
        started = time.monotonic()
        if round_ == "action":
            response = client.post(
                "/admin/llm/deployment/",
                {"action": "test_connection", "_selected_action": [d.pk for d in deployments]},
                follow=True,
            )
        else:
            response = client.post("/admin/llm/deployment/health/", follow=True)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 6, (round_, elapsed)  # one budget, not four
        assert all(not d.last_check_ok for d in Deployment.objects.all()), round_
    assert "did not answer in time" in Deployment.objects.first().last_check_error  # type: ignore[union-attr]


def test_a_check_error_is_said_in_the_readers_language(upstream: UpstreamServer, db: None) -> None:
    from django.utils import translation

    from llm.client import ConnectionTestResult
    from llm.client.types import Error
    from llm.services import deployment_check_record

    deployment = make_deployment(upstream, "jp-east", "missing-deployment")
    error = Error(kind="deployment_not_found", message="", retryable=False, status_code=404)
    with translation.override("en"):
        deployment_check_record(
            deployment=deployment,
            result=ConnectionTestResult(ok=False, latency_ms=None, upstream_model=None, error=error, admin_message="x"),
        )
    deployment.refresh_from_db()
    assert deployment.last_check_error_params["deployment_name"] == "missing-deployment"
    with translation.override("en"):
        english = deployment.last_check_error_text()
    with translation.override("ja"):
        japanese = deployment.last_check_error_text()
    assert "missing-deployment" in english
    assert "missing-deployment" in japanese
    assert english != japanese  # made when read, in the reader's language, not stored in the writer's
