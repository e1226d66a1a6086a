from __future__ import annotations

import pytest
from django.http import Http404

from tenants.models import Tenant, TenantHostname, User
from tenants.selectors import (
    normalize_host,
    tenant_get_for_google_domain,
    tenant_get_for_hostname,
    user_get,
    user_list,
)


def test_user_get_of_other_tenant_is_the_same_404_as_missing(tenant_a: Tenant, user_a: User, user_b: User) -> None:
    assert user_get(tenant=tenant_a, user_id=user_a.pk) == user_a
    with pytest.raises(Http404):
        user_get(tenant=tenant_a, user_id=user_b.pk)
    with pytest.raises(Http404):
        user_get(tenant=tenant_a, user_id=999_999)


def test_user_list_is_scoped(tenant_a: Tenant, tenant_b: Tenant, user_a: User, user_b: User) -> None:
    assert list(user_list(tenant=tenant_a)) == [user_a]
    assert list(user_list(tenant=tenant_b)) == [user_b]


def test_google_domain_lookup_is_case_insensitive(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_get_for_google_domain(domain="ALPHA.example ") == tenant_a
    assert tenant_get_for_google_domain(domain="beta.example") == tenant_b
    assert tenant_get_for_google_domain(domain="gamma.example") is None


def test_hostname_lookup(tenant_a: Tenant) -> None:
    TenantHostname.objects.create(tenant=tenant_a, hostname="ai.alpha.example")
    assert tenant_get_for_hostname(hostname="AI.alpha.example:8443") == tenant_a
    assert tenant_get_for_hostname(hostname="localhost:8000") is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [("Example.COM:8000", "example.com"), ("[::1]:8000", "[::1]"), ("localhost", "localhost")],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


def test_a_domain_belongs_to_one_tenant_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from django.db import IntegrityError, transaction

    from tenants.models import TenantDomain

    with pytest.raises(IntegrityError), transaction.atomic():
        TenantDomain.objects.create(tenant=tenant_b, domain="alpha.example")
