"""Sessions follow the account (hardening): deactivating a company or a person, or signing out, ends their open
sockets; every turn re-checks the account; one person's answers running at once are capped."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Conversation, Message
from chat.services import ChatRefused, account_check
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.chat.test_consumer import open_socket, until
from tests.conftest import signed_in
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


async def ended(socket: WebsocketCommunicator) -> dict[str, Any]:
    frame, _ = await until(socket, "session.ended")
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}
    return frame


async def still_open(socket: WebsocketCommunicator) -> None:
    await socket.send_json_to({"type": "ping"})
    assert (await until(socket, "pong"))[0] == {"type": "pong"}


async def sockets(*users: User) -> list[WebsocketCommunicator]:
    return [await open_socket(await database_sync_to_async(signed_in)(user)) for user in users]


@database_sync_to_async
def colleague_of(user: User) -> User:
    return user_create(tenant=user.tenant, email=f"colleague@{user.email.split('@')[1]}")


async def test_deactivating_a_company_ends_its_sockets_only(user_a: User, user_b: User) -> None:
    colleague = await colleague_of(user_a)
    a, a2, b = await sockets(user_a, colleague, user_b)
    tenant = await Tenant.objects.aget(pk=user_a.tenant_id)
    tenant.is_active = False
    await database_sync_to_async(tenant.save)()
    assert (await ended(a))["reason"] == "tenant_inactive"
    assert (await ended(a2))["reason"] == "tenant_inactive"
    await still_open(b)
    await b.disconnect()


async def test_deactivating_a_person_ends_their_sockets_only(user_a: User, user_b: User) -> None:
    colleague = await colleague_of(user_a)
    first, second, other, b = await sockets(user_a, user_a, colleague, user_b)
    user_a.is_active = False
    await database_sync_to_async(user_a.save)()
    for socket in (first, second):  # every tab of that person
        assert (await ended(socket))["reason"] == "user_inactive"
    for socket in (other, b):
        await still_open(socket)
        await socket.disconnect()


async def test_signing_out_ends_the_persons_sockets(user_a: User, user_b: User) -> None:
    client = await database_sync_to_async(signed_in)(user_a)
    mine = await open_socket(client)
    (b,) = await sockets(user_b)
    response = await database_sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert (await ended(mine))["reason"] == "signed_out"
    await still_open(b)
    await b.disconnect()


def test_every_turn_rechecks_the_account(user_a: User, user_b: User, tenant_a: Tenant, tenant_b: Tenant) -> None:
    account_check(tenant=tenant_a, user=user_a)  # fine
    with pytest.raises(ChatRefused) as wrong_tenant:
        account_check(tenant=tenant_b, user=user_a)
    assert wrong_tenant.value.code == "account_inactive"
    User.objects.filter(pk=user_a.pk).update(is_active=False)  # no signal: the check alone must catch it
    with pytest.raises(ChatRefused) as inactive_user:
        account_check(tenant=tenant_a, user=user_a)
    assert inactive_user.value.code == "account_inactive"
    Tenant.objects.filter(pk=tenant_b.pk).update(is_active=False)
    for user in (user_b, None):  # a Slack member not linked to a user is checked by the company
        with pytest.raises(ChatRefused) as inactive_tenant:
            account_check(tenant=tenant_b, user=user)
        assert inactive_tenant.value.code == "account_inactive"


async def test_a_burst_of_sends_starts_no_more_answers_than_the_cap(
    user_a: User, user_b: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    await Tenant.objects.filter(pk=user_a.tenant_id).aupdate(max_concurrent_replies=2)
    for _ in range(4):
        upstream.script("gpt-4o", up.stream_tokens(40, rate=40))  # about a second each
    (socket,) = await sockets(user_a)
    for index in range(4):
        await socket.send_json_to(
            {"type": "chat.send", "request_id": f"r{index}", "conversation_id": None, "text": "hi"}
        )
    accepted: list[str] = []
    refused: list[str] = []
    while len(accepted) + len(refused) < 4:
        frame = await socket.receive_json_from(timeout=10)
        if frame["type"] == "chat.accepted":
            accepted.append(frame["request_id"])
        elif frame["type"] == "error":
            assert frame["code"] == "too_many_replies", frame
            assert "2 answers" in frame["message"]
            refused.append(frame["request_id"])
    assert (len(accepted), len(refused)) == (2, 2)
    assert len(upstream.requests_to("gpt-4o")) == 2
    for _ in accepted:
        await until(socket, "chat.done")
    # Once they are done, the person may start again.
    await socket.send_json_to({"type": "chat.send", "request_id": "again", "conversation_id": None, "text": "hi"})
    assert (await until(socket, "chat.accepted"))[0]["request_id"] == "again"
    await until(socket, "chat.done")
    await socket.disconnect()


def test_the_cap_counts_only_this_persons_running_answers(
    user_a: User, user_b: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for _ in range(3):  # B has three answers running, web or Slack alike
        conversation = Conversation.objects.create(tenant=tenant_b, user=user_b, title="t")
        Message.objects.create(
            tenant=tenant_b,
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            status=Message.Status.STREAMING,
            speaker=f"user:{user_b.pk}",
        )
    account_check(tenant=tenant_a, user=user_a)  # A is not held back by B's answers
    with pytest.raises(ChatRefused) as capped:
        account_check(tenant=tenant_b, user=user_b)
    assert capped.value.code == "too_many_replies"
    Tenant.objects.filter(pk=tenant_b.pk).update(max_concurrent_replies=4)  # the company raises its cap
    account_check(tenant=tenant_b, user=user_b)
