"""Fixtures: every test world has two tenants, A and B, with people in each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.test import Client

from tenants.models import Tenant, User
from tenants.services import tenant_create, user_create
from tests.fakes.google import FakeGoogle


@pytest.fixture(autouse=True)
def audit_digest_dir(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test writes its audit digests to its own folder: a digest must not outlive the rows it vouches for."""
    folder = tmp_path_factory.mktemp("audit-digests")
    configured = settings.STORAGES["audit_digests"]
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_digests": {**configured, "OPTIONS": {**configured.get("OPTIONS", {}), "location": str(folder)}},
    }
    return folder


@pytest.fixture(autouse=True)
def celery_join_flag() -> None:
    """Eager ``Task.apply`` flips Celery's process-wide "joining would block" flag and puts back what it read
    (celery.result.denied_join_result). Eager tasks run from two threads at once (an answer finishing on a relay
    thread while another runs) can put back the other's True: ``.get()`` in a later test would then refuse."""
    from celery._state import _set_task_join_will_block  # type: ignore[attr-defined]  # private, not in the stubs

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def usage_counters() -> Iterator[None]:
    """Budget counters start empty in every test (ids repeat between tests on SQLite)."""
    from usage import counters, prices

    counters.reset()
    prices.prices_changed()
    yield
    counters.reset()


@pytest.fixture
def tenant_a(db: Any) -> Tenant:
    return tenant_create(name="Alpha Corp", slug="alpha", domains=["alpha.example", "alpha-group.example"])


@pytest.fixture
def tenant_b(db: Any) -> Tenant:
    return tenant_create(name="Beta Inc", slug="beta", domains=["beta.example"])


@pytest.fixture
def user_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="alice@alpha.example", first_name="Alice")


@pytest.fixture
def user_b(tenant_b: Tenant) -> User:
    return user_create(tenant=tenant_b, email="bob@beta.example", first_name="Bob")


@pytest.fixture
def admin_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="admin@alpha.example", role=User.Role.TENANT_ADMIN)


@pytest.fixture
def admin_b(tenant_b: Tenant) -> User:
    return user_create(tenant=tenant_b, email="admin@beta.example", role=User.Role.TENANT_ADMIN)


@pytest.fixture
def operator(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="ops@alpha.example", is_superuser=True)


def signed_in(user: User) -> Client:
    """A test client with ``user`` signed in (English UI)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user, backend="tenants.backends.TenantModelBackend")
    return client


@pytest.fixture
def client_a(user_a: User) -> Client:
    return signed_in(user_a)


@pytest.fixture
def client_b(user_b: User) -> Client:
    return signed_in(user_b)


@pytest.fixture
def fake_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """Google's token endpoint as a real local HTTP server; allauth is pointed at it."""
    from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter

    client_id = settings.GOOGLE_CLIENT_ID
    fake = FakeGoogle(client_id).start()
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", fake.token_url)
    yield fake
    fake.stop()


def google_sign_in(client: Client, fake: FakeGoogle, claims: dict[str, Any]) -> Any:
    """Runs allauth's real Google OAuth flow (login POST, redirect, callback, token exchange) with ``claims``
    in the ID token. Returns the callback's response."""
    start = client.post("/accounts/google/login/")
    assert start.status_code == 302, start
    location = urlparse(start["Location"])
    assert location.netloc == "accounts.google.com"
    state = parse_qs(location.query)["state"][0]
    fake.claims = claims
    return client.get("/accounts/google/login/callback/", {"code": "fake-code", "state": state})


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """Celery really publishing (not eager) to a broker that is not there: every enqueue fails fast."""
    from config.celery_app import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # type: ignore[misc]  # discard port: refused at once
    _drop_broker_connections(app)
    try:
        yield
    finally:
        from ops import queue

        queue.drain()  # publishes queued while the broker was "down" must fail against it, not run later
        app.conf.task_always_eager, app.conf.broker_url = saved  # type: ignore[misc]
        _drop_broker_connections(app)


def _drop_broker_connections(app: Any) -> None:
    # Celery caches its connection pool and producer pool per app; forget both so the next publish dials anew.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down() -> Iterator[None]:
    with broker_unreachable():
        yield


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object | None]:
    """A real Celery worker thread on the configured broker (Redis in CI); nothing in eager mode."""
    from config.celery_app import app

    if app.conf.task_always_eager:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING") as worker:
        yield worker


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls ``predicate`` until it holds (work done by a worker thread or another process)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
