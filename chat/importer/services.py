"""Writing a chatbot-ui v1 export into one person's account, in one transaction with its audit entry.

Idempotent: every row keeps chatbot-ui's id in ``imported_key`` (unique per person), so importing the same file
again creates nothing and reports everything as skipped. Imported answers carry ``usage={"imported": True}``:
they were never answered here, so the usage rebuild does not count them (``chat.selectors.answers_finished_between``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils.translation import ngettext

from audit.models import Channel
from audit.services import audit_record
from chat.importer.parse import MAX_WARNINGS, V1Export, parse_export
from chat.models import Conversation, Folder, Message, Prompt
from chat.prompts.services import MAX_PROMPTS
from chat.search import search_text_for
from tenants.models import User

IMPORTED_USAGE = {"imported": True}
BATCH = 1000


@dataclass(frozen=True)
class ImportResult:
    version: int
    conversations_created: int = 0
    conversations_skipped: int = 0
    messages_created: int = 0
    messages_skipped: int = 0
    folders_created: int = 0
    folders_skipped: int = 0
    prompts_created: int = 0
    prompts_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    sha256: str = ""
    size: int = 0

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k.endswith(("_created", "_skipped"))}


def import_chatbot_ui(*, user: User, data: bytes) -> ImportResult:
    """Import chatbot-ui v1's JSON export ``data`` into ``user``'s account: conversations with their messages,
    chat folders, and prompts as personal prompts. ``ImportRefused`` for a file that cannot be imported, and then
    nothing is created."""
    export = parse_export(data)  # size first; outside the transaction: it can take a while and needs no rows
    return _write(user=user, export=export, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@transaction.atomic
def _write(*, user: User, export: V1Export, sha256: str, size: int) -> ImportResult:
    tenant = user.tenant
    # One import at a time per person: a second one (a double click) waits here, then finds everything imported.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()
    folders, folders_created = _folders(user=user, export=export)
    conversations, messages = _conversations(user=user, export=export, folders=folders)
    prompts_created, prompts_over = _prompts(user=user, export=export)
    warnings = list(export.warnings)
    if prompts_over:
        warnings.append(
            ngettext(
                "%(n)s prompt was left out: you can keep at most %(max)s prompts.",
                "%(n)s prompts were left out: you can keep at most %(max)s prompts.",
                prompts_over,
            )
            % {"n": prompts_over, "max": MAX_PROMPTS}
        )
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        summary = ngettext("…and %(n)s more warning.", "…and %(n)s more warnings.", more) % {"n": more}
        warnings = [*warnings[:MAX_WARNINGS], summary]
    created_messages = sum(len(c.messages) for c in export.conversations if c.key in conversations)
    all_messages = sum(len(c.messages) for c in export.conversations)
    result = ImportResult(
        version=export.version,
        conversations_created=len(conversations),
        conversations_skipped=export.skipped_conversations + len(export.conversations) - len(conversations),
        messages_created=messages,
        messages_skipped=export.skipped_messages + all_messages - created_messages,
        folders_created=folders_created,
        folders_skipped=export.skipped_folders + sum(1 for f in export.folders if f.kind == "chat") - folders_created,
        prompts_created=prompts_created,
        prompts_skipped=export.skipped_prompts + len(export.prompts) - prompts_created,
        warnings=warnings,
        sha256=sha256,
        size=size,
    )
    audit_record(
        event_type="chat.imported",
        tenant=tenant,
        actor=user,
        channel=Channel.WEB,
        payload={
            "source": "chatbot-ui",
            "format_version": export.version,
            "sha256": sha256,
            "size": size,
            **result.counts(),
            "warnings": len(export.warnings) + (1 if prompts_over else 0),
        },
    )
    return result


def _folders(*, user: User, export: V1Export) -> tuple[dict[str, Folder], int]:
    """Chat folders by chatbot-ui id: the ones imported before, and new ones after the person's own."""
    mine = Folder.objects.filter(tenant_id=user.tenant_id, user=user)
    existing = {f.imported_key: f for f in mine.exclude(imported_key="")}
    position = (mine.aggregate(last=Max("position"))["last"] or 0) + 1
    new = []
    for folder in export.folders:
        if folder.kind != "chat" or folder.key in existing:
            continue
        new.append(
            Folder(tenant_id=user.tenant_id, user=user, name=folder.name, position=position, imported_key=folder.key)
        )
        position += 1
    for row in Folder.objects.bulk_create(new, batch_size=BATCH):
        existing[row.imported_key] = row
    return existing, len(new)


