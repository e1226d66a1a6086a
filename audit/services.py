"""Writes of the audit trail.

``audit_record`` runs inside the caller's transaction and only writes an outbox row; after commit it asks Celery
to chain it. ``audit_chain_advance`` (the task's body) turns an outbox row into the next entry of its chain under
a row lock on the chain head, idempotently. A beat sweep chains whatever the broker never delivered.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from audit.digests import audit_digest_write, audit_digests_check
from audit.hashing import GENESIS, HASHED_FIELDS, checkpoint_signature, entry_hash, entry_seal, fingerprint, seal_check
from audit.models import AuditChainHead, AuditCheckpoint, AuditEntry, AuditOutbox, Channel, chain_for
from ops import queue
from tenants.models import Tenant, User

PROGRESS_EVERY = 1000  # entries between progress reports of a verification

logger = logging.getLogger("officeai.audit")


# Looked up by name: audit.tasks imports this module, so this module does not import it back.
CHAIN_ADVANCE_TASK = "audit.tasks.audit_chain_advance_task"


def audit_record(
    *,
    event_type: str,
    tenant: Tenant | int | None,
    actor: User | None = None,
    actor_email: str = "",
    channel: str = "",
    model_label: str = "",
    status: str = "",
    payload: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditOutbox:
    """Record one event. Call inside the transaction of the change it describes."""
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    row = AuditOutbox.objects.create(
        chain=chain_for(tenant_id),
        tenant_id=tenant_id,
        event_type=event_type,
        occurred_at=occurred_at or timezone.now(),
        actor_id=actor.pk if actor is not None else None,
        actor_email=(actor.email if actor is not None else actor_email)[:254],
        channel=channel,
        model_label=model_label[:200],
        status=status,
        payload=dict(payload or {}),
    )
    # Off the request thread: a slow or dead broker never holds up a request or a streaming reply. Whatever is not
    # queued stays pending in the outbox, and the beat sweep chains it.
    queue.enqueue_on_commit(CHAIN_ADVANCE_TASK, row.pk, off_thread=True)
    return row


def _head_locked(chain: str) -> AuditChainHead:
    # Create the head if this is the chain's first entry; ignore_conflicts makes concurrent first writers safe.
    AuditChainHead.objects.bulk_create([AuditChainHead(chain=chain)], ignore_conflicts=True)
    return AuditChainHead.objects.select_for_update().get(chain=chain)


@transaction.atomic
def audit_chain_advance(*, outbox_id: int) -> AuditEntry | None:
    """Append the outbox row to its chain. Running it again for the same row does nothing."""
    row = AuditOutbox.objects.select_for_update().filter(pk=outbox_id).first()
    if row is None or row.processed_at is not None:
        return None
    head = _head_locked(row.chain)
    # Entries past the head were not written here (only this writer moves the head). Never jam on them: continue
    # after them, linked to the last entry this writer wrote, so the verifier names the inserted ones.
    beyond = AuditEntry.objects.filter(chain=row.chain, seq__gt=head.last_seq).aggregate(last=Max("seq"))["last"]
    if beyond is not None:
        logger.error(
            "audit chain %s: entries seq %s..%s were written outside the audit writer; continuing after them",
            row.chain,
            head.last_seq + 1,
            beyond,
        )
    fields: dict[str, Any] = {
        "chain": row.chain,
        "seq": (beyond or head.last_seq) + 1,
        "event_id": row.event_id,
        "tenant_id": row.tenant_id,
        "event_type": row.event_type,
        "occurred_at": row.occurred_at,
        "recorded_at": timezone.now(),
        "actor_id": row.actor_id,
        "actor_email": row.actor_email,
        "channel": row.channel,
        "model_label": row.model_label,
        "status": row.status,
        "payload": row.payload,
        "prev_hash": head.last_hash,
    }
    # Hash what the database will return: JSON round-trips, datetimes at microsecond precision.
    fields["entry_hash"] = entry_hash(fields)
    fields["key_id"], fields["mac"] = entry_seal(fields["entry_hash"])
    entry = AuditEntry(**fields)
    entry.save()
    head.last_seq = entry.seq
    head.last_hash = entry.entry_hash
    head.save(update_fields=["last_seq", "last_hash"])
    row.processed_at = fields["recorded_at"]
    row.attempts += 1
    row.save(update_fields=["processed_at", "attempts"])
    return entry


def audit_pending_sweep(*, older_than: timedelta = timedelta(seconds=30), limit: int = 5000) -> int:
    """Chain outbox rows the broker never delivered (beat task). Returns how many it chained."""
    cutoff = timezone.now() - older_than
    ids = list(
        AuditOutbox.objects.filter(processed_at__isnull=True, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for outbox_id in ids:
        if audit_chain_advance(outbox_id=outbox_id) is not None:
            done += 1
    if done:
        logger.info("audit sweep chained %d pending events", done)
    return done


# --- Snapshots of admin objects -----------------------------------------------------------------------------------
def snapshot(obj: models.Model) -> dict[str, Any]:
    """A JSON-safe picture of a model instance for before/after; secrets only as fingerprints.

    Models name their secret fields in ``AUDIT_SECRET_FIELDS`` and related sets worth recording in
    ``AUDIT_RELATED`` (e.g. a tenant's domains).
    """
    secret = set(getattr(obj, "AUDIT_SECRET_FIELDS", ()))
    skip = {"password", "last_login"}
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        name = field.attname
        if field.name in skip or getattr(field, "auto_now", False):
            continue  # auto_now timestamps change on every save and say nothing
        value = getattr(obj, name)
        if field.name in secret:
            value = fingerprint(str(value or ""))
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool | type(None) | list | dict):
            value = str(value)
        data[field.name if field.name in secret else name] = value
    for related in getattr(obj, "AUDIT_RELATED", ()):
        if obj.pk is not None:
            data[related] = sorted(str(item) for item in getattr(obj, related).all())
    return data


def audit_admin_change(
    *,
    actor: User,
    obj: models.Model,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditOutbox:
    """``admin.<object>.created|updated|deleted`` with before/after, on the chain of the object's tenant."""
    tenant_id = obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)
    changed = sorted(k for k in set(before or {}) | set(after or {}) if (before or {}).get(k) != (after or {}).get(k))
    return audit_record(
        event_type=f"admin.{obj._meta.model_name}.{action}",
        tenant=tenant_id,
        actor=actor,
        channel=Channel.ADMIN,
        payload={
            "object_type": obj._meta.label_lower,
            "object_id": str(obj.pk) if obj.pk is not None else (before or {}).get("id"),
            "object_repr": str(obj)[:200],
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None,
            "changed_fields": changed,
        },
    )


