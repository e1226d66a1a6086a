"""Deployments and model versions now belong to ``llm``, Slack workspaces and events to ``slack``.

Only Django's picture of the models changes here (the tables stay; ``llm`` and ``slack`` rename them in their
0002). Content types move with their models, so admin permissions and history stay attached."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = {
    "deployment": "llm",
    "modelversion": "llm",
    "modelversiondeployment": "llm",
    "modelversionaccess": "llm",
    "slackworkspace": "slack",
    "slackevent": "slack",
}


def _content_types(apps, schema_editor, *, forward: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    rows = content_type.objects.using(schema_editor.connection.alias)
    for model, app in MOVED.items():
        old, new = ("chat", app) if forward else (app, "chat")
        if not rows.filter(app_label=new, model=model).exists():
            rows.filter(app_label=old, model=model).update(app_label=new)


def content_types_forward(apps, schema_editor):
    _content_types(apps, schema_editor, forward=True)


def content_types_backward(apps, schema_editor):
    _content_types(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_slack"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("llm", "0001_initial"),
        ("slack", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="SlackEvent"),
                migrations.DeleteModel(name="SlackWorkspace"),
                migrations.AlterField(
                    model_name="conversation",
                    name="model_version",
                    field=models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="llm.modelversion"
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="model_version",
                    field=models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="llm.modelversion"
                    ),
                ),
                migrations.RemoveField(model_name="modelversion", name="deployments"),
                migrations.RemoveField(model_name="modelversion", name="tenants"),
                migrations.DeleteModel(name="ModelVersionAccess"),
                migrations.DeleteModel(name="ModelVersionDeployment"),
                migrations.DeleteModel(name="ModelVersion"),
                migrations.DeleteModel(name="Deployment"),
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
