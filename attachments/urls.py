from django.urls import path

from attachments import views

app_name = "attachments"

urlpatterns = [
    path("api/attachments/", views.upload, name="upload"),
    path("api/attachments/<int:attachment_id>/", views.detail, name="detail"),
    path("api/attachments/<int:attachment_id>/delete/", views.remove, name="delete"),
    path("api/attachments/<int:attachment_id>/download", views.download, name="download"),
]
