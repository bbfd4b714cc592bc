"""The library's tables as SQL text, so a library can be created and opened without
importing SQLAlchemy (~0.2 s of every CLI process that only reads or edits settings).

`tables.py` stays the schema's source: these statements are what SQLAlchemy renders for
it (CREATE TABLE, then the table's indexes, tables in dependency order), and a test
(tests/engine/test_schema.py) creates a library from each and compares them. After
changing a table, print the new text with `python -m spacesync_gui.engine.schema`.
The triggers and partial indexes are in db.py.
"""

from __future__ import annotations

TABLES: dict[str, tuple[str, ...]] = {
    "bulk_inserts": (
        """CREATE TABLE bulk_inserts (
        id INTEGER NOT NULL,
        PRIMARY KEY (id)
    )""",
    ),
    "changes": (
        """CREATE TABLE changes (
        id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        location_id INTEGER NOT NULL,
        path TEXT NOT NULL
    )""",
        "CREATE INDEX ix_changes_location ON changes (location_id, id)",
    ),
    "locations": (
        """CREATE TABLE locations (
        id INTEGER NOT NULL,
        uuid VARCHAR(36) NOT NULL,
        path TEXT NOT NULL,
        state VARCHAR(16) NOT NULL,
        "ignore" TEXT NOT NULL,
        watch BOOLEAN NOT NULL,
        created_at FLOAT NOT NULL,
        last_scan FLOAT,
        files INTEGER NOT NULL,
        bytes BIGINT NOT NULL,
        scan_errors INTEGER NOT NULL,
        changes INTEGER DEFAULT '0' NOT NULL,
        root_digest VARCHAR(32),
        journal BOOLEAN DEFAULT '0' NOT NULL,
        PRIMARY KEY (id),
        UNIQUE (uuid),
        UNIQUE (path)
    )""",
    ),
    "meta": (
        """CREATE TABLE meta (
        "key" VARCHAR NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY ("key")
    )""",
    ),
    "conduits": (
        """CREATE TABLE conduits (
        id INTEGER NOT NULL,
        name TEXT NOT NULL,
        source_location_id INTEGER NOT NULL,
        source_prefix TEXT NOT NULL,
        target_location_id INTEGER NOT NULL,
        target_prefix TEXT NOT NULL,
        mode VARCHAR(16) NOT NULL,
        schedule VARCHAR(32) NOT NULL,
        "conflict" VARCHAR(16) NOT NULL,
        deletes VARCHAR(16) NOT NULL,
        "ignore" TEXT NOT NULL,
        transfers INTEGER NOT NULL,
        bwlimit FLOAT,
        keep_versions_days INTEGER,
        keep_versions_count INTEGER,
        paused BOOLEAN NOT NULL,
        created_at FLOAT NOT NULL,
        last_sync FLOAT,
        last_status VARCHAR(16),
        base_changes INTEGER DEFAULT '0' NOT NULL,
        clean_token TEXT,
        clean_seq INTEGER,
        PRIMARY KEY (id),
        FOREIGN KEY(source_location_id) REFERENCES locations (id),
        FOREIGN KEY(target_location_id) REFERENCES locations (id)
    )""",
    ),
    "entries": (
        """CREATE TABLE entries (
        id INTEGER NOT NULL,
        location_id INTEGER NOT NULL,
        path TEXT NOT NULL,
        raw BLOB,
        kind VARCHAR(8) NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        inode BIGINT NOT NULL,
        mode INTEGER NOT NULL,
        hash VARCHAR(32),
        link TEXT,
        indexed_at FLOAT NOT NULL,
        digest VARCHAR(32),
        PRIMARY KEY (id),
        CONSTRAINT uq_entries_location_path UNIQUE (location_id, path),
        FOREIGN KEY(location_id) REFERENCES locations (id) ON DELETE CASCADE
    )""",
    ),
    "scan_errors": (
        """CREATE TABLE scan_errors (
        id INTEGER NOT NULL,
        location_id INTEGER NOT NULL,
        path TEXT NOT NULL,
        message TEXT NOT NULL,
        at FLOAT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(location_id) REFERENCES locations (id) ON DELETE CASCADE
    )""",
        "CREATE INDEX ix_scan_errors_location_path ON scan_errors (location_id, path)",
    ),
    "base_entries": (
        """CREATE TABLE base_entries (
        conduit_id INTEGER NOT NULL,
        path TEXT NOT NULL,
        kind VARCHAR(8) NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        hash VARCHAR(32),
        link TEXT,
        PRIMARY KEY (conduit_id, path),
        FOREIGN KEY(conduit_id) REFERENCES conduits (id) ON DELETE CASCADE
    )""",
    ),
    "generations": (
        """CREATE TABLE generations (
        id INTEGER NOT NULL,
        conduit_id INTEGER NOT NULL,
        started_at FLOAT NOT NULL,
        finished_at FLOAT,
        status VARCHAR(16) NOT NULL,
        reason TEXT,
        copied INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        moved INTEGER NOT NULL,
        conflicts INTEGER NOT NULL,
        conflicts_resolved INTEGER NOT NULL,
        bytes BIGINT NOT NULL,
        errors INTEGER NOT NULL,
        error_details TEXT NOT NULL,
        verified BOOLEAN NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(conduit_id) REFERENCES conduits (id) ON DELETE CASCADE
    )""",
        "CREATE INDEX ix_generations_conduit ON generations (conduit_id, id)",
    ),
    "conflicts": (
        """CREATE TABLE conflicts (
        id INTEGER NOT NULL,
        conduit_id INTEGER NOT NULL,
        generation_id INTEGER,
        path TEXT NOT NULL,
        kind VARCHAR(24) NOT NULL,
        source TEXT,
        target TEXT,
        status VARCHAR(16) NOT NULL,
        resolution VARCHAR(24),
        created_at FLOAT NOT NULL,
        resolved_at FLOAT,
        PRIMARY KEY (id),
        FOREIGN KEY(conduit_id) REFERENCES conduits (id) ON DELETE CASCADE,
        FOREIGN KEY(generation_id) REFERENCES generations (id) ON DELETE SET NULL
    )""",
        "CREATE INDEX ix_conflicts_conduit_status ON conflicts (conduit_id, status)",
    ),
}


def render() -> str:
    """This module's TABLES as SQLAlchemy renders tables.py (imports SQLAlchemy)."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from .tables import metadata

    dialect = sqlite.dialect()
    lines = ["TABLES: dict[str, tuple[str, ...]] = {"]
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect)).strip()
        ddl = ddl.replace(" \n", "\n").replace("\t", " " * 8)
        lines += [f'    "{table.name}": (', f'        """{ddl[:-1]}    )""",']
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            lines.append(f'        "{str(CreateIndex(index).compile(dialect=dialect)).strip()}",')
        lines.append("    ),")
    return "\n".join([*lines, "}"])


if __name__ == "__main__":
    print(render())
