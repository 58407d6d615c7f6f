"""The one contract a feature plugs in by: a `Feature` value, listed in `hall_controller/app.py:FEATURES`.

A feature declares everything the hall needs from it up front — nothing registers itself by being
imported. The app reads the list once: the ledger creates every declared table and migrates older ones, the
config loader parses every declared section, retention purges every declared personal column, the ledger
queues every event a feature's outbox selector picks, and the server includes each feature's routes and runs its lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class Table:
    """A table of the ledger, created with the core's own before the hall starts."""

    name: str
    columns: dict[str, type]
    pk: str  # one column, or several separated by ", "
    indexes: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Migration:
    """One explicit schema step for tables that exist: `apply(conn)` runs inside the ledger's migration
    transaction (core/migrations.py). A new table needs none — declared tables are created where absent — but
    a column added to, or changed in, an existing table does. Append steps; never change a released one."""

    description: str
    apply: Callable[[Any], None]  # sqlite3.Connection -> None


@dataclass(frozen=True)
class PersonalData:
    """Personal columns (个人信息) of a table, set to NULL once `age_column` (ISO date/time) is older than the
    retention period."""

    table: str
    columns: tuple[str, ...]
    age_column: str


@dataclass(frozen=True)
class Section:
    """A `[name]` section of the hall config. `parse(table, core)` gets the section's checked table (empty when
    absent) and the validated core settings, and returns the feature's frozen settings, failing with the
    table's `fail(key, reason)`."""

    name: str
    parse: Callable[[Any, Any], Any]


# An event (`{"seq", "type", "at", "data"}`) → whether it goes into the outbox for delivery elsewhere.
OutboxSelector = Callable[[dict[str, Any]], bool]
# Runs with the server: code before `yield` at start-up, after it at shutdown.
Lifespan = Callable[["FastAPI"], AsyncIterator[None]]


@dataclass(frozen=True)
class Feature:
    name: str
    tables: tuple[Table, ...] = ()
    section: Section | None = None
    personal_data: tuple[PersonalData, ...] = ()
    outbox: OutboxSelector | None = None
    migrations: tuple[Migration, ...] = ()  # its schema version is their number (core/migrations.py)
    # Adds the feature's routes, pages and `app.state` objects; runs in `FEATURES` order.
    install: Callable[["FastAPI"], None] | None = None
    lifespan: Lifespan | None = None
