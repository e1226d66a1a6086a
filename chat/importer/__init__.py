"""Carrying history over from chatbot-ui v1: its JSON export (conversations, folders, prompts) into a person's
account. ``parse.py`` reads and checks the file (no database); ``services.py`` writes it in one transaction."""

from chat.importer.parse import MAX_BYTES, MAX_CONVERSATIONS, ImportRefused, too_large
from chat.importer.services import ImportResult, import_chatbot_ui

__all__ = ["MAX_BYTES", "MAX_CONVERSATIONS", "ImportRefused", "ImportResult", "import_chatbot_ui", "too_large"]
