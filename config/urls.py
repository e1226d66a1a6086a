from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from chat import views as chat_views
from tenants import views as tenant_views

urlpatterns = [
    path("", chat_views.chat_page, name="home"),
    path("", include("chat.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("tenants.urls")),
    path("accounts/", include("allauth.urls")),
    path("audit/", include("audit.urls")),
    path("slack/", include("slack.urls")),
    # The language switch must also work on the sign-in page.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("healthz", tenant_views.healthz, name="healthz"),
]
