"""The region's store: PostgreSQL through psycopg 3 — ingest (exactly once per hall and sequence) and the
read models' queries behind the board, reports, supervision and the monthly return."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from hall_controller.core.errors import HallError
from hall_controller.core.lockout import Lockout, account_key, known_key, pair_key, source_key
from hall_controller.core.passwords import hash_secret, verify_secret
from region import rules
from region.schema import PARTITIONED, TABLES, partition_ddl

SCORE = "sum(100 - 25 * (level - 1))"  # 满意度: 非常满意 100 … 非常不满意 0, as the hall counts it

# The read models' columns beside hall_id, with their PostgreSQL types: a batch's rows go in as one JSON
# parameter per table (jsonb_to_recordset), one statement each, whatever the batch's size.
TICKET = {"day": "date", "ticket_id": "text", "number": "text", "service_id": "text", "service_name": "text",
          "category_id": "text", "category_name": "text", "channel": "text", "priority": "text", "status": "text",
          "window_id": "text", "window_name": "text", "staff_id": "text", "issued_at": "timestamptz",
          "queue_at": "timestamptz", "called_at": "timestamptz", "finished_at": "timestamptz",
          "wait_s": "double precision", "service_s": "double precision", "outcome": "text", "seq": "bigint"}
WINDOW = {"window_id": "text", "number": "integer", "name": "text", "state": "text", "staff_id": "text",
          "since": "timestamptz", "seq": "bigint"}
RATING = {"day": "date", "rating_id": "text", "at": "timestamptz", "level": "smallint", "bad": "boolean",
          "ticket_id": "text", "service_id": "text", "window_id": "text", "staff_id": "text", "channel": "text"}
CASE = {"case_id": "text", "number": "text", "service_id": "text", "window_id": "text", "staff_id": "text",
        "level": "smallint", "state": "text", "opened_at": "timestamptz", "due_at": "timestamptz",
        "closed_at": "timestamptz", "valid": "boolean", "named": "boolean", "rectified": "boolean",
        "replied": "boolean", "seq": "bigint"}
COMPLAINT = {"complaint_id": "text", "channel": "text", "service_id": "text", "window_id": "text",
             "complex": "boolean", "state": "text", "registered_at": "timestamptz", "due_at": "timestamptz",
             "answered_at": "timestamptz", "seq": "bigint"}


def _upsert(table: str, types: dict[str, str], key: Sequence[str], keep: Sequence[str] = (),
            replace: bool = True, source: str | None = None) -> str:
    """INSERT … SELECT from the batch's rows: a later event's row replaces an earlier one's (never the
    reverse); `keep` columns keep their value when the new row has none. `source`: a CTE of the rows already
    read (default: read here)."""
    cols = ", ".join(types)
    record = ", ".join(f"{c} {t}" for c, t in types.items())
    source = source or f"jsonb_to_recordset(%(rows)s::jsonb) AS r({record})"
    sql = (f"INSERT INTO {table} (hall_id, {cols}) SELECT %(hall)s, {cols} "
           f"FROM {source} ON CONFLICT (hall_id, {', '.join(key)}) DO ")
    if not replace:
        return sql + "NOTHING"
    sets = ", ".join(f"{c} = COALESCE(excluded.{c}, {table}.{c})" if c in keep else f"{c} = excluded.{c}"
                     for c in types if c not in key)
    return sql + f"UPDATE SET {sets} WHERE {table}.seq < excluded.seq"


def _add_to_hall_days(columns: Sequence[str], select: str) -> str:
    """Adds a batch's changes (`select` gives hall_id, day and `columns`) to the halls' day counters."""
    sets = ", ".join(f"{c} = d.{c} + excluded.{c}" for c in columns)
    return (f"INSERT INTO hall_days AS d (hall_id, day, {', '.join(columns)}) {select} "
            f"ON CONFLICT (hall_id, day) DO UPDATE SET {sets}")


# A batch's ticket rows and what they change in the board's day counters, in one statement: every part of a
# WITH reads the same snapshot, so `old` is each ticket's row before this batch and `up` what the batch
# wrote (a row not newer than the stored one is neither written nor counted).
_TICKET_CHANGES = """
    SELECT %(hall)s, up.day, count(*) FILTER (WHERE old.ticket_id IS NULL),
           count(*) FILTER (WHERE up.status = 'finished') - count(*) FILTER (WHERE old.status = 'finished'),
           count(*) FILTER (WHERE up.status = 'waiting') - count(*) FILTER (WHERE old.status = 'waiting'),
           count(up.wait_s) - count(old.wait_s), COALESCE(sum(up.wait_s), 0) - COALESCE(sum(old.wait_s), 0)
    FROM up LEFT JOIN old USING (day, ticket_id) GROUP BY up.day"""
_TICKET_RECORD = ", ".join(f"{c} {t}" for c, t in TICKET.items())
UPSERT_TICKETS = f"""
    WITH new AS (SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r({_TICKET_RECORD})),
    old AS (SELECT t.day, t.ticket_id, t.status, t.wait_s FROM tickets t JOIN new USING (day, ticket_id)
            WHERE t.hall_id = %(hall)s),
    up AS ({_upsert("tickets", TICKET, ("day", "ticket_id"), source="new")} RETURNING day, ticket_id, status, wait_s)
    {_add_to_hall_days(("issued", "served", "waiting", "waited", "wait_sum"), _TICKET_CHANGES)}"""
UPSERT_WINDOWS = _upsert("windows", WINDOW, ("window_id",), keep=("number", "name"))
# Ratings are written once (a rating is never changed): those new to the region are counted.
INSERT_RATINGS = f"""
    WITH up AS ({_upsert("ratings", RATING, ("day", "rating_id"), replace=False)} RETURNING day, level, bad)
    {_add_to_hall_days(("ratings", "bad", "score_sum"),
                       "SELECT %(hall)s, day, count(*), count(*) FILTER (WHERE bad), " + SCORE + " FROM up GROUP BY day")}"""
UPSERT_CASES = _upsert("cases", CASE, ("case_id",), keep=("opened_at", "valid", "rectified", "replied"))
UPSERT_COMPLAINTS = _upsert("complaints", COMPLAINT, ("complaint_id",), keep=("registered_at",))
# A region that ran before hall_days existed: its counters from the tickets and ratings it holds, once.
BACKFILL_HALL_DAYS = f"""
    INSERT INTO hall_days (hall_id, day, issued, served, waiting, waited, wait_sum, ratings, bad, score_sum)
    SELECT hall_id, day, COALESCE(t.issued, 0), COALESCE(t.served, 0), COALESCE(t.waiting, 0),
           COALESCE(t.waited, 0), COALESCE(t.wait_sum, 0), COALESCE(r.ratings, 0), COALESCE(r.bad, 0),
           COALESCE(r.score_sum, 0)
    FROM (SELECT hall_id, day, count(*) AS issued, count(*) FILTER (WHERE status = 'finished') AS served,
                 count(*) FILTER (WHERE status = 'waiting') AS waiting, count(wait_s) AS waited,
                 sum(wait_s) AS wait_sum
          FROM tickets GROUP BY hall_id, day) t
    FULL JOIN (SELECT hall_id, day, count(*) AS ratings, count(*) FILTER (WHERE bad) AS bad, {SCORE} AS score_sum
               FROM ratings GROUP BY hall_id, day) r USING (hall_id, day)"""
# The post's events straight from its JSON text (the post, or its events array): PostgreSQL parses it once,
# Python never re-encodes an event.
INSERT_EVENTS = """
    INSERT INTO events (hall_id, seq, at, type, data)
    SELECT %(hall)s, (e->>'seq')::bigint, (e->>'at')::timestamptz, e->>'type', e->'data'
    FROM (SELECT %(events)s::jsonb AS j) post,
         jsonb_array_elements(CASE jsonb_typeof(post.j) WHEN 'array' THEN post.j ELSE post.j->'events' END) e
    WHERE (e->>'seq')::bigint BETWEEN %(first)s AND %(last)s"""


READ_CONNECTIONS = 3
SESSION_HOURS = 10  # a working day, as the hall's manager sign-in
SESSIONS_KEPT_DAYS = 30  # ended sign-ins are kept this long (who was signed in when), then dropped
_NO_USER = hash_secret(secrets.token_urlsafe(16))  # a try at an id no user has costs the same as a real one


class UnknownHall(Exception):
    """No hall of that id, or the key does not match it."""


def key_hash(key: str) -> str:
    # Keys are 32 random bytes: a plain digest is enough, and checking one costs nothing on the ingest path.
    return hashlib.sha256(key.encode()).hexdigest()


class Store:
    def __init__(self, dsn: str, tz: tzinfo, min_size: int = 2, max_size: int = 8,
                 clock: Callable[[], datetime] | None = None):
        """`clock`: the region's now (a training or test region runs shifted); default the system clock."""
        self.tz = tz
        self.now = clock or (lambda: datetime.now(tz))
        # Sessions in the region's time zone: month partitions and "today" mean the region's months and days.
        # A connection is checked before use (a restarted server leaves the pool's ones dead); a request waits at
        # most 5 s for one, so with PostgreSQL down the halls get a quick 503 and retry later.
        options = {"open": False, "timeout": 5, "check": ConnectionPool.check_connection,
                   "kwargs": {"options": f"-c TimeZone={getattr(tz, 'key', 'UTC')}"}}
        self.pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, **options)
        # The pages' and API's reads have connections of their own: a board read never queues behind the posts
        # of a hundred halls catching up.
        self.reads = ConnectionPool(dsn, min_size=1, max_size=READ_CONNECTIONS, **options)
        self._months: set[date] = set()
        self._months_lock = threading.Lock()

    def open(self, timeout: float = 30) -> Store:
        self.pool.open(wait=True, timeout=timeout)
        self.reads.open(wait=True, timeout=timeout)
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(17017)")  # two services starting at once migrate in turn
            counters_new = conn.execute("SELECT to_regclass('hall_days') IS NULL").fetchone()[0]
            conn.execute(TABLES)
            if counters_new:
                conn.execute(BACKFILL_HALL_DAYS)
        return self

    def close(self) -> None:
        self.reads.close()
        self.pool.close()

    # ------------------------------------------------------------------ halls

    def add_hall(self, hall_id: str, name: str) -> str:
        """Register a hall (or give it a new key); returns the key, shown once — only its hash is kept."""
        key = secrets.token_urlsafe(32)
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO halls (hall_id, name, key_hash) VALUES (%s, %s, %s) ON CONFLICT (hall_id) "
                         "DO UPDATE SET name = excluded.name, key_hash = excluded.key_hash",
                         (hall_id, name, key_hash(key)))
        return key

    def check_key(self, hall_id: str, key: str) -> None:
        """Read each post (a query per batch of events costs nothing): a key changed by `region add-hall` in
        another process counts at once, the old one no longer."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT key_hash FROM halls WHERE hall_id = %s", (hall_id,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], key_hash(key)):
            raise UnknownHall(hall_id)

    # ------------------------------------------------------------------ users

    def add_user(self, user_id: str, name: str, password: str) -> None:
        """Add a region user, or give one a new name and password; a new password ends their sign-ins."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO users (user_id, name, password_hash) VALUES (%s, %s, %s) ON CONFLICT (user_id) "
                         "DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash",
                         (user_id, name, hash_secret(password)))
            conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))

    def remove_user(self, user_id: str) -> bool:
        with self.pool.connection() as conn:
            return conn.execute("DELETE FROM users WHERE user_id = %s", (user_id,)).rowcount > 0

    def sign_in(self, user_id: str, password: str, source: str, now: datetime) -> tuple[str, dict[str, str]]:
        """A new sign-in's token and its user, under the hall's rules for wrong passwords (core/lockout.py):
        429 while the try must wait, 401 for a wrong password or an unknown id (told apart by nothing); a
        wrong try is counted before the answer. Sign-ins take turns (one advisory lock), as the hall's do."""
        account = f"region:{user_id}"
        keys = [pair_key(account, source), source_key(source), account_key(account), known_key(account, source)]
        with self.pool.connection() as conn:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(17019)")
                rows = conn.execute("SELECT key, failures, last FROM sign_in_attempts WHERE key = ANY(%s)",
                                    (keys,)).fetchall()
                lockout = Lockout.load([(k, n, last.isoformat()) for k, n, last in rows], now)
                lockout.check(account, source, now)
                user = conn.execute("SELECT user_id, name, password_hash FROM users WHERE user_id = %s",
                                    (user_id,)).fetchone()
                right = verify_secret(password, user[2] if user else _NO_USER)
                if user is None or not right:
                    attempts = [(k, a.failures, a.last) for k, a in lockout.failure(account, source, now).items()]
                else:  # the source is known to the user now, its wrong tries forgotten
                    attempts = [(known_key(account, source), 0, now), (pair_key(account, source), 0, now)]
                conn.cursor().executemany(
                    "INSERT INTO sign_in_attempts (key, failures, last) VALUES (%s, %s, %s) ON CONFLICT (key) "
                    "DO UPDATE SET failures = excluded.failures, last = excluded.last", attempts)
                if user is not None and right:
                    token = secrets.token_urlsafe(24)
                    conn.execute("INSERT INTO sessions (token_hash, user_id, signed_in_at, expires_at) "
                                 "VALUES (%s, %s, %s, %s)",
                                 (key_hash(token), user_id, now, now + timedelta(hours=SESSION_HOURS)))
                    conn.execute("DELETE FROM sessions WHERE expires_at < %s",
                                 (now - timedelta(days=SESSIONS_KEPT_DAYS),))
        if user is None or not right:
            raise HallError("bad_credentials", "账号或密码错误。", 401)
        return token, {"id": user[0], "name": user[1]}

    def session(self, token: str) -> dict[str, Any] | None:
        """The sign-in behind a token (its user and when it ends), or None."""
        rows = self.records("SELECT s.user_id AS id, u.name, s.expires_at FROM sessions s JOIN users u USING (user_id) "
                            "WHERE s.token_hash = %s", (key_hash(token),))
        return rows[0] if rows else None

    def sign_out(self, token: str, now: datetime) -> None:
        """Ends the sign-in now: a copied token does not outlive the sign-out."""
        with self.pool.connection() as conn:
            conn.execute("UPDATE sessions SET expires_at = LEAST(expires_at, %s) WHERE token_hash = %s",
                         (now, key_hash(token)))

    # ------------------------------------------------------------------ ingest

    def ingest(self, hall_id: str, raw: Sequence[Any], hall_last_seq: int | None = None,
               text: str | None = None) -> int:
        """Store the events of a hall's post that follow what the region holds, and the read models they change,
        in one transaction; returns the hall's last sequence held here. Re-sent events are dropped: the hall
        row is locked for the transaction, so two posts of one hall are taken one after the other. `text` is the
        JSON the hall sent: the post with `raw` as its "events", or `raw` itself (encoded here when None)."""
        events = rules.parse_events(raw)
        batch = rules.fold(events)
        self._ensure_partitions(batch.months(self.tz))
        try:
            with self.pool.connection() as conn, conn.transaction():
                row = conn.execute("SELECT last_seq FROM halls WHERE hall_id = %s FOR UPDATE", (hall_id,)).fetchone()
                if row is None:
                    raise UnknownHall(hall_id)
                last = row[0]
                new = rules.following(events, last)
                if len(new) != len(events):
                    batch = rules.fold(new)
                if new:
                    self._write(conn, hall_id, batch, text or orjson.dumps(raw).decode(), new[0][0],
                                new[-1][0])
                    last = new[-1][0]
                conn.execute("UPDATE halls SET last_seq = %s, hall_last_seq = GREATEST(%s, %s), seen_at = %s, "
                             "last_event_at = COALESCE(%s, last_event_at) WHERE hall_id = %s",
                             (last, last, hall_last_seq or 0, self.now(), new[-1][1] if new else None, hall_id))
        except psycopg.DataError as exc:  # e.g. a NUL character, which PostgreSQL text cannot hold
            raise rules.BadEvent(f"PostgreSQL 无法保存：{exc.diag.message_primary or exc}") from None
        return last

    def _write(self, conn: psycopg.Connection, hall_id: str, b: rules.Batch, text: str, first: int, last: int
               ) -> None:
        with conn.cursor() as cur:
            cur.execute(INSERT_EVENTS, {"hall": hall_id, "events": text, "first": first, "last": last})
            for sql, rows in ((UPSERT_TICKETS, b.tickets), (UPSERT_WINDOWS, b.windows), (INSERT_RATINGS, b.ratings),
                              (UPSERT_CASES, b.cases), (UPSERT_COMPLAINTS, b.complaints)):
                if rows:
                    cur.execute(sql, {"hall": hall_id, "rows": orjson.dumps(list(rows.values())).decode()})

    def _ensure_partitions(self, months: Iterable[date]) -> None:
        missing = set(months) - self._months
        if not missing:
            return
        with self._months_lock, self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(17018)")
            for month in sorted(missing):
                for table in PARTITIONED:
                    conn.execute(partition_ddl(table, month))
            self._months |= missing

    # ------------------------------------------------------------------ reads

    def records(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.reads.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def overview(self, now: datetime) -> list[dict[str, Any]]:
        """Every hall today: the region board's rows."""
        today = now.astimezone(self.tz).date()
        # One counters row per hall (hall_days) and the few tickets waiting now (partial index tickets_waiting):
        # the board's cost does not grow with the day.
        rows = self.records("""
            WITH q AS (
                SELECT hall_id, min(queue_at) AS oldest_waiting FROM tickets
                WHERE day = %(today)s AND status = 'waiting' GROUP BY hall_id),
            w AS (
                SELECT hall_id, count(*) FILTER (WHERE state IN ('open', 'serving', 'paused')) AS windows_open,
                       count(*) FILTER (WHERE state = 'serving') AS windows_serving
                FROM windows GROUP BY hall_id),
            c AS (
                SELECT hall_id, count(*) AS cases_open, count(*) FILTER (WHERE due_at < %(now)s) AS cases_overdue
                FROM cases WHERE state <> 'closed' GROUP BY hall_id),
            p AS (
                SELECT hall_id, count(*) AS complaints_open,
                       count(*) FILTER (WHERE due_at < %(now)s) AS complaints_overdue
                FROM complaints WHERE state = 'open' GROUP BY hall_id)
            SELECT h.hall_id, h.name, h.last_seq, h.hall_last_seq, h.seen_at, h.last_event_at,
                   COALESCE(d.issued, 0) AS issued_today, COALESCE(d.served, 0) AS served_today,
                   COALESCE(d.waiting, 0) AS waiting, q.oldest_waiting,
                   d.wait_sum / NULLIF(d.waited, 0) AS avg_wait_s,
                   COALESCE(w.windows_open, 0) AS windows_open, COALESCE(w.windows_serving, 0) AS windows_serving,
                   COALESCE(d.ratings, 0) AS ratings, COALESCE(d.bad, 0) AS bad, d.score_sum,
                   COALESCE(c.cases_open, 0) AS cases_open, COALESCE(c.cases_overdue, 0) AS cases_overdue,
                   COALESCE(p.complaints_open, 0) AS complaints_open,
                   COALESCE(p.complaints_overdue, 0) AS complaints_overdue
            FROM halls h LEFT JOIN hall_days d ON d.hall_id = h.hall_id AND d.day = %(today)s
                 LEFT JOIN q ON q.hall_id = h.hall_id LEFT JOIN w ON w.hall_id = h.hall_id
                 LEFT JOIN c ON c.hall_id = h.hall_id LEFT JOIN p ON p.hall_id = h.hall_id
            ORDER BY h.hall_id""", {"today": today, "now": now})
        return [_board_row(r, now) for r in rows]

    def hall(self, hall_id: str, now: datetime) -> dict[str, Any] | None:
        """One hall: its board row and its windows."""
        row = next((h for h in self.overview(now) if h["hall_id"] == hall_id), None)
        if row is None:
            return None
        today = now.astimezone(self.tz).date()
        row["windows"] = self.records("""
            SELECT w.window_id, w.number, w.name, w.state, w.staff_id, w.since,
                   count(t.*) FILTER (WHERE t.status = 'finished') AS served_today
            FROM windows w LEFT JOIN tickets t ON t.hall_id = w.hall_id AND t.window_id = w.window_id AND t.day = %s
            WHERE w.hall_id = %s GROUP BY w.hall_id, w.window_id ORDER BY w.number NULLS LAST, w.window_id""",
            (today, hall_id))
        return row

    def report(self, start: date, end: date, hall_id: str | None = None, window_id: str | None = None
               ) -> list[dict[str, Any]]:
        """The hall reports across halls, [start, end): by hall; within a hall by window; within a window by
        staff member."""
        level = "staff_id" if window_id else "window_id" if hall_id else "hall_id"
        where = "day >= %(start)s AND day < %(end)s"
        if hall_id:
            where += " AND hall_id = %(hall)s"
        if window_id:
            where += " AND window_id = %(window)s"
        params = {"start": start, "end": end, "hall": hall_id, "window": window_id}
        served = self.records(f"""
            SELECT {level} AS key, count(*) AS issued, count(*) FILTER (WHERE status = 'finished') AS served,
                   count(*) FILTER (WHERE status = 'no_show') AS no_show, avg(wait_s) AS avg_wait_s,
                   max(wait_s) AS max_wait_s, avg(service_s) AS avg_service_s,
                   max(window_name) AS window_name
            FROM tickets WHERE {where} GROUP BY {level}""", params)
        rated = {r["key"]: r for r in self.records(f"""
            SELECT {level} AS key, count(*) AS ratings, count(*) FILTER (WHERE bad) AS bad, {SCORE} AS score_sum
            FROM ratings WHERE {where} GROUP BY {level}""", params)}
        names = {}
        if level == "hall_id":
            names = {r["hall_id"]: r["name"] for r in self.records("SELECT hall_id, name FROM halls")}
        out = []
        for r in served:
            rt = rated.pop(r["key"], None) or {"ratings": 0, "bad": 0, "score_sum": None}
            out.append(_report_row(r, rt, names.get(r["key"]) or r.get("window_name") if level != "staff_id" else None))
        for key, rt in rated.items():  # rated but no ticket in the period (rated online days later)
            out.append(_report_row({"key": key, "issued": 0, "served": 0, "no_show": 0}, rt, names.get(key)))
        return sorted(out, key=lambda r: (r["key"] is None, str(r["key"])))

    def supervision(self, now: datetime, hall_id: str | None = None, overdue_only: bool = False
                    ) -> dict[str, list[dict[str, Any]]]:
        """Open 差评 cases and complaints across halls, the most urgent first."""
        filters = " AND x.hall_id = %(hall)s" if hall_id else ""
        if overdue_only:
            filters += " AND x.due_at < %(now)s"
        params = {"hall": hall_id, "now": now}
        cases = self.records(f"""
            SELECT x.*, h.name AS hall_name FROM cases x JOIN halls h USING (hall_id)
            WHERE x.state <> 'closed'{filters} ORDER BY x.due_at NULLS LAST, x.hall_id, x.case_id""", params)
        complaints = self.records(f"""
            SELECT x.*, h.name AS hall_name FROM complaints x JOIN halls h USING (hall_id)
            WHERE x.state = 'open'{filters} ORDER BY x.due_at NULLS LAST, x.hall_id, x.complaint_id""", params)
        for c in cases:
            c["state_label"] = rules.CASE_STATES.get(c["state"], c["state"])
            c["overdue"] = c["due_at"] is not None and c["due_at"] < now
        for c in complaints:
            c["state_label"] = rules.COMPLAINT_STATES.get(c["state"], c["state"])
            c["overdue"] = c["due_at"] is not None and c["due_at"] < now
        return {"cases": cases, "complaints": complaints}

    def monthly_return(self, month: str, now: datetime) -> list[dict[str, Any]]:
        """The monthly 效能 return across halls: one row per hall, the hall's own return's columns
        (features/supervision/efficiency.py) and the region's beside them (ValueError unless YYYY-MM)."""
        start, end = rules.month_bounds(month)
        params = {"start": start, "end": end, "now": now, "long": rules.LONG_WAIT_S}
        outcomes = ", ".join(f"count(*) FILTER (WHERE status = 'finished' AND outcome = '{code}') AS outcome_{code}"
                             for code in rules.OUTCOMES)
        rows = self.records(f"""
            WITH t AS (
                SELECT hall_id, count(*) AS tickets, count(*) FILTER (WHERE status = 'finished') AS served,
                       count(*) FILTER (WHERE status = 'no_show') AS no_show,
                       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                       avg(wait_s) AS wait_mean_s, max(wait_s) AS wait_max_s,
                       percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_s) AS wait_p90_s,
                       count(wait_s) AS waited, count(*) FILTER (WHERE wait_s > %(long)s) AS overtime,
                       avg(service_s) AS service_mean_s, count(DISTINCT day) AS days, {outcomes}
                FROM tickets WHERE day >= %(start)s AND day < %(end)s GROUP BY hall_id),
            r AS (
                SELECT hall_id, count(*) AS ratings, count(*) FILTER (WHERE bad) AS bad, {SCORE} AS score_sum
                FROM ratings WHERE day >= %(start)s AND day < %(end)s GROUP BY hall_id),
            c AS (
                SELECT hall_id, count(*) AS cases_opened, count(*) FILTER (WHERE state = 'closed') AS cases_closed,
                       count(*) FILTER (WHERE (closed_at IS NULL AND due_at < %(now)s) OR closed_at > due_at)
                           AS cases_late,
                       count(*) FILTER (WHERE valid) AS valid_bad,
                       count(*) FILTER (WHERE valid AND rectified) AS rectified,
                       count(*) FILTER (WHERE named) AS named_bad,
                       count(*) FILTER (WHERE named AND replied) AS replied
                FROM cases WHERE opened_at >= %(start)s AND opened_at < %(end)s GROUP BY hall_id),
            p AS (
                SELECT hall_id, count(*) AS complaints, count(*) FILTER (WHERE state = 'answered') AS complaints_answered,
                       count(*) FILTER (WHERE answered_at <= due_at) AS complaints_on_time
                FROM complaints WHERE registered_at >= %(start)s AND registered_at < %(end)s GROUP BY hall_id)
            SELECT h.hall_id, h.name, t.*, r.ratings, r.bad, r.score_sum, c.*, p.*
            FROM halls h LEFT JOIN t USING (hall_id) LEFT JOIN r USING (hall_id) LEFT JOIN c USING (hall_id)
                 LEFT JOIN p USING (hall_id) ORDER BY h.hall_id""", params)
        return [_return_row(month, r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Events held per hall (the bench compares them with each hall's ledger)."""
        return {r["hall_id"]: r["n"] for r in self.records(
            "SELECT hall_id, count(*) AS n FROM events GROUP BY hall_id")}


def _board_row(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    oldest = r.pop("oldest_waiting")
    out = {k: r[k] for k in ("hall_id", "name", "issued_today", "served_today", "waiting", "windows_open",
                             "windows_serving", "cases_open", "cases_overdue", "complaints_open",
                             "complaints_overdue")}
    out["longest_wait_s"] = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    out["avg_wait_s"] = round(r["avg_wait_s"], 1) if r["avg_wait_s"] is not None else None
    out.update(rules.satisfaction(r["ratings"], r["bad"], r["score_sum"]))
    out["seen_at"] = r["seen_at"].isoformat() if r["seen_at"] else None
    out["last_event_at"] = r["last_event_at"].isoformat() if r["last_event_at"] else None
    out["events"] = r["last_seq"]
    out["behind"] = max(0, r["hall_last_seq"] - r["last_seq"])
    out["alerts"] = rules.alerts({**out, "seen_at": r["seen_at"]}, now)
    return out


def _report_row(r: dict[str, Any], rt: dict[str, Any], name: str | None) -> dict[str, Any]:
    return {"key": r["key"], "name": name, "issued": r["issued"], "served": r["served"], "no_show": r["no_show"],
            "avg_wait_min": rules.minutes(r.get("avg_wait_s")), "max_wait_min": rules.minutes(r.get("max_wait_s")),
            "avg_service_min": rules.minutes(r.get("avg_service_s")),
            **rules.satisfaction(rt["ratings"], rt["bad"], rt["score_sum"])}


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _return_row(month: str, r: dict[str, Any]) -> dict[str, Any]:
    n = lambda k: r.get(k) or 0  # noqa: E731 - a hall without activity in the month has NULLs
    sat = rules.satisfaction(n("ratings"), n("bad"), r.get("score_sum"))
    return {
        "month": month, "hall_id": r["hall_id"], "hall_name": r["name"],
        # the hall's own return's columns (efficiency.COLUMNS), 办件量 counted as tickets served
        "workload": n("served"), "tickets": n("tickets"), "ratings": n("ratings"), "satisfaction": sat["satisfied_rate"],
        "bad": n("bad"), "valid_bad": n("valid_bad"), "rectify_rate": _share(n("rectified"), n("valid_bad")),
        "named_bad": n("named_bad"), "reply_rate": _share(n("replied"), n("named_bad")),
        "overtime_rate": _share(n("overtime"), n("waited")), "wait_mean": rules.minutes(r.get("wait_mean_s")),
        "wait_p90": rules.minutes(r.get("wait_p90_s")),
        # the region's beside them
        "working_days": n("days"), "served": n("served"), "no_show": n("no_show"), "cancelled": n("cancelled"),
        **{f"outcome_{code}": n(f"outcome_{code}") for code in rules.OUTCOMES},
        "wait_max": rules.minutes(r.get("wait_max_s")), "service_mean": rules.minutes(r.get("service_mean_s")),
        "score": sat["score"], "cases_opened": n("cases_opened"), "cases_closed": n("cases_closed"),
        "cases_late": n("cases_late"), "complaints": n("complaints"), "complaints_answered": n("complaints_answered"),
        "complaints_on_time": n("complaints_on_time"),
    }
