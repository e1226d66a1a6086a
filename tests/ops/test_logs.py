"""Structured logs (LOG_FORMAT=json): every line of a request carries its request id (the caller's X-Request-ID when
sane, else a fresh one, echoed back) and the tenant it was resolved to."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from ops.logs import ClientErrorWithoutTraceback, ContextFilter, JsonFormatter
from tenants.models import User
from tests.conftest import signed_in


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(ClientErrorWithoutTraceback())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_each_line_names_its_request_and_tenant(json_log: io.StringIO, user_a: User, user_b: User) -> None:
    # A missing conversation: Django logs "Not Found" for it, inside the request.
    response = signed_in(user_a).get("/api/conversations/999999/", HTTP_X_REQUEST_ID="proxy-id-1")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "proxy-id-1"
    response_b = signed_in(user_b).get("/api/conversations/999998/", HTTP_X_REQUEST_ID="bad id with spaces")
    fresh = response_b["X-Request-ID"]
    assert fresh != "bad id with spaces"
    assert len(fresh) == 32
    records = [r for r in lines(json_log) if r["logger"] == "django.request"]
    assert [(r["request_id"], r["tenant"], r["status"]) for r in records] == [
        ("proxy-id-1", user_a.tenant.slug, 404),
        (fresh, user_b.tenant.slug, 404),
    ]
    assert all("exception" not in r for r in records)  # a 404 is not a fault: no traceback
    assert all(r["level"] == "WARNING" and str(r["time"]).endswith("+00:00") for r in records)


def test_outside_a_request_the_context_is_empty(json_log: io.StringIO) -> None:
    # A fresh context, as a new thread or task has (a test client's requests all share this thread's).
    contextvars.Context().run(logging.getLogger("officeai.test").warning, "日本語のメッセージ")
    (record,) = lines(json_log)
    assert record["message"] == "日本語のメッセージ"
    assert (record["request_id"], record["tenant"]) == ("-", "-")
    assert "日本語" in json_log.getvalue()  # UTF-8, not \\u escapes
