from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def dev_signin_off_in_deploy(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The dev sign-in lets anyone in as anyone; it must never reach a deployed instance."""
    if getattr(settings, "OFFICE_AI_DEV_SIGNIN", False):
        return [
            Error(
                "OFFICE_AI_DEV_SIGNIN is on: anyone can sign in as any user.",
                hint="Use config.settings.production, which forces it off.",
                id="officeai.E001",
            )
        ]
    return []