# --- Retention ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionResult:
    chain: str
    deleted: int
    checkpoint_seq: int | None


@transaction.atomic
def audit_retention_apply(*, tenant: Tenant, now: datetime | None = None) -> RetentionResult:
    """Delete a tenant's entries older than its retention period, oldest first, leaving a signed checkpoint
    (seq and hash of the last deleted entry) so that ``audit_verify`` still verifies what remains."""
    chain = chain_for(tenant.pk)
    days = tenant.audit_retention_days
    if not days:
        return RetentionResult(chain, 0, None)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    _head_locked(chain)  # no appends while we cut the tail
    last = (
        AuditEntry.objects.filter(chain=chain, recorded_at__lt=cutoff)
        .order_by("-seq")
        .values("seq", "entry_hash")
        .first()
    )
    if last is None:
        return RetentionResult(chain, 0, None)
    doomed = AuditEntry.objects.filter(chain=chain, seq__lte=last["seq"])
    count = doomed.count()
    created_at = timezone.now()
    AuditCheckpoint.objects.create(
        chain=chain,
        seq=last["seq"],
        entry_hash=last["entry_hash"],
        deleted_count=count,
        created_at=created_at,
        signature=checkpoint_signature(
            chain=chain, seq=last["seq"], entry_hash=last["entry_hash"], deleted_count=count, created_at=created_at
        ),
    )
    doomed._raw_delete(doomed.db)  # bypasses AuditEntry.delete(), which refuses everyone else
    audit_record(
        event_type="audit.retention",
        tenant=tenant,
        channel=Channel.SYSTEM,
        payload={"deleted": count, "through_seq": last["seq"], "retention_days": days},
    )
    return RetentionResult(chain, count, last["seq"])


# --- Verification -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainReport:
    chain: str
    checked: int
    first_seq: int | None
    last_seq: int | None
    problems: list[str]
    vouched_seq: int | None = None  # the newest signed digest's seq: everything up to it matches what was signed
    vouched_at: str = ""
    first_bad_seq: int | None = None  # where the first problem in the chain is (None: whole, or not at one entry)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "ok": self.ok,
            "checked": self.checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "problems": self.problems,
            "vouched_seq": self.vouched_seq,
            "vouched_at": self.vouched_at,
            "first_bad_seq": self.first_bad_seq,
        }


