"""An insider with write access to the database, but without the keys held outside it (AUDIT_HMAC_KEYS,
AUDIT_DIGEST_KEY), tries to rewrite the trail. Each attempt is named by ``audit_verify`` (docs/audit.md, "Threat
model"). Runs on PostgreSQL in CI and on SQLite in the fast path."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.digests import audit_digest_write, audit_digests_write_all, latest_digest
from audit.hashing import digest_public_key, document_signature_ok, entry_hash, entry_seal, hmac_keys
from audit.models import AuditChainHead, AuditEntry, AuditOutbox
from audit.services import audit_chain_verify, chain_for
from tenants.models import Tenant
from tests.audit.helpers import chain_all, record, verify_output


def _rewrite_from(chain: str, seq: int, *, payload: dict[str, Any], reseal: bool = False) -> None:
    """Edit entry ``seq`` and re-hash it and everything after it, head included: all plain SHA-256 lets one do.
    ``reseal`` also re-computes the keyed seals, as an insider who had stolen the HMAC key could."""
    prev = AuditEntry.objects.get(chain=chain, seq=seq - 1).entry_hash if seq > 1 else "0" * 64
    for entry in AuditEntry.objects.filter(chain=chain, seq__gte=seq).order_by("seq"):
        fields = {f.attname: getattr(entry, f.attname) for f in AuditEntry._meta.concrete_fields}
        if entry.seq == seq:
            fields["payload"] = payload
        fields["prev_hash"] = prev
        fields["entry_hash"] = prev = entry_hash(fields)
        update = {"payload": fields["payload"], "prev_hash": fields["prev_hash"], "entry_hash": prev}
        if reseal:
            update["key_id"], update["mac"] = entry_seal(prev)
        AuditEntry.objects.filter(pk=entry.pk).update(**update)
    AuditChainHead.objects.filter(chain=chain).update(last_hash=prev)


def test_an_edit_re_hashed_to_the_head_is_caught_by_the_keyed_seal(tenant_a: Tenant, tenant_b: Tenant) -> None:
    record(5, tenant=tenant_a)
    record(2, tenant=tenant_b)
    chain_all()
    chain = chain_for(tenant_a.pk)
    assert audit_chain_verify(chain=chain).ok
    _rewrite_from(chain, 2, payload={"i": 1, "text": "改ざん"})
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 2 was edited and re-hashed (its keyed seal does not match)" in out
    assert "was edited (hash mismatch)" not in out  # the plain hashes are all consistent: only the seal tells
    assert verify_output(tenant_b)[0]


def test_a_seal_under_an_unknown_key_is_named(tenant_a: Tenant) -> None:
    record(2, tenant=tenant_a)
    chain_all()
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=2).update(key_id="forged")
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 2 is sealed with an unknown key 'forged'" in out


def test_truncated_tail_with_head_rolled_back_is_caught_by_the_digest(
    tenant_a: Tenant, tenant_b: Tenant, audit_digest_dir: Path
) -> None:
    record(6, tenant=tenant_a)
    record(2, tenant=tenant_b)
    chain_all()
    assert audit_digests_write_all() == 2  # one per chain whose head moved
    assert audit_digests_write_all() == 0  # nothing moved since
    chain = chain_for(tenant_a.pk)
    # The insider deletes seq 5-6 and rolls the head back to seq 4: every remaining hash, link and seal is intact.
    AuditEntry.objects.filter(chain=chain, seq__gte=5)._raw_delete("default")
    four = AuditEntry.objects.get(chain=chain, seq=4)
    AuditChainHead.objects.filter(chain=chain).update(last_seq=4, last_hash=four.entry_hash)
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entries seq 5..6 were cut from the end of the chain and its head rolled back" in out
    assert "vouches for seq 6" in out
    assert verify_output(tenant_b)[0]

    # Writing new events over the cut does not hide it: the digest's seq 6 no longer matches.
    record(3, tenant=tenant_a)
    chain_all()
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 6 differs from the signed digest" in out


def test_a_rewrite_with_a_stolen_hmac_key_is_still_caught_by_the_digest(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    audit_digests_write_all()
    chain = chain_for(tenant_a.pk)
    _rewrite_from(chain, 3, payload={"i": 2, "text": "書き換え"}, reseal=True)
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 5 differs from the signed digest" in out


def test_forged_and_removed_digests_are_named(tenant_a: Tenant, audit_digest_dir: Path) -> None:
    record(2, tenant=tenant_a)
    chain_all()
    first = audit_digest_write(chain=chain_for(tenant_a.pk))
    record(1, tenant=tenant_a)
    chain_all()
    second = audit_digest_write(chain=chain_for(tenant_a.pk))
    record(1, tenant=tenant_a)
    chain_all()
    third = audit_digest_write(chain=chain_for(tenant_a.pk))
    assert first is not None
    assert second is not None
    assert third is not None
    assert third.body["previous"] == {"name": second.name, "sha256": second.sha256}
    assert verify_output(tenant_a)[0]
    # Removing the middle digest breaks the digests' own chain.
    (audit_digest_dir / second.name).unlink()
    ok, out = verify_output(tenant_a)
    assert not ok
    assert f"digest {third.name} does not link to {first.name}" in out
    # A digest re-signed with another key is not trusted.
    path = audit_digest_dir / third.name
    path.chmod(0o640)
    body = json.loads(path.read_text())
    body["seq"] = 3
    path.write_text(json.dumps(body))
    ok, out = verify_output(tenant_a)
    assert not ok
    assert f"digest {third.name} has a bad signature" in out


def test_digest_files_verify_with_the_published_public_key(tenant_a: Tenant, audit_digest_dir: Path) -> None:
    record(3, tenant=tenant_a)
    chain_all()
    digest = audit_digest_write(chain=chain_for(tenant_a.pk))
    assert digest is not None
    on_disk = json.loads((audit_digest_dir / digest.name).read_text())
    assert on_disk["seq"] == 3
    assert on_disk["entry_hash"] == AuditEntry.objects.get(chain=chain_for(tenant_a.pk), seq=3).entry_hash
    out = StringIO()
    call_command("audit_keys", stdout=out)
    published = out.getvalue().split("AUDIT_DIGEST public key: ")[1].split()[0]
    assert published == digest_public_key()
    assert document_signature_ok(on_disk, public_key=published)
    assert not document_signature_ok({**on_disk, "seq": 2}, public_key=published)
    assert oct((audit_digest_dir / digest.name).stat().st_mode & 0o777) == "0o440"  # written once, read-only


def test_a_broken_chain_is_never_signed(tenant_a: Tenant) -> None:
    record(3, tenant=tenant_a)
    chain_all()
    chain = chain_for(tenant_a.pk)
    AuditChainHead.objects.filter(chain=chain).update(last_hash="f" * 64)
    assert audit_digest_write(chain=chain) is None
    assert latest_digest(chain) is None


def test_a_clean_verify_leaves_a_digest_and_records_what_it_vouches_for(tenant_a: Tenant) -> None:
    record(3, tenant=tenant_a)
    chain_all()
    call_command("audit_verify", "--tenant", tenant_a.slug, stdout=StringIO())
    digest = latest_digest(chain_for(tenant_a.pk))
    assert digest is not None
    assert digest.seq == 3
    row = AuditOutbox.objects.get(event_type="audit.verify")
    assert row.status == "ok"
    assert row.payload["checked"] == 3
    # The next run is held to the state this one signed.
    chain_all()
    report = audit_chain_verify(chain=chain_for(tenant_a.pk))
    assert report.ok
    assert report.vouched_seq == 3


def test_hmac_key_rotation_keeps_old_entries_verifiable(tenant_a: Tenant, settings: Any) -> None:
    settings.AUDIT_HMAC_KEYS = ["k1:" + "a" * 40]
    record(2, tenant=tenant_a)
    chain_all()
    settings.AUDIT_HMAC_KEYS = ["k2:" + "b" * 40, "k1:" + "a" * 40]
    record(2, tenant=tenant_a)
    chain_all()
    chain = chain_for(tenant_a.pk)
    assert list(AuditEntry.objects.filter(chain=chain).order_by("seq").values_list("key_id", flat=True)) == [
        "k1",
        "k1",
        "k2",
        "k2",
    ]
    assert audit_chain_verify(chain=chain).ok
    settings.AUDIT_HMAC_KEYS = ["k2:" + "b" * 40]  # k1 dropped too early
    report = audit_chain_verify(chain=chain)
    assert "entry seq 1 is sealed with an unknown key 'k1'" in report.problems


@pytest.mark.parametrize(
    "spec", [["nocolon"], ["k1:short"], ["k1:" + "a" * 40, "k1:" + "b" * 40], ["bad id:" + "a" * 40]]
)
def test_malformed_hmac_keys_stop_the_start(spec: list[str], settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_HMAC_KEYS = spec
    with pytest.raises(ImproperlyConfigured, match="AUDIT_HMAC_KEYS"):
        hmac_keys()


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_entries_written_before_it(tenant_a: Tenant) -> None:
    record(3, tenant=tenant_a)
    chain_all()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("audit", "0001_initial")])
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM audit_auditentry")
            assert cursor.fetchone() == (3,)
        MigrationExecutor(connection).migrate([("audit", "0002_entry_mac")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    key_id = hmac_keys()[0][0]
    assert set(AuditEntry.objects.values_list("key_id", flat=True)) == {key_id}
    assert audit_chain_verify(chain=chain_for(tenant_a.pk)).ok


def test_the_daily_verification_records_every_chain_and_counts_the_broken(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from audit.tasks import audit_digests_task, audit_verify_task

    record(2, tenant=tenant_a)
    record(2, tenant=tenant_b)
    chain_all()
    assert audit_digests_task.apply().get() == 2
    AuditEntry.objects.filter(chain=chain_for(tenant_b.pk), seq=1).update(status="edited")
    assert audit_verify_task.apply().get() == 1
    results = dict(AuditOutbox.objects.filter(event_type="audit.verify").values_list("tenant_id", "status"))
    assert results == {tenant_a.pk: "ok", tenant_b.pk: "error"}
    assert all(
        row["kind"] == "scheduled"
        for row in AuditOutbox.objects.filter(event_type="audit.verify").values_list("payload", flat=True)
    )
