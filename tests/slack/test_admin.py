"""Slack workspaces in the admin console: bot checked with auth.test, secrets write-only and fingerprinted,
Request URL and manifest shown, tenant admins limited to their own company."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from audit.hashing import fingerprint
from audit.models import AuditOutbox
from llm.models import ModelVersion
from slack.models import SlackWorkspace
from tenants.models import Tenant, User
from tests.conftest import signed_in
from tests.slack.conftest import SECRET_A, SECRET_B, TOKEN_A
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.django_db

URL = "/admin/slack/slackworkspace/"


def form(tenant: Tenant | None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "alpha-new",
        "team_id": "TALPHA",
        "app_id": "AALPHA",
        "signing_secret": SECRET_A,
        "bot_token": TOKEN_A,
        "model_version": "",
        "enabled": "on",
        "notice_language": "ja",
    }
    if tenant is not None:
        data["tenant"] = tenant.pk
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_operator_adds_a_workspace_and_the_bot_is_filled_from_auth_test(
    operator: User, tenant_a: Tenant, fake_slack: FakeSlack
) -> None:
    response = signed_in(operator).post(URL + "add/", form(tenant_a))
    assert response.status_code == 302, response.context["adminform"].form.errors
    workspace = SlackWorkspace.objects.get(slug="alpha-new")
    assert (workspace.bot_user_id, workspace.bot_id, workspace.bot_name) == ("UBOTA", "BALPHA", "officeai")
    assert workspace.include_thread_context is False
    assert len(fake_slack.calls_to("auth.test")) == 1
    entry = AuditOutbox.objects.get(event_type="admin.slackworkspace.created")
    after = json.dumps(entry.payload["after"])
    assert SECRET_A not in after
    assert TOKEN_A not in after
    assert entry.payload["after"]["bot_token"] == fingerprint(TOKEN_A)
    assert entry.payload["after"]["signing_secret"] == fingerprint(SECRET_A)


def test_a_bad_bot_token_is_a_form_error(operator: User, tenant_a: Tenant, fake_slack: FakeSlack) -> None:
    response = signed_in(operator).post(URL + "add/", form(tenant_a, bot_token="xoxb-revoked"))
    assert response.status_code == 200
    assert "invalid_auth" in str(response.context["adminform"].form.errors["bot_token"])
    assert not SlackWorkspace.objects.exists()


def test_a_token_of_another_slack_workspace_is_a_form_error(
    operator: User, tenant_a: Tenant, fake_slack: FakeSlack
) -> None:
    response = signed_in(operator).post(URL + "add/", form(tenant_a, team_id="TWRONG"))
    assert response.status_code == 200
    assert "TALPHA" in str(response.context["adminform"].form.errors["team_id"])


def test_change_page_shows_fingerprints_request_url_and_manifest(operator: User, workspace_a: SlackWorkspace) -> None:
    page = signed_in(operator).get(f"{URL}{workspace_a.pk}/change/").content.decode()
    assert "https://testserver/slack/events?workspace=alpha" in page
    assert fingerprint(SECRET_A) in page
    assert fingerprint("xoxb-alpha-token") in page
    assert SECRET_A not in page
    assert "xoxb-alpha-token" not in page
    manifest_text = re.search(r'<textarea id="slack-manifest"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert manifest_text is not None
    import html

    manifest = json.loads(html.unescape(manifest_text.group(1)))
    assert manifest["settings"]["event_subscriptions"] == {
        "request_url": "https://testserver/slack/events?workspace=alpha",
        "bot_events": ["app_mention", "message.im"],
    }
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "channels:history",
        "groups:history",
        "users:read",
        "users:read.email",
    }


def test_empty_secret_fields_keep_the_stored_secrets(
    operator: User, workspace_a: SlackWorkspace, gpt4o: ModelVersion
) -> None:
    data = form(workspace_a.tenant, slug="alpha", signing_secret="", bot_token="", model_version=gpt4o.pk)
    data["include_thread_context"] = "on"
    response = signed_in(operator).post(f"{URL}{workspace_a.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    workspace_a.refresh_from_db()
    assert workspace_a.signing_secret == SECRET_A
    assert workspace_a.bot_token == "xoxb-alpha-token"
    assert workspace_a.include_thread_context is True
    entry = AuditOutbox.objects.get(event_type="admin.slackworkspace.updated")
    assert "include_thread_context" in entry.payload["changed_fields"]
    assert "bot_token" not in entry.payload["changed_fields"]


def test_tenant_admin_sees_and_opens_only_their_own_workspace(
    admin_a: User, workspace_a: SlackWorkspace, workspace_b: SlackWorkspace
) -> None:
    client = signed_in(admin_a)
    listing = client.get(URL).content.decode()
    assert "alpha" in listing
    assert "beta" not in listing
    assert client.get(f"{URL}{workspace_b.pk}/change/").status_code == 404
    assert client.get(f"{URL}999999/change/").status_code == 404
    assert client.post(f"{URL}{workspace_b.pk}/delete/", {"post": "yes"}).status_code == 404
    own = client.get(f"{URL}{workspace_a.pk}/change/").content.decode()
    assert 'name="tenant"' not in own
    assert fingerprint(SECRET_B) not in own
    assert fingerprint(SECRET_A) in own
    assert SlackWorkspace.objects.filter(pk=workspace_b.pk).exists()


def test_tenant_admin_adds_a_workspace_for_their_own_company_only(
    admin_a: User, tenant_a: Tenant, tenant_b: Tenant, fake_slack: FakeSlack
) -> None:
    response = signed_in(admin_a).post(URL + "add/", form(tenant_b))  # a tenant field in the post is ignored
    assert response.status_code == 302
    assert SlackWorkspace.objects.get(slug="alpha-new").tenant == tenant_a


def test_members_cannot_open_the_slack_admin(user_a: User, workspace_a: SlackWorkspace) -> None:
    response = signed_in(user_a).get(URL)
    assert response.status_code in (302, 403)


def test_a_new_entry_can_be_saved_disabled_first_to_get_its_manifest(
    operator: User, tenant_a: Tenant, fake_slack: FakeSlack
) -> None:
    client = signed_in(operator)
    draft = form(tenant_a, app_id="", signing_secret="", bot_token="", enabled=None)
    assert client.post(URL + "add/", draft).status_code == 302
    workspace = SlackWorkspace.objects.get(slug="alpha-new")
    assert not workspace.enabled
    assert fake_slack.calls_to("auth.test") == []
    page = client.get(f"{URL}{workspace.pk}/change/").content.decode()
    assert "https://testserver/slack/events?workspace=alpha-new" in page
    response = client.post(f"{URL}{workspace.pk}/change/", {**draft, "enabled": "on"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"app_id", "signing_secret", "bot_token"}
    assert client.post(f"{URL}{workspace.pk}/change/", form(tenant_a)).status_code == 302
    workspace.refresh_from_db()
    assert workspace.enabled
    assert workspace.bot_user_id == "UBOTA"


def test_a_taken_slug_says_so_without_naming_the_company_that_has_it(
    admin_b: User, workspace_a: SlackWorkspace, tenant_b: Tenant, fake_slack: FakeSlack
) -> None:
    response = signed_in(admin_b).post(URL + "add/", form(None, slug=workspace_a.slug, team_id="TBETA", enabled=None))
    page = response.content.decode()
    assert response.status_code == 200
    assert "This slug is already in use. Choose another one." in page
    assert "Alpha" not in page.split("errorlist")[1][:300]
    assert SlackWorkspace.objects.filter(tenant=tenant_b).count() == 0
