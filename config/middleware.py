"""Request edges of the whole site that belong to no app."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TZ_COOKIE = "tz"  # set by static/js/tz.js on every page, the admin's included


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def browser_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone a browser reported, if it is a real one (never a path or an arbitrary string)."""
    return zoneinfo.ZoneInfo(name) if name in _zone_names() else None


class BrowserTimezoneMiddleware:
    """Dates shown in the person's own time zone. Without it every admin date field tells a browser outside the
    server's TIME_ZONE "You are 9 hours behind server time". No cookie (first visit, scripts): TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = browser_zone(request.COOKIES.get(TZ_COOKIE, ""))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


# script-src without 'unsafe-inline': no inline script or event handler runs, so injected markup cannot execute.
# img-src without foreign hosts: nothing on a page can send data to another host by loading an image.
# connect-src 'self' covers the same-origin websocket (CSP Level 3). Inline style attributes stay allowed (the admin
# and some templates use them; they cannot run code).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        # The Google sign-in form posts here and is redirected to Google, which form-action also governs.
        "form-action 'self' https://accounts.google.com",
    ]
)


class SecurityHeadersMiddleware:
    """The Content-Security-Policy on every response, and ``Cache-Control: no-store`` on everything a signed-in
    person sees (conversations, the API, exports, the admin): no shared or back-button cache keeps them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response["Cache-Control"] = "no-store, private"
        return response
