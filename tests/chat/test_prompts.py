"""The prompt library: ``{{variable}}`` parsing and filling, the JSON API, who may see and change what (another
person's and another company's prompts are 404; members cannot change shared ones), audit of shared prompts, and
the admin console's shared prompts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from audit.models import AuditOutbox, chain_for
from chat.models import Prompt
from chat.prompts.services import MAX_PROMPTS, prompt_shared_save
from chat.prompts.variables import MAX_VARIABLES, prompt_fill, prompt_variables
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.conftest import signed_in

API = "/api/prompts/"


# --- Variables ----------------------------------------------------------------------------------------------------
def test_variables_in_order_of_first_appearance_each_once() -> None:
    text = "Dear {{name}}, about {{topic}}: {{ name }} again, {{topic}}."
    assert prompt_variables(text) == ["name", "topic"]


def test_variable_names_allow_spaces_hyphens_digits_and_japanese() -> None:
    text = "{{ target language }} {{tone-2}} {{snake_case}} {{ 対象　言語 }} {{会議名}} {{  a   b  }}"
    assert prompt_variables(text) == ["target language", "tone-2", "snake_case", "対象 言語", "会議名", "a b"]


@pytest.mark.parametrize(
    "text",
    [
        "{{user.name}}",
        "{{a|upper}}",
        "{{}}",
        "{{   }}",
        "{{line\nbreak}}",
        "{ {x} }",
        "{{x",
        "{{" + "x" * 51 + "}}",
        "{{#if x}}",
    ],
)
def test_what_is_not_a_variable_stays_text(text: str) -> None:
    assert prompt_variables(text) == []
    assert prompt_fill(text, {"user.name": "X", "x": "X", "a": "X", "line\nbreak": "X"}) == text


def test_names_are_case_sensitive_and_triple_braces_keep_the_outer_ones() -> None:
    assert prompt_variables("{{Name}} {{name}}") == ["Name", "name"]
    assert prompt_fill("{{{x}}}", {"x": "1"}) == "{1}"


def test_fill_replaces_every_occurrence_and_leaves_missing_ones() -> None:
    text = "Translate into {{ language }}: {{text}}. ({{language}}; {{unknown}})"
    assert (
        prompt_fill(text, {"language": "日本語", "text": "Hello"})
        == "Translate into 日本語: Hello. (日本語; {{unknown}})"
    )


def test_fill_inserts_values_literally_never_expanding_them_again() -> None:
    text = "A: {{a}} B: {{b}}"
    filled = prompt_fill(text, {"a": "{{b}}", "b": r"\1 \g<0> {{a}}"})
    assert filled == r"A: {{b}} B: \1 \g<0> {{a}}"


# --- API ----------------------------------------------------------------------------------------------------------
def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def user_a2(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="carol@alpha.example", first_name="Carol")


@pytest.fixture
def mine(user_a: User, tenant_a: Tenant) -> Prompt:
    return Prompt.objects.create(
        tenant=tenant_a, owner=user_a, created_by=user_a, name="Summarise", content="Summarise {{text}} in {{n}} lines"
    )


@pytest.fixture
def shared_a(admin_a: User, tenant_a: Tenant) -> Prompt:
    return Prompt.objects.create(
        tenant=tenant_a, owner=None, created_by=admin_a, name="Company tone", content="Write in our tone: {{draft}}"
    )


def test_create_list_update_delete_a_personal_prompt(client_a: Client, user_a: User) -> None:
    created = post(
        client_a,
        API,
        {"name": "  Translate  ", "content": "Into {{ language }}:\n\n{{text}}", "folder_name": "Writing"},
    )
    assert created.status_code == 201
    prompt = created.json()["prompt"]
    assert prompt["name"] == "Translate"
    assert prompt["variables"] == ["language", "text"]
    assert (prompt["shared"], prompt["editable"], prompt["folder_name"]) == (False, True, "Writing")
    row = Prompt.objects.get(pk=prompt["id"])
    assert (row.owner, row.created_by, row.tenant_id) == (user_a, user_a, user_a.tenant_id)

    listing = client_a.get(API).json()
    assert [p["name"] for p in listing["prompts"]] == ["Translate"]
    assert listing["can_share"] is False
    assert listing["limits"]["max_variables"] == MAX_VARIABLES

    changed = post(client_a, f"{API}{row.pk}/", {"content": "Into {{language}}, politely: {{text}}"})
    assert changed.status_code == 200
    assert changed.json()["prompt"]["name"] == "Translate"  # fields not given are kept
    assert client_a.get(f"{API}{row.pk}/").json()["prompt"]["content"] == "Into {{language}}, politely: {{text}}"

    assert post(client_a, f"{API}{row.pk}/delete/", {}).json() == {"ok": True}
    assert not Prompt.objects.filter(pk=row.pk).exists()
    assert not AuditOutbox.objects.filter(event_type__startswith="prompt.").exists()  # personal: not audited


def test_fill_endpoint(client_a: Client, mine: Prompt) -> None:
    response = post(client_a, f"{API}{mine.pk}/fill/", {"values": {"text": "{{n}} and more", "x": "unused"}})
    assert response.json() == {
        "text": "Summarise {{n}} and more in {{n}} lines",
        "variables": ["text", "n"],
        "missing": ["n"],
    }
    bad = post(client_a, f"{API}{mine.pk}/fill/", {"values": {"text": 3}})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_values"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"content": "x"}, "empty", "name"),
        ({"name": "   ", "content": "x"}, "empty", "name"),
        ({"name": 5, "content": "x"}, "empty", "name"),
        ({"name": "n" * 101, "content": "x"}, "too_long", "name"),
        ({"name": "ok"}, "empty", "content"),
        ({"name": "ok", "content": "c" * 32_001}, "too_long", "content"),
        ({"name": "ok", "content": "bad \x00 char"}, "bad_text", "content"),
        ({"name": "ok", "content": "x", "description": "d" * 301}, "too_long", "description"),
        ({"name": "ok", "content": "x", "folder_name": ["a"]}, "bad_type", "folder_name"),
        ({"name": "ok", "content": " ".join(f"{{{{v{i}}}}}" for i in range(21))}, "too_many_variables", "content"),
        ({"name": "ok", "content": "x", "shared": "yes"}, "bad_type", "shared"),
    ],
)
def test_create_refusals_are_json_with_code_and_field(
    client_a: Client, body: dict[str, Any], code: str, field: str
) -> None:
    response = post(client_a, API, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert not Prompt.objects.exists()


def test_lone_surrogate_is_refused(client_a: Client) -> None:
    body = b'{"name": "ok", "content": "broken \\ud800 emoji"}'
    response = client_a.post(API, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_text"


def test_twenty_variables_are_fine(client_a: Client) -> None:
    content = " ".join(f"{{{{v{i}}}}}" for i in range(MAX_VARIABLES))
    assert post(client_a, API, {"name": "many", "content": content}).status_code == 201


def test_bad_json_and_wrong_method_answer_in_json(client_a: Client, mine: Prompt) -> None:
    bad = client_a.post(API, data=b"{nope", content_type="application/json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_json")
    wrong = client_a.get(f"{API}{mine.pk}/delete/")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_at_most_500_prompts_per_person(client_a: Client, user_a: User, tenant_a: Tenant, admin_a: User) -> None:
    Prompt.objects.bulk_create(
        [Prompt(tenant=tenant_a, owner=user_a, name=f"p{i}", content="x") for i in range(MAX_PROMPTS)]
    )
    response = post(client_a, API, {"name": "one more", "content": "x"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "limit_reached")
    # Another person's and the company's shared prompts have their own room.
    assert post(signed_in(admin_a), API, {"name": "shared", "content": "x", "shared": True}).status_code == 201


# --- Who sees what ------------------------------------------------------------------------------------------------
def test_members_see_their_own_and_the_company_shared_prompts_only(
    client_a: Client, tenant_a: Tenant, user_a2: User, mine: Prompt, shared_a: Prompt, tenant_b: Tenant, user_b: User
) -> None:
    Prompt.objects.create(tenant=tenant_a, owner=user_a2, name="Carol's", content="x")
    Prompt.objects.create(tenant=tenant_b, owner=None, name="Beta shared", content="x")
    Prompt.objects.create(tenant=tenant_b, owner=user_b, name="Bob's", content="x")
    listing = client_a.get(API).json()["prompts"]
    assert [(p["name"], p["shared"], p["editable"]) for p in listing] == [
        ("Company tone", True, False),
        ("Summarise", False, True),
    ]


def _all_doors(client: Client, prompt: Prompt) -> list[int]:
    base = f"{API}{prompt.pk}/"
    return [
        client.get(base).status_code,
        post(client, base, {"name": "taken over"}).status_code,
        post(client, f"{base}delete/", {}).status_code,
        post(client, f"{base}fill/", {"values": {}}).status_code,
    ]


def test_another_persons_prompt_is_404_like_a_missing_one(user_a2: User, mine: Prompt) -> None:
    client = signed_in(user_a2)
    assert _all_doors(client, mine) == [404, 404, 404, 404]
    missing = client.get(f"{API}999999/")
    assert missing.json() == client.get(f"{API}{mine.pk}/").json()
    assert missing.json()["error"]["code"] == "not_found"
    assert client.get(f"{API}99999999999999999999/").status_code == 404  # beyond the id column
    mine.refresh_from_db()
    assert mine.name == "Summarise"


def test_another_companys_prompts_are_404_even_for_its_admin(
    client_b: Client, admin_b: User, mine: Prompt, shared_a: Prompt
) -> None:
    for client in (client_b, signed_in(admin_b)):
        assert _all_doors(client, mine) == [404, 404, 404, 404]
        assert _all_doors(client, shared_a) == [404, 404, 404, 404]
        assert client.get(API).json()["prompts"] == []
    assert Prompt.objects.filter(pk__in=[mine.pk, shared_a.pk]).count() == 2


def test_members_read_and_fill_shared_prompts_but_cannot_change_them(client_a: Client, shared_a: Prompt) -> None:
    assert client_a.get(f"{API}{shared_a.pk}/").status_code == 200
    filled = post(client_a, f"{API}{shared_a.pk}/fill/", {"values": {"draft": "hi"}}).json()
    assert filled["text"] == "Write in our tone: hi"
    for response in (
        post(client_a, f"{API}{shared_a.pk}/", {"name": "mine now"}),
        post(client_a, f"{API}{shared_a.pk}/delete/", {}),
        post(client_a, API, {"name": "new shared", "content": "x", "shared": True}),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert Prompt.objects.filter(owner__isnull=True).count() == 1
    shared_a.refresh_from_db()
    assert shared_a.name == "Company tone"
    assert not AuditOutbox.objects.filter(event_type__startswith="prompt.").exists()


def test_admin_shares_prompts_and_every_change_is_audited_on_the_company_chain(
    admin_a: User, tenant_a: Tenant, client_a: Client
) -> None:
    admin = signed_in(admin_a)
    created = post(admin, API, {"name": "Tone", "content": "Our tone: {{draft}}", "shared": True})
    assert created.status_code == 201
    prompt = created.json()["prompt"]
    assert (prompt["shared"], prompt["editable"]) == (True, True)
    row = Prompt.objects.get(pk=prompt["id"])
    assert (row.owner, row.created_by) == (None, admin_a)
    assert client_a.get(API).json()["prompts"][0]["name"] == "Tone"  # everyone in the company sees it

    post(admin, f"{API}{row.pk}/", {"name": "Company tone", "description": "House style"})
    post(admin, f"{API}{row.pk}/", {"name": "Company tone"})  # no change: no entry
    post(admin, f"{API}{row.pk}/delete/", {})
    entries = list(AuditOutbox.objects.filter(event_type__startswith="prompt.").order_by("pk"))
    assert [e.event_type for e in entries] == [
        "prompt.shared.created",
        "prompt.shared.updated",
        "prompt.shared.deleted",
    ]
    for entry in entries:
        assert (entry.tenant_id, entry.chain, entry.actor_id, entry.channel) == (
            tenant_a.pk,
            chain_for(tenant_a.pk),
            admin_a.pk,
            "web",
        )
        assert entry.payload["prompt_id"] == row.pk
    assert entries[0].payload["variables"] == ["draft"]
    assert entries[1].payload["changed"] == ["name", "description"]


def test_shared_flag_cannot_be_changed_by_an_update(admin_a: User, shared_a: Prompt) -> None:
    admin = signed_in(admin_a)
    post(admin, f"{API}{shared_a.pk}/", {"shared": False, "name": "Still shared"})
    shared_a.refresh_from_db()
    assert (shared_a.owner_id, shared_a.name) == (None, "Still shared")


# --- Admin console ------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_url(settings: Any) -> str:
    return "/" + settings.ADMIN_URL.lstrip("/") + "chat/prompt/"


def test_admin_console_lists_only_shared_prompts_of_the_company(
    admin_a: User, admin_b: User, mine: Prompt, shared_a: Prompt, admin_url: str
) -> None:
    client = signed_in(admin_a)
    listing = client.get(admin_url)
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Company tone" in page
    assert "Summarise" not in page  # a person's own prompt is theirs alone
    assert client.get(f"{admin_url}{mine.pk}/change/").status_code in (302, 404)
    assert signed_in(admin_b).get(f"{admin_url}{shared_a.pk}/change/").status_code in (302, 404)


def test_admin_console_add_edit_delete_go_through_the_audited_service(
    admin_a: User, tenant_a: Tenant, admin_url: str
) -> None:
    client = signed_in(admin_a)
    added = client.post(
        f"{admin_url}add/", {"name": "Minutes", "description": "", "folder_name": "", "content": "{{meeting}} minutes"}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    row = Prompt.objects.get(name="Minutes")
    assert (row.tenant_id, row.owner_id, row.created_by_id) == (tenant_a.pk, None, admin_a.pk)
    too_many = " ".join(f"{{{{v{i}}}}}" for i in range(21))
    refused = client.post(f"{admin_url}{row.pk}/change/", {"name": "Minutes", "content": too_many})
    assert refused.status_code == 200  # the form again, with the error
    assert "at most 20 variables" in refused.content.decode()
    client.post(f"{admin_url}{row.pk}/change/", {"name": "Meeting minutes", "content": "{{meeting}} minutes"})
    client.post(f"{admin_url}{row.pk}/delete/", {"post": "yes"})
    assert not Prompt.objects.filter(pk=row.pk).exists()
    kinds = list(
        AuditOutbox.objects.filter(event_type__startswith="prompt.").order_by("pk").values_list("event_type", "channel")
    )
    assert kinds == [
        ("prompt.shared.created", "admin"),
        ("prompt.shared.updated", "admin"),
        ("prompt.shared.deleted", "admin"),
    ]


def test_members_have_no_admin_console_for_prompts(client_a: Client, shared_a: Prompt, admin_url: str) -> None:
    assert client_a.get(admin_url).status_code in (302, 403)


def test_the_admin_save_service_checks_the_acting_users_powers(
    tenant_a: Tenant, tenant_b: Tenant, admin_a: User, user_a: User, operator: User
) -> None:
    for person, tenant in ((admin_a, tenant_b), (user_a, tenant_a)):
        with pytest.raises(PermissionDenied):
            prompt_shared_save(prompt=Prompt(tenant=tenant, name="x", content="y"), user=person)
    assert not Prompt.objects.exists()
    saved = prompt_shared_save(prompt=Prompt(tenant=tenant_b, owner=user_a, name=" B ", content="y"), user=operator)
    assert (saved.tenant_id, saved.owner_id, saved.name, saved.created_by_id) == (tenant_b.pk, None, "B", operator.pk)
    assert AuditOutbox.objects.get(event_type="prompt.shared.created").tenant_id == tenant_b.pk
