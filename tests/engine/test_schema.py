"""schema.py's SQL must be the schema models.py declares: a library created from it (the
way open_library creates one) and one SQLAlchemy creates from the models are the same."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine

from spacesync_gui.engine import schema
from spacesync_gui.engine.db import DB_NAME, SCHEMA_VERSION, create_triggers, open_library
from spacesync_gui.engine.models import Base


def _shape(db: Path) -> dict[str, object]:
    """Every table's columns, indexes and foreign keys, and every object's SQL with its
    white space squeezed (SQLAlchemy indents with tabs, schema.py with spaces)."""
    conn = sqlite3.connect(db)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        shape: dict[str, object] = {
            "sql": [(t, n, tb, re.sub(r"\s+", " ", sql or "")) for t, n, tb, sql in objects]
        }
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            shape[name] = (
                conn.execute(f"PRAGMA table_info({name})").fetchall(),
                sorted(conn.execute(f"PRAGMA index_list({name})").fetchall()),
                conn.execute(f"PRAGMA foreign_key_list({name})").fetchall(),
            )
        return shape
    finally:
        conn.close()


def test_a_new_library_has_the_schema_the_models_declare(tmp_path):
    ours = tmp_path / "ours"
    open_library(ours).close()
    # The same library as SQLAlchemy makes it: the models' tables, then db.py's triggers
    # and partial indexes, which open_library adds in both cases.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    engine = create_engine(f"sqlite:///{theirs / DB_NAME}")
    Base.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(theirs / DB_NAME)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )
    conn.commit()
    conn.close()
    open_library(theirs).close()  # current version: adds nothing...
    conn = sqlite3.connect(theirs / DB_NAME)
    create_triggers(conn)  # ...so the triggers go in by hand
    conn.commit()
    conn.close()
    assert _shape(ours / DB_NAME) == _shape(theirs / DB_NAME)


def test_schema_text_is_what_sqlalchemy_renders_for_the_models():
    scope: dict[str, object] = {}
    exec(schema.render(), scope)
    assert scope["TABLES"] == schema.TABLES, (
        "models.py changed: paste `python -m spacesync_gui.engine.schema` into schema.py"
    )
