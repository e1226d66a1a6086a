"""Logging: the filters and formatters settings.LOGGING names, and the request/tenant context of each line."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse


class ClientErrorWithoutTraceback(logging.Filter):
    """Django logs a 403 or 404 with the exception that caused it (PermissionDenied, Http404). That is an ordinary
    answer to a client, not a fault: keep the one-line warning, drop the traceback. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


# --- Context in every line: the request (or task) and the tenant ------------------------------------------------------
request_id: ContextVar[str] = ContextVar("officeai_request_id", default="-")
tenant: ContextVar[str] = ContextVar("officeai_tenant", default="-")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id(incoming: str | None = None) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy's id ties its log to ours), else a fresh one."""
    return incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``tenant`` (a slug) to every record, for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.tenant = tenant.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json), for a log collector."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "tenant": getattr(record, "tenant", "-"),
        }
        status = getattr(record, "status_code", None)
        if isinstance(status, int):
            data["status"] = status
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class RequestContextMiddleware:
    """First in the chain: a request id for the log lines of this request, echoed in the X-Request-ID header.
    TenantMiddleware adds the tenant once it has resolved it. Not reset on the way out: Django logs a 4xx/5xx
    response after the middleware chain has returned, and that line belongs to this request too (the next request
    on this thread or task sets both again)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = new_request_id(request.headers.get("X-Request-ID"))
        request_id.set(rid)
        tenant.set("-")
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response
