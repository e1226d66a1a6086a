"""Websocket edge, full stack (origin check, session auth, tenant scope) on config.asgi.application."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from tenants.models import Tenant, TenantHostname, User

pytestmark = pytest.mark.django_db(transaction=True)


def headers(client: Client | None, host: str = "localhost", origin: str | None = "http://localhost") -> list[Any]:
    out = [(b"host", host.encode())]
    if origin:
        out.append((b"origin", origin.encode()))
    if client is not None:
        out.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return out


async def connect(hdrs: list[Any]) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, "/ws/", headers=hdrs)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_signed_in_user_gets_own_tenant(client_a: Client, tenant_b: Tenant) -> None:
    communicator, connected = await connect(headers(client_a))
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "session.ready"
    assert hello["tenant"] == "alpha"
    assert hello["user"] == "alice@alpha.example"
    assert hello["protocol"] == 1
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_anonymous_socket_is_refused(db: None) -> None:
    _communicator, connected = await connect(headers(None))
    assert not connected


async def test_foreign_origin_is_refused(client_a: Client) -> None:
    _communicator, connected = await connect(headers(client_a, origin="https://evil.example.com"))
    assert not connected


async def test_other_tenant_hostname_is_refused(client_a: Client, tenant_b: Tenant) -> None:
    await database_sync_to_async(TenantHostname.objects.create)(tenant=tenant_b, hostname="beta.example.test")
    _communicator, connected = await connect(
        headers(client_a, host="beta.example.test", origin="http://beta.example.test")
    )
    assert not connected


async def test_own_tenant_hostname_is_accepted(client_a: Client, tenant_a: Tenant) -> None:
    await database_sync_to_async(TenantHostname.objects.create)(tenant=tenant_a, hostname="alpha.example.test")
    communicator, connected = await connect(
        headers(client_a, host="alpha.example.test", origin="http://alpha.example.test")
    )
    assert connected
    assert (await communicator.receive_json_from())["tenant"] == "alpha"
    await communicator.disconnect()


async def test_inactive_tenant_cannot_open_a_socket(client_a: Client, tenant_a: Tenant) -> None:
    await database_sync_to_async(Tenant.objects.filter(pk=tenant_a.pk).update)(is_active=False)
    _communicator, connected = await connect(headers(client_a))
    assert not connected


async def test_deactivated_user_cannot_open_a_socket(client_a: Client, user_a: User) -> None:
    await database_sync_to_async(User.objects.filter(pk=user_a.pk).update)(is_active=False)
    _communicator, connected = await connect(headers(client_a))
    assert not connected


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"type": 5}', "bad_frame"),
        ('{"type": "nope"}', "unknown_type"),
    ],
)
async def test_invalid_frames_get_an_error_frame_not_a_crash(client_a: Client, frame: str, code: str) -> None:
    communicator, connected = await connect(headers(client_a))
    assert connected
    await communicator.receive_json_from()
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    # The socket is still usable.
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_tenant_group_events_do_not_cross_tenants(client_a: Client, client_b: Client, tenant_a: Tenant) -> None:
    from channels.layers import get_channel_layer

    from chat.consumers import tenant_group

    sock_a, ok_a = await connect(headers(client_a))
    sock_b, ok_b = await connect(headers(client_b))
    assert ok_a
    assert ok_b
    await sock_a.receive_json_from()
    await sock_b.receive_json_from()
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(tenant_group(tenant_a.pk), {"type": "tenant.event", "event": {"type": "notice.updated"}})
    assert await sock_a.receive_json_from() == {"type": "notice.updated"}
    assert await sock_b.receive_nothing(timeout=0.3)
    await sock_a.disconnect()
    await sock_b.disconnect()
