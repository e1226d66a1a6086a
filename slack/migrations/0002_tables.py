"""The moved tables take this app's names (chat_slackworkspace → slack_slackworkspace, …); rows and ids stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("slack", "0001_initial"),
        ("chat", "0003_models_move_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="slackworkspace", table=None),
        migrations.AlterModelTable(name="slackevent", table=None),
    ]
