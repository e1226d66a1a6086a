from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.entry_list, name="entry_list"),
    path("<int:entry_id>/", views.entry_detail, name="entry_detail"),
    path("export.zip", views.export_download, name="export_download"),
    path("verify/", views.verify, name="verify"),
    path("verify/<int:verification_id>/status", views.verify_status, name="verify_status"),
    path("exports/", views.export_list, name="export_list"),
    path("exports/<int:export_id>/status", views.export_status, name="export_status"),
    path("exports/<int:export_id>/download", views.export_file, name="export_file"),
]
