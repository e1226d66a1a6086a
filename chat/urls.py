from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("c/<int:conversation_id>/", views.chat_page, name="page"),
    path("c/<int:conversation_id>/export.md", views.export_markdown, name="export_md"),
    path("c/<int:conversation_id>/export.json", views.export_json, name="export_json"),
    path("api/conversations/", views.conversations, name="conversations"),
    path("api/conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("api/conversations/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("api/conversations/<int:conversation_id>/delete/", views.delete, name="delete"),
    path("api/conversations/<int:conversation_id>/settings/", views.configure, name="settings"),
]
