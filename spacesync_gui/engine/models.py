"""ORM classes on the library's tables (tables.py), for code that wants objects (the
tests). The engine uses Core statements on tables.py and never imports this module (the
ORM adds ~0.1 s to importing the engine).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from . import tables

# Entry kinds and location states (defined without SQLAlchemy, see constants.py).
from .constants import DIR, FILE, OFFLINE, ONLINE, REPLACED, SYMLINK  # noqa: F401


class Base(DeclarativeBase):
    metadata = tables.metadata


class Meta(Base):
    __table__ = tables.meta


class Location(Base):
    __table__ = tables.locations


class Entry(Base):
    __table__ = tables.entries


class ScanError(Base):
    __table__ = tables.scan_errors


class Conduit(Base):
    __table__ = tables.conduits


class Change(Base):
    __table__ = tables.changes


class BulkInsert(Base):
    __table__ = tables.bulk_inserts


class Generation(Base):
    __table__ = tables.generations


class BaseEntry(Base):
    __table__ = tables.base_entries


class Conflict(Base):
    __table__ = tables.conflicts
