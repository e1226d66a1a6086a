"""Seal every entry with a keyed MAC (AUDIT_HMAC_KEYS). Existing entries are sealed as they stand now: the plain
hash chain still shows whether any of them was edited before."""

from django.db import migrations, models


def seal_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    from audit.hashing import entry_seal

    AuditEntry = apps.get_model("audit", "AuditEntry")
    batch = []
    for entry in AuditEntry.objects.filter(mac="").only("pk", "entry_hash").iterator(chunk_size=2000):
        entry.key_id, entry.mac = entry_seal(entry.entry_hash)
        batch.append(entry)
        if len(batch) >= 2000:
            AuditEntry.objects.bulk_update(batch, ["key_id", "mac"])
            batch.clear()
    if batch:
        AuditEntry.objects.bulk_update(batch, ["key_id", "mac"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditentry", name="key_id", field=models.CharField(default="", max_length=16), preserve_default=False
        ),
        migrations.AddField(
            model_name="auditentry", name="mac", field=models.CharField(default="", max_length=64), preserve_default=False
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
    ]
