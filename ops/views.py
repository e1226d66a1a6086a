"""``/healthz`` (liveness: the process answers), ``/readyz`` (readiness: its dependencies answer) and ``/metrics``
(Prometheus; only for the addresses in METRICS_ALLOWED_IPS or a request with the METRICS_TOKEN bearer token)."""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from ops import checks, metrics


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    result = checks.readiness()
    return JsonResponse(result, status=200 if result["status"] == "ok" else 503)


@cache
def _allowed_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks(tuple(settings.METRICS_ALLOWED_IPS)))


@login_not_required
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404  # not advertised to anyone else
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
