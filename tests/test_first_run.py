"""What a new user meets on the first run: the favicon, the dev sign-in list, allauth's own pages in the product's
layout, dates in the browser's time zone, and a log without noise."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from django.conf import settings
from django.test import Client

from ops.logs import ClientErrorWithoutTraceback
from tenants.models import User
from tests.conftest import signed_in

STATIC = Path(settings.BASE_DIR) / "static"


def test_favicon_is_served(client: Client, db: None) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
    icon = (STATIC / "favicon.ico").read_bytes()
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert b"\x89PNG" in icon


def test_dev_signin_names_the_operator_as_operator(operator: User, admin_a: User, user_b: User) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/dev-signin/").content.decode()
    roles = dict(
        re.findall(r'value="([^"]+)"><button[^>]*>[^<]+</button> <span[^>]*>[^·]+· ([^<]+)</span>', page, re.S)
    )
    assert roles[operator.email] == "Platform operator"
    assert roles[admin_a.email] == "Company administrator"
    assert roles[user_b.email] == "Member"


def test_allauth_pages_use_the_products_layout(user_a: User, user_b: User) -> None:
    client = signed_in(user_a)
    for url in ("/accounts/logout/", "/accounts/3rdparty/"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, url
        page = response.content.decode()
        assert 'class="topbar"' in page, url
        assert "allauth-page" in page, url
        assert "/static/css/app.css" in page, url
        assert "Office AI</title>" in page, url
        assert "<strong>Menu:</strong>" not in page, url  # allauth's bare layout


def offset_on_admin_page(client: Client) -> str:
    page = client.get("/admin/").content.decode()
    match = re.search(r'data-admin-utc-offset="(-?\d+)"', page)
    assert match, page[:500]
    return match.group(1)


def test_admin_dates_follow_the_browsers_time_zone(operator: User, admin_b: User) -> None:
    client = signed_in(operator)
    assert offset_on_admin_page(client) == "32400"  # no cookie yet: the server's Asia/Tokyo
    client.cookies["tz"] = "Europe/London"
    assert offset_on_admin_page(client) in {"0", "3600"}  # GMT or BST
    client.cookies["tz"] = "../../../etc/passwd"
    assert offset_on_admin_page(client) == "32400"  # not a zone name: ignored
    # The cookie is set by the same script on the admin's pages and the product's.
    assert "js/tz.js" in client.get("/admin/").content.decode()
    assert "js/tz.js" in signed_in(admin_b).get("/").content.decode()


def test_client_errors_are_logged_without_a_traceback() -> None:
    log_filter = ClientErrorWithoutTraceback()
    try:
        raise PermissionError("denied")
    except PermissionError:
        exc_info = sys.exc_info()
    forbidden = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: /x", None, exc_info)
    forbidden.status_code = 403
    assert log_filter.filter(forbidden)
    assert forbidden.exc_info is None
    broken = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", None, exc_info)
    broken.status_code = 500
    assert log_filter.filter(broken)
    assert broken.exc_info is exc_info
    # The filter sits on the one console handler; Django's own logger prints through it only (no second line).
    console = logging.getLogger().handlers
    assert any(isinstance(f, ClientErrorWithoutTraceback) for handler in console for f in handler.filters)
    assert logging.getLogger("django").handlers == []
