"""Deployments and model versions moved from ``chat`` to ``llm``, Slack workspaces and events to ``slack``
(chat 0003, llm/slack 0001-0002). Starting from the schema that landed before the move, with rows in every moved
table for two tenants, the migrations keep every row, id, link and encrypted key, and move the content types
(admin permissions and history) along. Runs on PostgreSQL in CI and on SQLite in the fast path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from chat.models import Conversation, Message
from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import User
from tests.conftest import signed_in

BEFORE = [("chat", "0002_slack"), ("llm", None), ("slack", None)]
MOVED_TABLES = {
    "chat_deployment": "llm_deployment",
    "chat_modelversion": "llm_modelversion",
    "chat_modelversiondeployment": "llm_modelversiondeployment",
    "chat_modelversionaccess": "llm_modelversionaccess",
    "chat_slackworkspace": "slack_slackworkspace",
    "chat_slackevent": "slack_slackevent",
}
KEYS = {"alpha": "sk-alpha-0123456789", "beta": "sk-beta-9876543210"}


def migrate_to(targets: list[tuple[str, str | None]]) -> Apps:
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # reloaded: what is applied now
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


def landed_model(apps: Apps, name: str) -> Any:
    """A model as the landed schema had it in ``chat`` (a name the type checker cannot resolve today, on purpose)."""
    return apps.get_model("chat", name)


def latest() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def landed_schema(transactional_db: None) -> Iterator[Apps]:
    """The database as the landed main left it (before the move); put back to the latest schema afterwards."""
    try:
        yield migrate_to(BEFORE)
    finally:
        migrate_to(latest())


def seed_landed(apps: Apps) -> dict[str, Any]:
    """Rows in every moved table (and rows pointing at them) for two tenants, written through the old models."""
    tenant_model = apps.get_model("tenants", "Tenant")
    user_model = apps.get_model("tenants", "User")
    deployment_model = landed_model(apps, "Deployment")
    version_model = landed_model(apps, "ModelVersion")
    serving_model = landed_model(apps, "ModelVersionDeployment")
    access_model = landed_model(apps, "ModelVersionAccess")
    conversation_model = landed_model(apps, "Conversation")
    message_model = landed_model(apps, "Message")
    workspace_model = landed_model(apps, "SlackWorkspace")
    event_model = landed_model(apps, "SlackEvent")
    ids: dict[str, Any] = {}
    for slug in ("alpha", "beta"):
        tenant = tenant_model.objects.create(name=slug.title(), slug=slug)
        user = user_model.objects.create(tenant=tenant, email=f"user@{slug}.example", password="!")
        deployment = deployment_model.objects.create(
            label=f"{slug}-gpt4o",
            kind="azure_dated",
            endpoint=f"https://{slug}.openai.azure.com",
            deployment_name="gpt-4o",
            api_version="2024-10-21",
            api_key=KEYS[slug],
        )
        version = version_model.objects.create(display_name=f"GPT-4o {slug}", family=f"gpt-4o-{slug}", version="1")
        serving_model.objects.create(model_version=version, deployment=deployment, priority=0)
        access_model.objects.create(model_version=version, tenant=tenant, is_default=True)
        conversation = conversation_model.objects.create(tenant=tenant, user=user, title="t", model_version=version)
        answer = message_model.objects.create(
            tenant=tenant, conversation=conversation, role="assistant", content="hi", model_version=version
        )
        workspace = workspace_model.objects.create(
            tenant=tenant,
            slug=slug,
            team_id=f"T{slug.upper()}",
            signing_secret=f"secret-{slug}",
            bot_token=f"xoxb-{slug}",
            model_version=version,
        )
        event = event_model.objects.create(
            tenant=tenant, workspace=workspace, event_id=f"Ev{slug}", payload={"text": slug}, reply_message=answer
        )
        ids[slug] = {
            "tenant": tenant.pk,
            "user": user.pk,
            "deployment": deployment.pk,
            "version": version.pk,
            "conversation": conversation.pk,
            "answer": answer.pk,
            "workspace": workspace.pk,
            "event": event.pk,
        }
    return ids


def table_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def assert_rows_survived(ids: dict[str, Any]) -> None:
    for slug, row in ids.items():
        deployment = Deployment.objects.get(pk=row["deployment"])
        assert deployment.api_key == KEYS[slug]  # still decrypts with the project's keys
        version = ModelVersion.objects.get(pk=row["version"])
        assert list(version.deployments.all()) == [deployment]
        serving = ModelVersionDeployment.objects.get(model_version=version)
        assert (serving.deployment_id, serving.priority) == (deployment.pk, 0)
        access = ModelVersionAccess.objects.get(model_version=version)
        assert (access.tenant_id, access.is_default) == (row["tenant"], True)
        assert Conversation.objects.get(pk=row["conversation"]).model_version_id == version.pk
        assert Message.objects.get(pk=row["answer"]).model_version_id == version.pk
        workspace = SlackWorkspace.objects.get(pk=row["workspace"])
        assert (workspace.tenant_id, workspace.model_version_id) == (row["tenant"], version.pk)
        assert (workspace.signing_secret, workspace.bot_token) == (f"secret-{slug}", f"xoxb-{slug}")
        event = SlackEvent.objects.get(pk=row["event"])
        assert (event.workspace_id, event.reply_message_id, event.payload) == (
            workspace.pk,
            row["answer"],
            {"text": slug},
        )
    # Each tenant still sees only its own version.
    alpha, beta = ids["alpha"], ids["beta"]
    assert list(
        ModelVersionAccess.objects.filter(tenant_id=alpha["tenant"]).values_list("model_version", flat=True)
    ) == [alpha["version"]]
    assert list(
        ModelVersionAccess.objects.filter(tenant_id=beta["tenant"]).values_list("model_version", flat=True)
    ) == [beta["version"]]


def test_moved_tables_keep_every_row_key_and_link(landed_schema: Apps) -> None:
    apps = landed_schema
    assert set(MOVED_TABLES) <= table_names()
    # The content types of the landed schema, as post_migrate made them then.
    content_type = apps.get_model("contenttypes", "ContentType")
    for table in MOVED_TABLES:
        content_type.objects.get_or_create(app_label="chat", model=table.removeprefix("chat_"))
    before = dict(content_type.objects.filter(app_label="chat").values_list("model", "pk"))
    ids = seed_landed(apps)

    migrate_to(latest())

    names = table_names()
    assert set(MOVED_TABLES.values()) <= names
    assert not set(MOVED_TABLES) & names
    assert_rows_survived(ids)
    # Content types moved with their models (same ids: permissions and admin history stay attached).
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    for table, new_table in MOVED_TABLES.items():
        app_label, model = new_table.split("_", 1)
        assert ContentType.objects.get(app_label=app_label, model=model).pk == before[table.removeprefix("chat_")]
    # New rows continue the old ids.
    new_version = ModelVersion.objects.create(display_name="next", family="next", version="1")
    assert new_version.pk > max(row["version"] for row in ids.values())


def test_the_move_can_be_undone_and_redone_without_loss(landed_schema: Apps) -> None:
    ids = seed_landed(landed_schema)
    migrate_to(latest())
    back = migrate_to(BEFORE)  # the previous release's schema again
    assert set(MOVED_TABLES) <= table_names()
    assert landed_model(back, "Deployment").objects.get(pk=ids["beta"]["deployment"]).api_key == KEYS["beta"]
    migrate_to(latest())
    assert_rows_survived(ids)


def test_moved_admin_pages_open_for_an_operator_at_their_new_urls(operator: User, tenant_b: Any) -> None:
    client: Client = signed_in(operator)
    for url in ("/admin/llm/deployment/", "/admin/llm/modelversion/", "/admin/slack/slackworkspace/"):
        assert client.get(url).status_code == 200, url
    for old in ("/admin/chat/deployment/", "/admin/chat/modelversion/", "/admin/chat/slackworkspace/"):
        assert client.get(old).status_code == 404, old
