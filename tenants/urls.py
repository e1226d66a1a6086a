from django.conf import settings
from django.urls import path

from tenants import views

urlpatterns = []
if settings.OFFICE_AI_DEV_SIGNIN:
    urlpatterns.append(path("dev-signin/", views.dev_signin, name="dev_signin"))
