# Written by hand: the search index exists on PostgreSQL only (docs/search.md).

from typing import Any

from django.db import migrations, models

INDEX_NAME = "msg_search_gin"  # chat.search.INDEX_NAME
BATCH = 2000


def _index() -> Any:
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    # The exact expression chat.search.messages_matching filters on, so the planner can use the index.
    return GinIndex(SearchVector("search_text", config="simple"), name=INDEX_NAME)


class PostgresSearchIndex(migrations.operations.base.Operation):
    """CREATE INDEX msg_search_gin ON chat_message USING gin (to_tsvector('simple', search_text)) on PostgreSQL;
    nothing on other databases (SQLite searches with icontains). Not part of the model state, so the autodetector
    never asks for it elsewhere."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(to_state.apps.get_model(app_label, "Message"), _index())

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(from_state.apps.get_model(app_label, "Message"), _index())

    def describe(self) -> str:
        return f"Create GIN index {INDEX_NAME} on to_tsvector('simple', search_text) (PostgreSQL only)"


def backfill(apps: Any, schema_editor: Any) -> None:
    """search_text for the messages written before it existed, BATCH rows at a time in primary-key order."""
    from chat.search import search_text_for

    Message = apps.get_model("chat", "Message")
    rows = Message.objects.using(schema_editor.connection.alias).exclude(content="").order_by("pk")
    last = 0
    while batch := list(rows.filter(pk__gt=last).only("pk", "content")[:BATCH]):
        for message in batch:
            message.search_text = search_text_for(message.content)
        rows.model.objects.using(schema_editor.connection.alias).bulk_update(batch, ["search_text"], batch_size=500)
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0006_chat_page"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        # After the backfill: building the index once is faster than updating it row by row.
        PostgresSearchIndex(),
    ]
