"""Japanese and English from day one: the ja catalogue is complete and the switch works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
from django.test import Client

from tenants.models import User
from tests.conftest import signed_in

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ja" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{\s*\w+\s*\}\}")


def test_ja_catalogue_is_complete_and_keeps_placeholders() -> None:
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 50
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []
    for entry in catalogue:
        wanted = sorted(set(PLACEHOLDER.findall(entry.msgid)))
        # Plural entries keep their translations in msgstr_plural (Japanese has one form).
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            assert sorted(set(PLACEHOLDER.findall(translation))) == wanted, entry.msgid


def test_every_translatable_string_is_in_the_ja_catalogue(tmp_path: Path) -> None:
    # Extract afresh from a copy of the source and compare with the committed catalogue.
    for name in ("manage.py",):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("config", "ops", "tenants", "audit", "llm", "chat", "slack", "usage", "attachments", "templates"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "locale").mkdir()
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "--no-location"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh = {e.msgid for e in polib.pofile(str(tmp_path / "locale/ja/LC_MESSAGES/django.po"))}
    committed = {e.msgid for e in polib.pofile(str(PO))}
    assert fresh - committed == set()


def test_language_switch_to_japanese(user_a: User) -> None:
    client = signed_in(user_a)
    assert "Sign out" in client.get("/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="ja">' in page
    assert "サインアウト" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Sign out" in client.get("/").content.decode()


def test_sign_in_page_switches_language_anonymously(db: None) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.post("/i18n/setlang/", {"language": "ja", "next": "/accounts/login/"}).status_code == 302
    assert "サインイン" in client.get("/accounts/login/").content.decode()
