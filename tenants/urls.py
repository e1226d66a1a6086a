from django.conf import settings
from django.urls import path

from tenants import views

urlpatterns = [
    # Before allauth's own route: without a Google client configured, a clear page instead of a server error.
    path("google/login/", views.google_login, name="google_login"),
]
if settings.OFFICE_AI_DEV_SIGNIN:
    urlpatterns.append(path("dev-signin/", views.dev_signin, name="dev_signin"))
