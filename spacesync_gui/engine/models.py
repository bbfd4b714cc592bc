"""The library's tables (SQLAlchemy 2, typed). One class per concept of SPEC section 1.

Times are POSIX seconds (float) unless the name says `_ns`. Relative paths are keys
(see `paths.key_for`): `/`-separated, NFC, relative to the location root (entries) or to
the conduit endpoint (base entries, conflicts).
Hot paths (scans, planning) use Core statements on `Entry.__table__` rather than ORM
objects; these classes are the schema and the convenient API for everything else.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Entry kinds and location states (defined without SQLAlchemy, see constants.py).
from .constants import DIR, FILE, OFFLINE, ONLINE, REPLACED, SYMLINK  # noqa: F401


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the library itself, e.g. `schema_version`."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # written to the root marker
    path: Mapped[str] = mapped_column(Text, unique=True)  # absolute root
    state: Mapped[str] = mapped_column(String(16), default=ONLINE)
    ignore: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of patterns
    watch: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_scan: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Totals kept by triggers on entries (schema 4), so listing needs no aggregate.
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    scan_errors: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by a trigger (db.CHANGE_TRIGGERS) whenever an entry of this location is
    # added, removed or changed; a conduit whose counters did not move since its last clean
    # run has nothing to do (schema 3).
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The root folder's digest (see Entry.digest; schema 4).
    root_digest: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Set once a conduit of this location ended clean: from then on triggers write every
    # change of an entry to `changes` (schema 6; see journal.py).
    journal: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Entry(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)  # key
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # on-disk name bytes
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    inode: Mapped[int] = mapped_column(BigInteger, default=0)
    mode: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str | None] = mapped_column(String(32), nullable=True)  # xxh3-128 hex
    link: Mapped[str | None] = mapped_column(Text, nullable=True)  # symlink target
    indexed_at: Mapped[float] = mapped_column(Float)
    # Folders only: the digest of the folder's listing (names + stat data) at its last clean
    # scan, cleared by a trigger when any child entry changes; a rescan that lists the same
    # digest skips comparing the children (schema 4; index ix_entries_dirs in db.py).
    digest: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (UniqueConstraint("location_id", "path", name="uq_entries_location_path"),)


class ScanError(Base):
    """An item the last scan could not read, with the reason; replaced on each scan."""

    __tablename__ = "scan_errors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_scan_errors_location_path", "location_id", "path"),)


class Conduit(Base):
    __tablename__ = "conduits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    source_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    source_prefix: Mapped[str] = mapped_column(Text, default="")  # key inside the location
    target_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    target_prefix: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(16))  # mirror | bidirectional
    schedule: Mapped[str] = mapped_column(String(32), default="manual")
    conflict: Mapped[str] = mapped_column(String(16), default="ask")
    deletes: Mapped[str] = mapped_column(String(16), default="versioning")
    ignore: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of patterns
    transfers: Mapped[int] = mapped_column(Integer, default=4)
    bwlimit: Mapped[float | None] = mapped_column(Float, nullable=True)  # MB/s
    keep_versions_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_versions_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    last_sync: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Bumped by a trigger on every change of this conduit's base entries (schema 3).
    base_changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # "source changes:target changes:base changes:settings" as of the last run that
    # verified both sides equal with nothing pending; see service.FileSyncService.
    clean_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last `changes.id` at that clean run: a later run plans only the paths journaled
    # after it (schema 6; see journal.py).
    clean_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Change(Base):
    """One changed index entry (path) of a journaled location (schema 6; journal.py).

    AUTOINCREMENT: ids never come back after a prune, so `id > clean_seq` never misses one.
    """

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("ix_changes_location", "location_id", "id"),
        {"sqlite_autoincrement": True},
    )


class BulkInsert(Base):
    """Holds a row only inside the write transaction of a writer inserting rows it knows
    to be new that keeps the counters, totals and digests itself (snapshots.IndexWriter
    `fresh`): while it does, the insert triggers stand aside (schema 8; db.py). No other
    connection ever sees a row here: the transaction removes it before it commits, and a
    transaction that fails takes it back with everything else."""

    __tablename__ = "bulk_inserts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Generation(Base):
    """One run of a conduit (dry runs are not recorded)."""

    __tablename__ = "generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conduit_id: Mapped[int] = mapped_column(ForeignKey("conduits.id", ondelete="CASCADE"))
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running|completed|refused|failed
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    copied: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    conflicts_resolved: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error_details: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{path, message}]
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_generations_conduit", "conduit_id", "id"),)


class BaseEntry(Base):
    """The last-synced state of one relative path of a conduit (the three-way ancestor)."""

    __tablename__ = "base_entries"
    conduit_id: Mapped[int] = mapped_column(
        ForeignKey("conduits.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str | None] = mapped_column(String(32), nullable=True)
    link: Mapped[str | None] = mapped_column(Text, nullable=True)


class Conflict(Base):
    __tablename__ = "conflicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conduit_id: Mapped[int] = mapped_column(ForeignKey("conduits.id", ondelete="CASCADE"))
    generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL"), nullable=True
    )
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))  # both-modified|modify-delete|type-change
    source: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of that side
    target: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|resolved
    resolution: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_conflicts_conduit_status", "conduit_id", "status"),)
