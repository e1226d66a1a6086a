"""``python -m config.ensure_database postgres://user@host:5432/name``: create the PostgreSQL database if it is
missing (``make serve`` on a machine whose server has only ``postgres``). Idempotent."""

from __future__ import annotations

import sys

import psycopg
from psycopg import sql


def ensure_database(url: str) -> bool:
    """True when the database was created, False when it was there already."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


if __name__ == "__main__":
    created = ensure_database(sys.argv[1])
    print(f"database {sys.argv[1].rsplit('/', 1)[1]}: {'created' if created else 'exists'}")
