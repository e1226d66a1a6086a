from typing import Any

from django.conf import settings
from django.http import HttpRequest


def office(request: HttpRequest) -> dict[str, Any]:
    return {
        "dev_signin_enabled": settings.OFFICE_AI_DEV_SIGNIN,
        "google_signin_configured": bool(settings.SOCIALACCOUNT_PROVIDERS["google"]["APPS"]),
        "current_tenant": getattr(request, "tenant", None),
    }
