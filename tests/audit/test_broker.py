"""The broker is down during a change: the change commits, the event waits in the outbox, nothing is lost."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry, AuditOutbox
from audit.services import audit_chain_verify, chain_for
from audit.tasks import audit_pending_sweep_task
from tenants.models import Tenant, User
from tests.conftest import broker_unreachable, signed_in, wait_for


@pytest.mark.django_db(transaction=True)
def test_change_commits_while_broker_is_down_and_sweep_records_it_later(
    admin_a: User, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with broker_unreachable(), caplog.at_level("WARNING", logger="officeai.queue"):
        client = signed_in(admin_a)  # auth.login, recorded while the broker is down
        form = {"email": "new@alpha.example", "role": "member", "is_active": "on"}
        response = client.post("/admin/tenants/user/add/", form)
        assert response.status_code == 302
        assert User.objects.filter(email="new@alpha.example").exists()  # the change committed
        assert AuditOutbox.objects.filter(processed_at__isnull=True).count() == 2
        assert AuditEntry.objects.count() == 0
        # Publishing runs off the request thread and fails there, logged.
        failed = "could not queue audit.tasks.audit_chain_advance_task"
        assert wait_for(lambda: caplog.text.count(failed) == 2, timeout=30)
    events = AuditOutbox.objects.count()
    # The broker is back. The beat sweep goes through the real broker and a real worker when REDIS_URL is set.
    from config.celery_app import app

    if app.conf.task_always_eager:
        audit_pending_sweep_task.delay(0)
    else:
        from celery.contrib.testing.worker import start_worker

        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
            audit_pending_sweep_task.delay(0)
            assert wait_for(lambda: AuditEntry.objects.count() == events)
    assert AuditEntry.objects.count() == events
    assert not AuditOutbox.objects.filter(processed_at__isnull=True).exists()
    assert sorted(AuditEntry.objects.values_list("event_type", flat=True)) == ["admin.user.created", "auth.login"]
    assert audit_chain_verify(chain=chain_for(tenant_a.pk)).ok
