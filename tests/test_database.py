import os

from django.db import connection


def test_suite_runs_on_the_database_it_was_given(db: None) -> None:
    # CI sets DATABASE_URL to the real PostgreSQL; the fast path runs on SQLite.
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected
