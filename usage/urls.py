from django.urls import path

from usage import views

app_name = "usage"

urlpatterns = [
    path("", views.company_usage, name="company"),
    path("export.csv", views.usage_export, name="export"),
]