def audit_chain_verify(
    *, chain: str, stop_after: int = 20, on_progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Recompute a chain: every entry's hash and keyed seal, its link to the previous one, gap-free ``seq``, and
    agreement with every signed digest (audit.digests) and the chain head. ``on_progress(entries_checked)`` is
    called every ``PROGRESS_EVERY`` entries."""
    problems: list[str] = []
    checkpoint = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq").first()
    expected_seq, prev = 1, GENESIS
    if checkpoint is not None:
        sig = checkpoint_signature(
            chain=chain,
            seq=checkpoint.seq,
            entry_hash=checkpoint.entry_hash,
            deleted_count=checkpoint.deleted_count,
            created_at=checkpoint.created_at,
        )
        if sig != checkpoint.signature:
            problems.append(f"checkpoint at seq {checkpoint.seq} has a bad signature")
        expected_seq, prev = checkpoint.seq + 1, checkpoint.entry_hash
    digests = audit_digests_check(chain=chain, after=expected_seq - 1)
    problems.extend(digests.problems)
    checked, first, last = 0, None, None
    fields = (*HASHED_FIELDS, "entry_hash", "key_id", "mac")
    recent: dict[str, int] = {}  # entry hash -> seq, for the last few thousand entries (names inserted runs)
    first_bad: int | None = None
    for row in AuditEntry.objects.filter(chain=chain).order_by("seq").values(*fields).iterator(chunk_size=2000):
        first = row["seq"] if first is None else first
        last = row["seq"]
        checked += 1
        if on_progress is not None and checked % PROGRESS_EVERY == 0:
            on_progress(checked)
        before = len(problems)
        if row["seq"] != expected_seq:
            missing = f"{expected_seq}" if row["seq"] == expected_seq + 1 else f"{expected_seq}..{row['seq'] - 1}"
            problems.append(f"entry seq {missing} is missing (deleted)")
        linked_to = recent.get(row["prev_hash"])
        if row["prev_hash"] != prev and linked_to is not None and linked_to < row["seq"] - 1:
            problems.append(
                f"entries seq {linked_to + 1}..{row['seq'] - 1} were inserted into the chain "
                f"(entry seq {row['seq']} links to seq {linked_to})"
            )
        elif row["prev_hash"] != prev:
            problems.append(f"entry seq {row['seq']} does not link to the entry before it (reordered or replaced)")
        recent[row["entry_hash"]] = row["seq"]
        if len(recent) > 5000:
            recent.pop(next(iter(recent)))
        if entry_hash(row) != row["entry_hash"]:
            problems.append(f"entry seq {row['seq']} was edited (hash mismatch)")
        else:
            sealed = seal_check(entry_hash=row["entry_hash"], key_id=row["key_id"], mac=row["mac"])
            if sealed is None:
                problems.append(f"entry seq {row['seq']} is sealed with an unknown key {row['key_id']!r}")
            elif not sealed:
                problems.append(f"entry seq {row['seq']} was edited and re-hashed (its keyed seal does not match)")
        signed = digests.vouched.get(row["seq"])
        if signed is not None and signed.entry_hash != row["entry_hash"]:
            problems.append(f"entry seq {row['seq']} differs from the signed digest of {signed.created_at} (rewritten)")
        if first_bad is None and len(problems) > before:
            first_bad = min(expected_seq, row["seq"])  # a gap starts at the first missing seq
        expected_seq, prev = row["seq"] + 1, row["entry_hash"]
        if len(problems) >= stop_after:
            break
    looped = len(problems)
    head = AuditChainHead.objects.filter(chain=chain).first()
    complete = len(problems) < stop_after
    if head is not None and complete and head.last_seq >= expected_seq:
        problems.append(f"entries seq {expected_seq}..{head.last_seq} are missing at the end of the chain")
    if head is not None and last is not None and head.last_seq == last and head.last_hash != prev:
        problems.append(f"chain head does not match entry seq {last}")
    if head is not None and last is not None and last > head.last_seq:
        # Only the chain writer moves the head: entries past it were written around it, however well hashed.
        problems.append(
            f"entries seq {head.last_seq + 1}..{last} lie beyond the chain head (written outside the audit writer)"
        )
    newest = digests.newest
    if complete and newest is not None and newest.seq >= expected_seq and (head is None or head.last_seq < newest.seq):
        # The digest was signed when the chain reached newest.seq; now both the entries and the head stop short.
        problems.append(
            f"entries seq {expected_seq}..{newest.seq} were cut from the end of the chain and its head rolled back "
            f"(the signed digest of {newest.created_at} vouches for seq {newest.seq})"
        )
    if first_bad is None and len(problems) > looped:
        first_bad = expected_seq if head is None or last is None or last <= head.last_seq else head.last_seq + 1
    return ChainReport(
        chain=chain,
        checked=checked,
        first_seq=first,
        last_seq=last,
        problems=problems,
        vouched_seq=newest.seq if newest is not None else None,
        vouched_at=newest.created_at if newest is not None else "",
        first_bad_seq=first_bad,
    )


def audit_chains(*, tenant: Tenant | None = None) -> list[str]:
    if tenant is not None:
        return [chain_for(tenant.pk)]
    chains = set(AuditChainHead.objects.values_list("chain", flat=True))
    chains |= set(AuditEntry.objects.values_list("chain", flat=True).distinct())
    return sorted(chains)


def audit_job_claim(model: Any, pk: int) -> Any:
    """Move a background job (``AuditExport``, ``AuditVerification``) from waiting to running and return it, or
    None when it is not waiting: a redelivered task then does nothing."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None or job.status != model.Status.PENDING:
            return None
        job.status = model.Status.RUNNING
        job.save(update_fields=["status"])
    return job


def audit_verify_record(*, reports: Iterable[ChainReport], actor: User | None = None, kind: str = "command") -> None:
    """``audit.verify``: a verification run is itself recorded, on each chain it checked. A chain found whole gets
    a fresh signed digest, so the next run holds it to this state; a broken one is logged as an error."""
    for report in reports:
        tenant_id = int(report.chain.split(":", 1)[1]) if report.chain.startswith("tenant:") else None
        if report.ok:
            audit_digest_write(chain=report.chain)
        else:
            logger.error("audit chain %s is BROKEN: %s", report.chain, "; ".join(report.problems))
        payload = {k: v for k, v in report.as_json().items() if k not in ("chain", "ok")}
        with transaction.atomic():
            audit_record(
                event_type="audit.verify",
                tenant=tenant_id,
                actor=actor,
                channel=Channel.SYSTEM,
                status="ok" if report.ok else "error",
                payload={**payload, "kind": kind},
            )


# --- llm.chat -----------------------------------------------------------------------------------------------------
@dataclass
class LLMCallRecord:
    """Everything the trail keeps of one model call (web or Slack). Filled by the chat engine at finalisation.

    ``deployment`` is a snapshot (endpoint host, API style, api-version, deployment name, model version) and
    never holds the key.
    """

    tenant_id: int
    user: User | None
    user_email: str
    channel: str  # Channel.WEB or Channel.SLACK
    channel_detail: dict[str, Any]  # slack: workspace, channel id, thread ts, slack user id
    conversation_id: int | None
    message_id: int | None
    model_label: str
    deployment: dict[str, Any]
    request_params: dict[str, Any]
    prompt_messages: list[dict[str, Any]]
    response_text: str
    finish_reason: str
    status: str  # audit.models.LLMStatus
    content_filter: dict[str, Any]
    usage: dict[str, Any]  # prompt/completion/total tokens + "estimated": bool
    upstream_request_ids: list[str]
    error: dict[str, Any] | None
    attempts: list[dict[str, Any]]
    timings: dict[str, Any]  # received, first_token, completed (ISO), ttft_ms, duration_ms
    client: dict[str, Any]  # ip, user_agent
    attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # name, type, size, sha256, text hash


def audit_llm_chat(*, record: LLMCallRecord) -> AuditOutbox:
    """``llm.chat``: one entry per model call. Call inside the transaction that finalises the reply."""
    payload = {
        "channel_detail": record.channel_detail,
        "conversation_id": record.conversation_id,
        "message_id": record.message_id,
        "deployment": {k: v for k, v in record.deployment.items() if "key" not in k.lower()},
        "request_params": record.request_params,
        "prompt_messages": record.prompt_messages,
        "response_text": record.response_text,
        "finish_reason": record.finish_reason,
        "content_filter": record.content_filter,
        "usage": record.usage,
        "upstream_request_ids": record.upstream_request_ids,
        "error": record.error,
        "attempts": record.attempts,
        "timings": record.timings,
        "client": record.client,
        "attachments": record.attachments,
    }
    return audit_record(
        event_type="llm.chat",
        tenant=record.tenant_id,
        actor=record.user,
        actor_email=record.user_email,
        channel=record.channel,
        model_label=record.model_label,
        status=record.status,
        payload=payload,
    )