def _conversations(*, user: User, export: V1Export, folders: dict[str, Folder]) -> tuple[set[str], int]:
    """Creates the conversations not imported before, with their messages. chatbot-ui kept no times and showed the
    last conversation of its file on top. Rows are stamped in file order as they are inserted (and their ids rise
    in that order, which breaks ties), so the last one is the newest here too."""
    done = set(
        Conversation.objects.filter(tenant_id=user.tenant_id, user=user)
        .exclude(imported_key="")
        .values_list("imported_key", flat=True)
    )
    todo = [c for c in export.conversations if c.key not in done]
    if not todo:
        return set(), 0
    rows = [
        Conversation(
            tenant_id=user.tenant_id,
            user=user,
            title=c.title,
            system_prompt=c.system_prompt,
            source=Conversation.Source.WEB,
            title_source=Conversation.TitleSource.IMPORTED,
            folder=folders.get(c.folder_key) if c.folder_key else None,
            imported_key=c.key,
        )
        for c in todo
    ]
    created = Conversation.objects.bulk_create(rows, batch_size=BATCH)
    messages = [
        Message(
            tenant_id=user.tenant_id,
            conversation=row,
            role=role,
            content=content,
            search_text=search_text_for(content),
            status=Message.Status.OK,
            model_label=source.model_label if role == Message.Role.ASSISTANT else "",
            usage=dict(IMPORTED_USAGE) if role == Message.Role.ASSISTANT else {},
            completed_at=row.created_at if role == Message.Role.ASSISTANT else None,
        )
        for source, row in zip(todo, created, strict=True)
        for role, content in source.messages
    ]
    Message.objects.bulk_create(messages, batch_size=BATCH)
    # chatbot-ui kept one path per conversation: each message follows the one before it (chat.branches).
    previous: dict[int, Message] = {}
    for message in messages:
        message.parent = previous.get(message.conversation_id)
        previous[message.conversation_id] = message
    Message.objects.bulk_update([m for m in messages if m.parent_id], ["parent"], batch_size=BATCH)
    # A message's times are its conversation's creation (not a moment after): one UPDATE per chunk.
    ids = [row.pk for row in created]
    conversation_time = Subquery(Conversation.objects.filter(pk=OuterRef("conversation_id")).values("created_at")[:1])
    for start in range(0, len(ids), BATCH):
        Message.objects.filter(tenant_id=user.tenant_id, conversation_id__in=ids[start : start + BATCH]).update(
            created_at=conversation_time, updated_at=conversation_time
        )
    return {row.imported_key for row in created}, len(messages)


def _prompts(*, user: User, export: V1Export) -> tuple[int, int]:
    """Creates the person's prompts not imported before, up to ``MAX_PROMPTS`` in all. Returns (created, left out
    for lack of room)."""
    mine = Prompt.objects.filter(tenant_id=user.tenant_id, owner=user)
    done = set(mine.exclude(imported_key="").values_list("imported_key", flat=True))
    todo = [p for p in export.prompts if p.key not in done]
    room = max(MAX_PROMPTS - mine.count(), 0)
    rows = [
        Prompt(
            tenant_id=user.tenant_id,
            owner=user,
            created_by=user,
            name=p.name,
            description=p.description,
            content=p.content,
            folder_name=p.folder_name,
            imported_key=p.key,
        )
        for p in todo[:room]
    ]
    Prompt.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows), len(todo) - len(rows)
