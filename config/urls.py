from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from chat import views as chat_views
from usage import views as usage_views


class FaviconRedirect(RedirectView):
    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("favicon.ico")  # resolved per request: the hashed name in production


urlpatterns = [
    path("", chat_views.chat_page, name="home"),
    path("", include("chat.urls")),
    path("", include("attachments.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("tenants.urls")),
    path("accounts/", include("allauth.urls")),
    path("audit/", include("audit.urls")),
    path("usage/", include("usage.urls")),
    path("api/usage/me/", usage_views.my_usage, name="usage_me"),
    path("slack/", include("slack.urls")),
    # The language switch must also work on the sign-in page.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("", include("ops.urls")),
    # Browsers ask for /favicon.ico on every page without a <link rel="icon"> (the admin's, for one).
    path("favicon.ico", login_not_required(FaviconRedirect.as_view()), name="favicon"),
]
