"""The library's SQLite file as plain DB-API sees it: its name, its schema version, and
the pragmas every connection sets (db.py opens it through SQLAlchemy with these; the quick
no-op sync, quick_noop.py, opens it directly).
"""

from __future__ import annotations

import sqlite3

DB_NAME = "library.sqlite"
SCHEMA_VERSION = 8


def set_pragmas(conn: sqlite3.Connection) -> None:
    """WAL so readers never wait for the writer; a busy timeout so two processes (CLI and
    daemon) queue instead of failing; foreign keys on."""
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
