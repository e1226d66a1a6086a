from django.urls import path

from chat import views, views_library

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
    path("api/conversations/<int:conversation_id>/versions/", views.show_version, name="versions"),
    path("api/conversations/<int:conversation_id>/pin/", views.pin, name="pin"),
    path("api/conversations/<int:conversation_id>/folder/", views.conversation_folder, name="conversation_folder"),
    path("api/folders/", views.folders, name="folders"),
    path("api/folders/<int:folder_id>/rename/", views.folder_rename_view, name="folder_rename"),
    path("api/folders/<int:folder_id>/delete/", views.folder_delete_view, name="folder_delete"),
    path("api/folders/<int:folder_id>/move/", views.folder_move_view, name="folder_move"),
    path("api/prompts/", views_library.prompts, name="prompts"),
    path("api/prompts/<int:prompt_id>/", views_library.prompt_detail, name="prompt"),
    path("api/prompts/<int:prompt_id>/delete/", views_library.prompt_remove, name="prompt_delete"),
    path("api/prompts/<int:prompt_id>/fill/", views_library.prompt_filled, name="prompt_fill"),
    path("settings/import/", views_library.import_page, name="import"),
    path("api/messages/<int:message_id>/feedback/", views.feedback, name="feedback"),
]
