"""The moved tables take this app's names (chat_deployment → llm_deployment, …); rows, keys and ids stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("llm", "0001_initial"),
        ("chat", "0003_models_move_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="deployment", table=None),
        migrations.AlterModelTable(name="modelversion", table=None),
        migrations.AlterModelTable(name="modelversiondeployment", table=None),
        migrations.AlterModelTable(name="modelversionaccess", table=None),
    ]
