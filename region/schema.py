"""The region's PostgreSQL schema: the halls, their events partitioned by month, and the read models.

Every key starts with `hall_id`, so each table can be distributed by it (Citus) when one server is not enough
(docs/region.md). Events, tickets and ratings are partitioned by month — the partition key is in every unique
key, as declarative partitioning requires — so a month is detached or archived whole.
"""

from __future__ import annotations

from datetime import date

from region.rules import month_bounds

TABLES = """
CREATE TABLE IF NOT EXISTS halls (
    hall_id text PRIMARY KEY,
    name text NOT NULL,
    key_hash text NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,          -- the hall's events held here: 1 … last_seq, no gap
    hall_last_seq bigint NOT NULL DEFAULT 0,     -- where the hall's own ledger ended at its last post
    last_event_at timestamptz,
    seen_at timestamptz,                         -- last post, a heartbeat included
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS events (
    hall_id text NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    type text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (hall_id, seq, at)
) PARTITION BY RANGE (at);
CREATE TABLE IF NOT EXISTS tickets (
    hall_id text NOT NULL,
    day date NOT NULL,
    ticket_id text NOT NULL,
    number text, service_id text, service_name text, category_id text, category_name text, channel text,
    priority text, status text, window_id text, window_name text, staff_id text,
    issued_at timestamptz, queue_at timestamptz, called_at timestamptz, finished_at timestamptz,
    wait_s double precision, service_s double precision, outcome text,
    seq bigint NOT NULL,
    PRIMARY KEY (hall_id, day, ticket_id)
) PARTITION BY RANGE (day);
DROP INDEX IF EXISTS tickets_day_status;  -- the board's before hall_days; every ticket change paid for it
-- The board's longest wait: the few tickets waiting now, not the day's hundreds of thousands.
CREATE INDEX IF NOT EXISTS tickets_waiting ON tickets (day, hall_id, queue_at) WHERE status = 'waiting';
CREATE TABLE IF NOT EXISTS ratings (
    hall_id text NOT NULL,
    day date NOT NULL,
    rating_id text NOT NULL,
    at timestamptz NOT NULL, level smallint NOT NULL, bad boolean NOT NULL,
    ticket_id text, service_id text, window_id text, staff_id text, channel text,
    PRIMARY KEY (hall_id, day, rating_id)
) PARTITION BY RANGE (day);
-- The board's figures of a hall's day, kept by the ingest in the transaction that changes the tickets and ratings
-- they count (store.UPSERT_TICKETS, INSERT_RATINGS): the board reads one row per hall, however long the day.
CREATE TABLE IF NOT EXISTS hall_days (
    hall_id text NOT NULL,
    day date NOT NULL,
    issued integer NOT NULL DEFAULT 0, served integer NOT NULL DEFAULT 0, waiting integer NOT NULL DEFAULT 0,
    waited integer NOT NULL DEFAULT 0, wait_sum double precision NOT NULL DEFAULT 0,  -- tickets called, their waits
    ratings integer NOT NULL DEFAULT 0, bad integer NOT NULL DEFAULT 0, score_sum bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hall_id, day)
);
CREATE TABLE IF NOT EXISTS windows (
    hall_id text NOT NULL,
    window_id text NOT NULL,
    number integer, name text, state text, staff_id text, since timestamptz,
    seq bigint NOT NULL,
    PRIMARY KEY (hall_id, window_id)
);
CREATE TABLE IF NOT EXISTS cases (
    hall_id text NOT NULL,
    case_id text NOT NULL,
    number text, service_id text, window_id text, staff_id text, level smallint, state text,
    opened_at timestamptz, due_at timestamptz, closed_at timestamptz,
    valid boolean, named boolean, rectified boolean, replied boolean,
    seq bigint NOT NULL,
    PRIMARY KEY (hall_id, case_id)
);
CREATE INDEX IF NOT EXISTS cases_open ON cases (due_at) WHERE state <> 'closed';
CREATE TABLE IF NOT EXISTS complaints (
    hall_id text NOT NULL,
    complaint_id text NOT NULL,
    channel text, service_id text, window_id text, complex boolean, state text,
    registered_at timestamptz, due_at timestamptz, answered_at timestamptz,
    seq bigint NOT NULL,
    PRIMARY KEY (hall_id, complaint_id)
);
CREATE INDEX IF NOT EXISTS complaints_open ON complaints (due_at) WHERE state = 'open';
-- The region's own users (监管办 staff who read the pages and API), their sign-ins, and the counts of wrong
-- passwords that make a guesser wait (the hall's rules: hall_controller/core/lockout.py).
CREATE TABLE IF NOT EXISTS users (
    user_id text PRIMARY KEY,
    name text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
    signed_in_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    last timestamptz NOT NULL
);
"""

PARTITIONED = ("events", "tickets", "ratings")


def partition_ddl(table: str, month: date) -> str:
    """The month's partition of `table` (`events_2026_11`): bounds are the month's first days."""
    start, end = month_bounds(f"{month:%Y-%m}")
    return (f"CREATE TABLE IF NOT EXISTS {table}_{start:%Y_%m} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
