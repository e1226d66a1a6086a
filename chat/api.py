"""What every JSON endpoint of the chat app shares: refusals answered in JSON (never the HTML error page the page's
fetch() cannot read), and request bodies read as one JSON object."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.translation import gettext

from chat.services import ChatRefused

STATUS = {"busy": 409, "not_found": 404, "forbidden": 403}


def error_response(code: str, message: str, status: int, *, field: str | None = None) -> JsonResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JsonResponse({"error": error}, status=status)


def json_errors(
    *, not_found: Callable[[], str], forbidden: Callable[[], str] | None = None, with_field: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A refused change is a 400 (409 while an answer runs), a missing or foreign row a 404 with ``not_found()``,
    a refused permission a 403, a wrong method a 405. ``with_field``: errors name the input that is wrong."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            field: str | None = "" if with_field else None
            try:
                response = view(request, *args, **kwargs)
            except ChatRefused as exc:
                named = getattr(exc, "field", field)
                return error_response(exc.code, exc.message, STATUS.get(exc.code, 400), field=named)
            except PermissionDenied as exc:
                message = str(exc) or (forbidden() if forbidden else gettext("You may not do this."))
                return error_response("forbidden", message, 403, field=field)
            except Http404:
                return error_response("not_found", not_found(), 404, field=field)
            if isinstance(response, HttpResponseNotAllowed):
                allowed = response["Allow"]
                message = gettext("This address does not take %(method)s.") % {"method": request.method}
                response = error_response("method_not_allowed", message, 405, field=field)
                response["Allow"] = allowed
            return response

        return wrapped

    return decorate


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise ChatRefused("bad_json", gettext("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise ChatRefused("bad_json", gettext("The request body must be a JSON object."))
    return data
