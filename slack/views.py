"""The Events API endpoint: pick the workspace, verify the signature over the raw body, store, acknowledge.

Thin on purpose: no model call and no Slack call here, so Slack gets its 2xx well within 3 seconds. The body and
the secret are never logged.
"""

from __future__ import annotations

import json
import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from slack.selectors import slack_workspace_get_enabled
from slack.services import slack_event_receive
from slack.signature import signature_is_valid

logger = logging.getLogger("officeai.slack")


@csrf_exempt
@login_not_required
@require_POST
def slack_events(request: HttpRequest) -> JsonResponse:
    slug = request.GET.get("workspace", "")
    workspace = slack_workspace_get_enabled(slug=slug)
    if workspace is None:
        return JsonResponse({"error": "unknown workspace"}, status=404)
    body = request.body  # the raw bytes Slack signed
    if not signature_is_valid(
        signing_secret=workspace.signing_secret,
        body=body,
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
    ):
        logger.warning("slack request for workspace %s refused: bad or stale signature", workspace.slug)
        return JsonResponse({"error": "invalid request"}, status=401)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    receipt = slack_event_receive(
        workspace=workspace, payload=payload, retry_num=request.headers.get("X-Slack-Retry-Num")
    )
    return JsonResponse(receipt.body, status=receipt.status)
