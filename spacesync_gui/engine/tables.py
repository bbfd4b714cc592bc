"""The library's tables (SQLAlchemy Core). One table per concept of SPEC section 1.

Times are POSIX seconds (float) unless the name says `_ns`. Relative paths are keys
(see `paths.key_for`): `/`-separated, NFC, relative to the location root (entries) or to
the conduit endpoint (base entries, conflicts).

Core alone, not the ORM: a sync's process imports this (importing the engine took 0.39 s
with the ORM and declarative classes, 0.28-0.31 s without). models.py maps ORM classes
onto these same tables for the tests; schema.py holds the SQL they render to.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .constants import ONLINE

metadata = MetaData()

# Key/value facts about the library itself, e.g. `schema_version`.
meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), unique=True, nullable=False),  # written to the root marker
    Column("path", Text, unique=True, nullable=False),  # absolute root
    Column("state", String(16), default=ONLINE, nullable=False),
    Column("ignore", Text, default="[]", nullable=False),  # JSON list of patterns
    Column("watch", Boolean, default=True, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_scan", Float),
    # Totals kept by triggers on entries (schema 4), so listing needs no aggregate.
    Column("files", Integer, default=0, nullable=False),
    Column("bytes", BigInteger, default=0, nullable=False),
    Column("scan_errors", Integer, default=0, nullable=False),
    # Bumped by a trigger (db.CHANGE_TRIGGERS) whenever an entry of this location is
    # added, removed or changed; a conduit whose counters did not move since its last clean
    # run has nothing to do (schema 3).
    Column("changes", Integer, default=0, server_default="0", nullable=False),
    # The root folder's digest (see entries.digest; schema 4).
    Column("root_digest", String(32)),
    # Set once a conduit of this location ended clean: from then on triggers write every
    # change of an entry to `changes` (schema 6; see journal.py).
    Column("journal", Boolean, default=False, server_default="0", nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("location_id", Integer, ForeignKey("locations.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),  # key
    Column("raw", LargeBinary),  # on-disk name bytes
    Column("kind", String(8), nullable=False),
    Column("size", BigInteger, default=0, nullable=False),
    Column("mtime_ns", BigInteger, default=0, nullable=False),
    Column("inode", BigInteger, default=0, nullable=False),
    Column("mode", Integer, default=0, nullable=False),
    Column("hash", String(32)),  # xxh3-128 hex
    Column("link", Text),  # symlink target
    Column("indexed_at", Float, nullable=False),
    # Folders only: the digest of the folder's listing (names + stat data) at its last clean
    # scan, cleared by a trigger when any child entry changes; a rescan that lists the same
    # digest skips comparing the children (schema 4; index ix_entries_dirs in db.py).
    Column("digest", String(32)),
    UniqueConstraint("location_id", "path", name="uq_entries_location_path"),
)

# An item the last scan could not read, with the reason; replaced on each scan.
scan_errors = Table(
    "scan_errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("location_id", Integer, ForeignKey("locations.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_scan_errors_location_path", "location_id", "path"),
)

conduits = Table(
    "conduits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("source_location_id", Integer, ForeignKey("locations.id"), nullable=False),
    Column("source_prefix", Text, default="", nullable=False),  # key inside the location
    Column("target_location_id", Integer, ForeignKey("locations.id"), nullable=False),
    Column("target_prefix", Text, default="", nullable=False),
    Column("mode", String(16), nullable=False),  # mirror | bidirectional
    Column("schedule", String(32), default="manual", nullable=False),
    Column("conflict", String(16), default="ask", nullable=False),
    Column("deletes", String(16), default="versioning", nullable=False),
    Column("ignore", Text, default="[]", nullable=False),  # JSON list of patterns
    Column("transfers", Integer, default=4, nullable=False),
    Column("bwlimit", Float),  # MB/s
    Column("keep_versions_days", Integer),
    Column("keep_versions_count", Integer),
    Column("paused", Boolean, default=False, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_sync", Float),
    Column("last_status", String(16)),
    # Bumped by a trigger on every change of this conduit's base entries (schema 3).
    Column("base_changes", Integer, default=0, server_default="0", nullable=False),
    # "source changes:target changes:base changes:settings" as of the last run that
    # verified both sides equal with nothing pending; see service.FileSyncService.
    Column("clean_token", Text),
    # The last `changes.id` at that clean run: a later run plans only the paths journaled
    # after it (schema 6; see journal.py).
    Column("clean_seq", Integer),
)

# One changed index entry (path) of a journaled location (schema 6; journal.py).
# AUTOINCREMENT: ids never come back after a prune, so `id > clean_seq` never misses one.
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("location_id", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Index("ix_changes_location", "location_id", "id"),
    sqlite_autoincrement=True,
)

# Holds a row only inside the write transaction of a writer inserting rows it knows to be
# new that keeps the counters, totals and digests itself (snapshots.IndexWriter `fresh`):
# while it does, the insert triggers stand aside (schema 8; db.py). No other connection
# ever sees a row here: the transaction removes it before it commits, and a transaction
# that fails takes it back with everything else.
bulk_inserts = Table(
    "bulk_inserts",
    metadata,
    Column("id", Integer, primary_key=True),
)

# One run of a conduit (dry runs are not recorded).
generations = Table(
    "generations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conduit_id", Integer, ForeignKey("conduits.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("status", String(16), nullable=False),  # running|completed|refused|failed
    Column("reason", Text),
    Column("copied", Integer, default=0, nullable=False),
    Column("deleted", Integer, default=0, nullable=False),
    Column("moved", Integer, default=0, nullable=False),
    Column("conflicts", Integer, default=0, nullable=False),
    Column("conflicts_resolved", Integer, default=0, nullable=False),
    Column("bytes", BigInteger, default=0, nullable=False),
    Column("errors", Integer, default=0, nullable=False),
    Column("error_details", Text, default="[]", nullable=False),  # JSON [{path, message}]
    Column("verified", Boolean, default=False, nullable=False),
    Index("ix_generations_conduit", "conduit_id", "id"),
)

# The last-synced state of one relative path of a conduit (the three-way ancestor).
base_entries = Table(
    "base_entries",
    metadata,
    Column("conduit_id", Integer, ForeignKey("conduits.id", ondelete="CASCADE"), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("size", BigInteger, default=0, nullable=False),
    Column("mtime_ns", BigInteger, default=0, nullable=False),
    Column("hash", String(32)),
    Column("link", Text),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conduit_id", Integer, ForeignKey("conduits.id", ondelete="CASCADE"), nullable=False),
    Column("generation_id", Integer, ForeignKey("generations.id", ondelete="SET NULL")),
    Column("path", Text, nullable=False),
    Column("kind", String(24), nullable=False),  # both-modified|modify-delete|type-change
    Column("source", Text),  # JSON of that side
    Column("target", Text),
    Column("status", String(16), default="pending", nullable=False),  # pending|resolved
    Column("resolution", String(24)),
    Column("created_at", Float, nullable=False),
    Column("resolved_at", Float),
    Index("ix_conflicts_conduit_status", "conduit_id", "status"),
)
