from typing import Any

from django.contrib.auth.backends import ModelBackend

from tenants.models import User


class TenantModelBackend(ModelBackend):
    """Loads the session's user together with their tenant: the middleware reads both on every request."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User.objects.select_related("tenant").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
