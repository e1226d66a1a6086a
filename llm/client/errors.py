"""Upstream failures as ``Error`` events: a kind, a message for the user, and the technical detail for the audit.

Bodies and library exceptions as in azure-wire.md A4. User messages are marked with ``gettext_noop`` (so
makemessages finds them) and translated when the event is made, in the language active in the caller's context.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import openai

from llm.client.types import DeploymentSpec, Error

# Kinds ---------------------------------------------------------------------------------------------------------
PROMPT_FILTERED = "prompt_filtered"
AUTH = "auth"
DEPLOYMENT_NOT_FOUND = "deployment_not_found"
API_VERSION_UNSUPPORTED = "api_version_unsupported"
UNSUPPORTED_PARAMETER = "unsupported_parameter"
BAD_REQUEST = "bad_request"
RATE_LIMITED = "rate_limited"
UPSTREAM_ERROR = "upstream_error"
TIMEOUT = "timeout"
STALL = "stall"
CONNECTION = "connection"
STREAM_ERROR = "stream_error"

# Failing over to the next deployment can help with these; the others would fail the same way everywhere.
FAILOVER_KINDS = frozenset({RATE_LIMITED, UPSTREAM_ERROR, TIMEOUT, CONNECTION})
RETRYABLE_KINDS = FAILOVER_KINDS | {STALL, STREAM_ERROR}

_API_VERSION = re.compile(r"api[- ]?version[^.]*not supported|unsupported api[- ]?version", re.IGNORECASE)
_RETRY_IN_MESSAGE = re.compile(
    r"(?:retry after|try again in)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?)\b", re.IGNORECASE
)
_QUOTA_SECONDS = 300  # longer waits are a used-up quota rather than a momentary burst


def gettext_noop(message: str) -> str:
    """Marks a message for makemessages (same keyword as Django's), without needing Django settings at import."""
    return message


def translate(message: str, **values: Any) -> str:
    """``message`` in the active language; English when Django is not set up (the benchmark, scripts)."""
    try:
        from django.conf import settings

        if settings.configured:
            from django.utils.translation import gettext

            message = gettext(message)
    except Exception:  # noqa: S110 - apps not ready yet: the English source is the right fallback
        pass
    return message % values if values else message


def redact(text: str, secret: str | None) -> str:
    """Remove the key from upstream text before it goes anywhere (some gateways echo what they were sent)."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


# User messages -------------------------------------------------------------------------------------------------
MESSAGES: dict[str, str] = {
    PROMPT_FILTERED: gettext_noop(
        "Your message was blocked by the content safety filter. Please rephrase it and try again."
    ),
    AUTH: gettext_noop("The AI service rejected the credentials. Please tell your administrator."),
    DEPLOYMENT_NOT_FOUND: gettext_noop(
        "This AI model is not available right now (its deployment was not found). Please tell your administrator."
    ),
    API_VERSION_UNSUPPORTED: gettext_noop(
        "This AI model is set up with an API version the service does not support. Please tell your administrator."
    ),
    UNSUPPORTED_PARAMETER: gettext_noop(
        "This AI model does not accept one of the settings it was sent. Please tell your administrator."
    ),
    BAD_REQUEST: gettext_noop("The AI service could not process this request."),
    RATE_LIMITED: gettext_noop("The AI service is receiving too many requests. Please try again in a moment."),
    UPSTREAM_ERROR: gettext_noop("The AI service had an internal error. Please try again."),
    TIMEOUT: gettext_noop("The AI service did not answer in time. Please try again."),
    STALL: gettext_noop("The AI service stopped responding in the middle of the answer, so it may be incomplete."),
    CONNECTION: gettext_noop("The AI service could not be reached. Please try again."),
    STREAM_ERROR: gettext_noop("The AI service reported an error while answering. Please try again."),
}
MSG_QUOTA = gettext_noop(
    "The usage quota of this AI model is used up for now. Please try again later or choose another model."
)
MSG_RETRY_IN = gettext_noop("The AI service is receiving too many requests. Please try again in %(seconds)s seconds.")
MSG_DROPPED = gettext_noop("The connection to the AI service was lost, so the answer may be incomplete.")
MSG_STREAM_ERROR_PARTIAL = gettext_noop("The AI service reported an error, so the answer may be incomplete.")
MSG_TIMEOUT_PARTIAL = gettext_noop("The answer took too long and was cut off.")
MSG_ALL_FAILED = gettext_noop("The AI service is busy or unavailable right now. Please try again in a moment.")


def _rate_limited_message(retry_after: float | None) -> str:
    seconds = round(retry_after) if retry_after is not None else 0
    if retry_after is None or seconds <= 1:
        return translate(MESSAGES[RATE_LIMITED])  # "in a moment"; also spares a plural form for "1 second"
    if retry_after > _QUOTA_SECONDS:
        return translate(MSG_QUOTA)
    return translate(MSG_RETRY_IN, seconds=seconds)


def user_message(kind: str, *, retry_after: float | None = None, partial: bool = False) -> str:
    """The end-user sentence for an error ``kind``; ``partial`` when some of the answer was already shown."""
    if kind == RATE_LIMITED:
        return _rate_limited_message(retry_after)
    if partial:
        if kind == CONNECTION:
            return translate(MSG_DROPPED)
        if kind == STREAM_ERROR:
            return translate(MSG_STREAM_ERROR_PARTIAL)
        if kind == TIMEOUT:
            return translate(MSG_TIMEOUT_PARTIAL)
    return translate(MESSAGES.get(kind, MESSAGES[BAD_REQUEST]))


def make_error(
    kind: str,
    *,
    detail: str = "",
    status_code: int | None = None,
    code: str | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
    partial: bool = False,
) -> Error:
    return Error(
        kind=kind,
        message=user_message(kind, retry_after=retry_after, partial=partial),
        retryable=kind in RETRYABLE_KINDS,
        status_code=status_code,
        code=code,
        retry_after=retry_after,
        request_id=request_id,
        detail=detail,
    )


# Exceptions → Error --------------------------------------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, str] | None, message: str = "") -> float | None:
    """``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date), else "retry after N seconds" in the text."""
    if headers:
        raw_ms = headers.get("retry-after-ms")
        if raw_ms:
            try:
                return max(0.0, float(raw_ms) / 1000)
            except ValueError:
                pass
        raw = headers.get("retry-after")
        if raw:
            try:
                return max(0.0, float(raw))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(raw) if raw.strip() else None
                if parsed is not None:
                    return max(0.0, parsed.timestamp() - time.time())
    match = _RETRY_IN_MESSAGE.search(message or "")
    if match:
        value = float(match.group(1))
        return value / 1000 if match.group(2).lower().startswith("m") else value
    return None


def filtered_categories(results: Any) -> list[str]:
    """Names of the content-filter categories marked ``filtered`` in a ``content_filter_result(s)`` object."""
    if not isinstance(results, Mapping):
        return []
    return sorted(name for name, value in results.items() if isinstance(value, Mapping) and value.get("filtered"))


def _body_dict(exc: openai.APIError) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error")  # some gateways leave the envelope on
        return dict(inner) if isinstance(inner, Mapping) else dict(body)
    return {}


def _prompt_filter_detail(body: Mapping[str, Any], message: str) -> str:
    inner = body.get("innererror")
    results: Any = None
    if isinstance(inner, Mapping):
        results = inner.get("content_filter_result") or inner.get("content_filter_results")
    categories = filtered_categories(results)
    listed = ", ".join(categories) if categories else "unspecified"
    return f"prompt filtered; categories: {listed}. {message}".strip()


def _request_id(exc: openai.APIStatusError) -> str | None:
    return exc.request_id or exc.response.headers.get("apim-request-id")


def error_from_exception(exc: BaseException, *, api_key: str | None = None, partial: bool = False) -> Error:
    """Map an exception from the openai library (or the transport under it) to an ``Error``."""
    if isinstance(exc, openai.APITimeoutError):
        return make_error(TIMEOUT, detail=redact(f"{type(exc).__name__}: {exc}", api_key), partial=partial)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(exc).__name__}: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
        return make_error(CONNECTION, detail=redact(detail, api_key), partial=partial)
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc, api_key=api_key)
    if isinstance(exc, openai.APIError):
        # ``data: {"error": ...}`` inside a 200 stream; a proxy may report the prompt filter this way.
        body = _body_dict(exc)
        message = redact(str(body.get("message") or exc.message), api_key)
        code = str(body["code"]) if body.get("code") is not None else None
        if code == "content_filter" and not partial:
            return make_error(PROMPT_FILTERED, detail=_prompt_filter_detail(body, message), code=code)
        return make_error(STREAM_ERROR, detail=f"in-stream error: {message}", code=code, partial=partial)
    detail = redact(f"{type(exc).__name__}: {exc}", api_key)
    return make_error(STREAM_ERROR, detail=detail, partial=partial)


def _from_status(exc: openai.APIStatusError, *, api_key: str | None) -> Error:
    status = exc.status_code
    body = _body_dict(exc)
    message = redact(str(body.get("message") or exc.message), api_key)
    code = str(body["code"]) if body.get("code") is not None else None
    param = body.get("param")
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f" (param {param})" if param else "") + f": {message}"
    common: dict[str, Any] = {"status_code": status, "code": code, "request_id": _request_id(exc)}

    if status == 429:
        retry_after = retry_after_seconds(exc.response.headers, message)
        return make_error(RATE_LIMITED, detail=detail, retry_after=retry_after, **common)
    if status >= 500:
        return make_error(UPSTREAM_ERROR, detail=detail, **common)
    if status in (401, 403):
        return make_error(AUTH, detail=detail, **common)
    if status == 408:
        return make_error(TIMEOUT, detail=detail, **common)
    if status in (400, 404) and _API_VERSION.search(message):
        return make_error(API_VERSION_UNSUPPORTED, detail=detail, **common)
    if status == 404:
        # DeploymentNotFound (Azure), model_not_found (OpenAI), or a bare "Resource not found" for a wrong path.
        return make_error(DEPLOYMENT_NOT_FOUND, detail=detail, **common)
    if code == "content_filter" or (status == 400 and "content management policy" in message):
        return make_error(PROMPT_FILTERED, detail=_prompt_filter_detail(body, message), **common)
    if code in ("unsupported_parameter", "unsupported_value") or message.startswith(
        ("Unrecognized request argument", "Unsupported parameter", "Unsupported value")
    ):
        return make_error(UNSUPPORTED_PARAMETER, detail=detail, **common)
    return make_error(BAD_REQUEST, detail=detail, **common)


# Admin wording -------------------------------------------------------------------------------------------------

ADMIN_AUTH = gettext_noop(
    "The upstream rejected the API key (HTTP %(status)s). Check the key, and that it belongs to the resource of "
    "the endpoint %(host)s."
)
ADMIN_NOT_FOUND = gettext_noop(
    "Deployment “%(name)s” was not found at %(host)s. Check the deployment name (it is case-sensitive) and the "
    "endpoint; a deployment created in the last few minutes may not be ready yet."
)
ADMIN_API_VERSION = gettext_noop(
    "API version “%(version)s” is not supported by this endpoint. Choose a supported version (for example "
    "2024-10-21) or use the Azure v1 API, which needs none."
)
ADMIN_PARAMETER = gettext_noop(
    "The model rejected a parameter that it does not support: %(detail)s Adjust the model version's capability "
    "flags (token parameter, temperature, system role, streaming, usage in stream, reasoning effort)."
)
ADMIN_QUOTA = gettext_noop(
    "Quota or rate limit exceeded for this deployment (the upstream asks to wait %(seconds)s s). Raise the quota "
    "in Azure or add a fallback deployment."
)
ADMIN_RATE = gettext_noop(
    "Quota or rate limit exceeded for this deployment. Raise the quota or add a fallback deployment."
)
ADMIN_UNREACHABLE = gettext_noop(
    "The endpoint %(host)s is unreachable. Check the endpoint URL, DNS, firewall or private-endpoint settings."
)
ADMIN_TIMEOUT = gettext_noop(
    "The endpoint %(host)s did not answer in time. Check the network, or raise the deployment's timeouts if the "
    "model is slow."
)
ADMIN_SERVER = gettext_noop(
    "The upstream failed with a server error (HTTP %(status)s). Try again later; if it persists, check the "
    "provider's service health."
)
ADMIN_STREAM = gettext_noop("The upstream reported an error in the middle of the answer: %(detail)s")
ADMIN_FILTERED = gettext_noop("The test prompt was blocked by the content filter (%(detail)s).")
ADMIN_OTHER = gettext_noop("The upstream rejected the request: %(detail)s")


def admin_message(error: Error, deployment: DeploymentSpec | None = None) -> str:
    """A sentence an administrator can act on (admin "Test connection", test-on-save, health page)."""
    host = deployment.host if deployment else "?"
    name = deployment.deployment_name if deployment else "?"
    version = deployment.api_version if deployment else "?"
    status = error.status_code or "?"
    kind = error.kind
    if kind == AUTH:
        return translate(ADMIN_AUTH, status=status, host=host)
    if kind == DEPLOYMENT_NOT_FOUND:
        return translate(ADMIN_NOT_FOUND, name=name, host=host)
    if kind == API_VERSION_UNSUPPORTED:
        return translate(ADMIN_API_VERSION, version=version)
    if kind == UNSUPPORTED_PARAMETER:
        return translate(ADMIN_PARAMETER, detail=error.detail)
    if kind == RATE_LIMITED:
        if error.retry_after is not None:
            return translate(ADMIN_QUOTA, seconds=f"{error.retry_after:g}")
        return translate(ADMIN_RATE)
    if kind == CONNECTION:
        return translate(ADMIN_UNREACHABLE, host=host)
    if kind in (TIMEOUT, STALL):
        return translate(ADMIN_TIMEOUT, host=host)
    if kind == UPSTREAM_ERROR:
        return translate(ADMIN_SERVER, status=status)
    if kind == STREAM_ERROR:
        return translate(ADMIN_STREAM, detail=error.detail)
    if kind == PROMPT_FILTERED:
        return translate(ADMIN_FILTERED, detail=error.detail)
    return translate(ADMIN_OTHER, detail=error.detail)
