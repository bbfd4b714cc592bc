"""schema.py's SQL must be the schema tables.py declares: a library created from it (the
way open_library creates one) and one SQLAlchemy creates from the tables are the same; and
models.py's ORM classes are mapped onto those very tables."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from spacesync_gui.engine import models, schema, tables
from spacesync_gui.engine.db import DB_NAME, SCHEMA_VERSION, create_triggers, open_library


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


def test_a_new_library_has_the_schema_the_tables_declare(tmp_path):
    ours = tmp_path / "ours"
    open_library(ours).close()
    # The same library as SQLAlchemy makes it: tables.py's tables, then db.py's triggers
    # and partial indexes, which open_library adds in both cases.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    engine = create_engine(f"sqlite:///{theirs / DB_NAME}")
    tables.metadata.create_all(engine)
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


def test_schema_text_is_what_sqlalchemy_renders_for_the_tables():
    scope: dict[str, object] = {}
    exec(schema.render(), scope)
    assert scope["TABLES"] == schema.TABLES, (
        "tables.py changed: paste `python -m spacesync_gui.engine.schema` into schema.py"
    )


def test_the_orm_classes_are_the_tables_the_engine_writes(tmp_path):
    """A row added through the ORM class is the row Core reads: one schema, not two."""
    lib = open_library(tmp_path / "data")
    try:
        assert models.Base.metadata is tables.metadata
        with lib.session() as s:
            s.add(models.Meta(key="probe", value="orm"))
        with lib.engine.connect() as conn:
            got = conn.execute(tables.meta.select().where(tables.meta.c.key == "probe")).one()
        assert got.value == "orm"
    finally:
        lib.close()


def test_no_command_of_a_sync_imports_the_orm(tmp_path):
    """Syncs (a conflict stored and resolved among them), the history and the conflicts
    list run on Core statements: the ORM's import (~0.1 s) is never a run's cost."""
    src, dst, data = tmp_path / "src", tmp_path / "dst", tmp_path / "data"
    src.mkdir()
    dst.mkdir()
    (src / "f.txt").write_text("one")
    code = f"""
import json, pathlib, sys
from spacesync_gui.cli import main
def run(*args, code=0):
    assert main(["--data-dir", {str(data)!r}, "--json", *args]) == code, args
run("conduit", "add", {str(src)!r}, {str(dst)!r}, "--mode", "bidirectional")
run("sync", "1")
pathlib.Path({str(src / "f.txt")!r}).write_text("source edit")
pathlib.Path({str(dst / "f.txt")!r}).write_text("target edit!")
run("sync", "1", code=4)  # a conflict (SPEC 4's exit code)
run("conflicts", "list")
run("conflicts", "resolve", "1", "--keep", "source")
run("history", "1")
print("ORM" if "sqlalchemy.orm" in sys.modules else "no ORM", file=sys.stderr)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().endswith("no ORM"), p.stderr
    assert (dst / "f.txt").read_text() == "source edit"
