"""Write-audit-publish: copy validated candidate marts into `gold`, all at once.

dbt builds the gold models into `gold_candidate`; the checks run there; only when every
blocking check passed does `publish` copy every mart into `gold` in one transaction. Rows are
changed with DELETE + INSERT, which is MVCC-safe: a reader sees either the previous
publication or the new one, in every table, even inside a long REPEATABLE READ transaction
(TRUNCATE or a table swap would show such a reader empty tables). A mart with a key (its
grain) changes only the rows that differ; one without replaces them all. A day-keyed
incremental mart whose builds recorded the days they changed (`audit.candidate_changes`,
macros/candidate_changes.sql) has only those days replaced, without reading the others. A
failed attempt changes nothing in `gold` and is recorded in `audit.publications` too.

Gold is what BI tools read, so each table also has its grain as primary key, the indexes the
dashboards need (DASHBOARD_INDEXES), the dbt descriptions as table and column comments
(copied from the candidates, where dbt's persist_docs writes them), and statistics taken in
the publication's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from warehouse import schemas
from warehouse.access import ensure_access, secure_gold_table
from warehouse.audit import PUBLICATIONS, ensure_audit

CANDIDATE_SCHEMA = schemas.CANDIDATE
GOLD_SCHEMA = schemas.GOLD


CANDIDATE_CHANGES = f"{schemas.AUDIT}.candidate_changes"


@dataclass(frozen=True)
class Publication:
    publication_id: int
    status: str
    row_counts: dict[str, int]
    # how each mart reached gold: "copied" (a new table), "compared" (every row compared
    # with gold), "replaced" (no key: every row replaced) or "N days" (only the days its
    # builds changed)
    refills: dict[str, str] = field(default_factory=dict)
    # why the vacuum after the commit failed, if it did (gold is published either way: the
    # vacuum only sets the visibility map and reclaims dead rows)
    vacuum_error: str | None = None


@dataclass(frozen=True)
class _Changes:
    """The days of a candidate that builds changed since the last publication took them."""

    day_column: str
    days: tuple[Any, ...]


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()  # carried in the index: an index-only scan reads no heap

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.columns, *self.include)


# The indexes the dashboard queries need beyond each mart's primary key (dwh/bench.py reads
# them): a brand's 5-minute series over a range of days filters granularity and brand and
# ranges over bucket_start, which the key (granularity, bucket_start, brand_id, ...) serves
# only by scanning every brand of the range; the summed columns in the index spare the heap.
# The other dashboard queries filter on a prefix of their mart's key.
DASHBOARD_INDEXES: dict[str, tuple[Index, ...]] = {
    "fct_bets_rollup": (
        Index(
            ("granularity", "brand_id", "bucket_start"),
            # the API's series of any money metric or bet count, per currency (api/queries/)
            ("currency", "ggr_minor", "stake_minor", "win_minor", "bets_settled"),
        ),
    ),
    # the same series at brand grain (the dashboard's and the API's brand-level series)
    "fct_bets_rollup_brand": (
        Index(
            ("granularity", "brand_id", "bucket_start"),
            ("currency", "ggr_minor", "stake_minor", "win_minor", "bets_settled"),
        ),
    ),
}


@dataclass(frozen=True)
class _Shape:
    """What a gold table must look like for a publication to refill it in place."""

    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]  # the primary key's columns, in order; () for none
    indexes: frozenset[tuple[str, ...]]  # the other indexes' columns, included ones last


def _columns(conn: psycopg.Connection, schema: str, table: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        tuple(r)  # type: ignore[misc]
        for r in conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
            "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum",
            [schema, table],
        ).fetchall()
    )


def _shape(conn: psycopg.Connection, schema: str, table: str) -> _Shape:
    rows = conn.execute(
        "select i.indisprimary, array(select a.attname from unnest(i.indkey) "
        "with ordinality k(attnum, n) join pg_attribute a "
        "on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n) "
        "from pg_index i where i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))",
        [schema, table],
    ).fetchall()
    key = next((tuple(cols) for primary, cols in rows if primary), ())
    indexes = frozenset(tuple(cols) for primary, cols in rows if not primary)
    return _Shape(_columns(conn, schema, table), key, indexes)


def _index_name(mart: str, columns: Sequence[str]) -> str:
    name = f"{mart}_by_{'_'.join(columns)}"
    if len(name) > 63:  # PostgreSQL would truncate it silently, and two could collide
        raise ValueError(f"index name longer than 63 characters: {name}")
    return name


def _recreate(
    conn: psycopg.Connection,
    source: sql.Composable,
    target: sql.Composable,
    gold_schema: str,
    mart: str,
) -> None:
    """A new mart, a new contract version, a new key or new indexes: the table is made again
    with the candidate's columns, constraints and column comments."""
    conn.execute(sql.SQL("drop table if exists {} cascade").format(target))
    conn.execute(
        sql.SQL(
            "create table {} (like {} including defaults including constraints including comments)"
        ).format(target, source)
    )
    secure_gold_table(conn, gold_schema, mart)


def _index(conn: psycopg.Connection, target: sql.Identifier, mart: str, shape: _Shape) -> None:
    """The primary key and the dashboard indexes, built once the rows are in (one sort each,
    instead of maintaining them row by row)."""
    if shape.key:
        conn.execute(
            sql.SQL("alter table {} add constraint {} primary key ({})").format(
                target,
                sql.Identifier(f"{mart}_pkey"),
                sql.SQL(", ").join(map(sql.Identifier, shape.key)),
            )
        )
    for index in DASHBOARD_INDEXES.get(mart, ()):
        conn.execute(
            sql.SQL("create index {} on {} ({}){}").format(
                sql.Identifier(_index_name(mart, index.columns)),
                target,
                sql.SQL(", ").join(map(sql.Identifier, index.columns)),
                sql.SQL(" include ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, index.include))
                )
                if index.include
                else sql.SQL(""),
            )
        )


def _comments(conn: psycopg.Connection, schema: str, table: str) -> dict[str | None, str | None]:
    """The table's comment (under None) and its columns' comments (under their names)."""
    rows = conn.execute(
        "select null::text, obj_description(c.oid, 'pg_class') from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relname = %s "
        "union all select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped",
        [schema, table, schema, table],
    ).fetchall()
    return dict(rows)  # type: ignore[arg-type]


def _copy_comments(
    conn: psycopg.Connection, candidate_schema: str, gold_schema: str, mart: str
) -> None:
    """Gold keeps the candidate's descriptions (dbt's persist_docs writes them there). `like
    ... including comments` copies the columns' comments but not the table's, and a refill in
    place copies none, so every one that differs is set here."""
    wanted = _comments(conn, candidate_schema, mart)
    current = _comments(conn, gold_schema, mart)
    for column, text in sorted(wanted.items(), key=lambda item: item[0] or ""):
        if current.get(column) == text:
            continue
        if column is None:
            statement = sql.SQL("comment on table {} is {}").format(
                sql.Identifier(gold_schema, mart), sql.Literal(text)
            )
        else:
            statement = sql.SQL("comment on column {} is {}").format(
                sql.Identifier(gold_schema, mart, column), sql.Literal(text)
            )
        conn.execute(statement)


def publish(
    conn: psycopg.Connection,
    marts: Sequence[str],
    *,
    run_id: str,
    check_results: Mapping[str, Any] | None = None,
    keys: Mapping[str, Sequence[str]] | None = None,
    candidate_schema: str = CANDIDATE_SCHEMA,
    gold_schema: str = GOLD_SCHEMA,
) -> Publication:
    """Publish every mart of `marts` from the candidate schema into gold, atomically.

    `keys`: each mart's grain, its primary key in gold (a mart without one gets none). Every
    gold table also gets its dashboard indexes (DASHBOARD_INDEXES), the candidate's table and
    column comments, and fresh statistics, all in the publication's transaction: a reader sees
    the previous publication with its statistics or the new one with its own."""
    ensure_audit(conn)
    ensure_access(conn)
    keys = keys or {}
    counts: dict[str, int] = {}
    refills: dict[str, str] = {}
    with conn.transaction():
        # One publication at a time; readers keep reading the previous one meanwhile.
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.publish'))")
        # A durable commit (the embedded server commits asynchronously by default): VACUUM
        # does not mark a page all-visible while its inserter's commit may still be lost, so
        # the vacuum after an asynchronous publication would leave every new page to the heap.
        conn.execute("set local synchronous_commit = on")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(gold_schema)))
        conn.execute(
            sql.SQL("grant usage on schema {} to bi_reader, brand_reader").format(
                sql.Identifier(gold_schema)
            )
        )
        for mart in marts:
            counts[mart], refills[mart] = _publish_mart(
                conn, mart, tuple(keys.get(mart, ())), candidate_schema, gold_schema
            )
        row = conn.execute(
            f"insert into {PUBLICATIONS} (run_id, status, marts, row_counts, check_results) "
            "values (%s, 'published', %s, %s, %s) returning publication_id",
            [run_id, list(marts), json.dumps(counts), json.dumps(check_results or {})],
        ).fetchone()
    vacuum_error = _vacuum(conn, gold_schema, marts)
    return Publication(
        publication_id=int(row[0]),  # type: ignore[index]
        status="published",
        row_counts=counts,
        refills=refills,
        vacuum_error=vacuum_error,
    )


def _vacuum(conn: psycopg.Connection, gold_schema: str, marts: Sequence[str]) -> str | None:
    """VACUUM the gold tables of `marts` that have pages not all-visible, once the
    publication has committed; why it failed, or None.

    New rows are not all-visible until a vacuum marks their pages so, and until then an
    index-only scan reads the heap for every row: the brand's 5-minute series over 30 days
    (22,000 rows of fct_bets_rollup_brand) took 18.5 ms with 2,836 heap pages read, and
    8.6 ms as an index-only scan after a 55 ms vacuum. Autovacuum would come by late or not
    at all (a day-wise refill stays under its thresholds). It also reclaims the rows the
    refill deleted. VACUUM cannot run inside a transaction: a caller's connection in a
    transaction of its own gets none (autovacuum remains).

    Which tables: those whose pages are not all counted all-visible in pg_class, as the
    publication's own ANALYZE left it. That is every table the publication wrote to, and also
    one it did not change whose last vacuum could not mark its pages: a vacuum leaves a page
    as it is while a transaction older than the page's rows is open in the database (a
    reader's long query, an ANALYZE of a big table; the benchmark met one once), so the next
    publication tries again rather than leaving the table to the heap until it changes."""
    if not marts or not conn.autocommit or conn.info.transaction_status != TransactionStatus.IDLE:
        return None
    try:
        pending = [
            name
            for (name,) in conn.execute(
                "select c.relname from pg_class c join pg_namespace s on s.oid = c.relnamespace "
                "where s.nspname = %s and c.relname = any(%s) and c.relkind = 'r' "
                "and c.relallvisible < c.relpages order by 1",
                [gold_schema, list(marts)],
            )
        ]
        if pending:
            conn.execute(
                sql.SQL("vacuum {}").format(
                    sql.SQL(", ").join(sql.Identifier(gold_schema, mart) for mart in pending)
                )
            )
    except psycopg.Error as error:
        return f"{type(error).__name__}: {error}".strip()
    return None


def _refill_changed(
    conn: psycopg.Connection, source: sql.Identifier, target: sql.Identifier, key: tuple[str, ...]
) -> None:
    """Make the gold table equal the candidate by changing only the rows that differ: the
    rows gold has and the candidate has not go (by key), then the candidate's rows gold has
    not come in. Replacing every row would rewrite each index entry of the table on every
    publication (a refill of the 1.9-million-row rollup took 39 s instead of 5, and left
    every page dead); an incremental run changes a few days of it. `except all` keeps a
    duplicate of the candidate a duplicate, so a broken grain still fails on the key."""
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    match = sql.SQL(" and ").join(
        sql.SQL("t.{0} = gone.{0}").format(sql.Identifier(column)) for column in key
    )
    conn.execute(
        sql.SQL(
            "delete from {target} t using (select {keys} from (select * from {target} "
            "except all select * from {source}) d) gone where {match}"
        ).format(target=target, source=source, keys=keys, match=match)
    )
    conn.execute(
        sql.SQL(
            "insert into {target} select * from {source} except all select * from {target}"
        ).format(target=target, source=source)
    )


def _take_changes(
    conn: psycopg.Connection, mart: str, names: set[str], candidate_schema: str
) -> _Changes | None:
    """The days the mart's builds changed since the last publication, taken (deleted) in the
    publication's transaction, so a blocked or failed attempt leaves them for the next one.
    None when only a comparison of every row is safe: no record (a mart that does not record
    its changes, or no build since the last publication), a whole-mart record (a first
    build, a full refresh), a day column the candidate does not have, or candidates not in
    the warehouse's own schema. No day at all: the builds changed nothing."""
    if candidate_schema != CANDIDATE_SCHEMA:
        return None
    if conn.execute("select to_regclass(%s)", [CANDIDATE_CHANGES]).fetchone() == (None,):
        return None
    rows = conn.execute(
        f"delete from {CANDIDATE_CHANGES} where mart = %s returning day_column, day, whole",
        [mart],
    ).fetchall()
    columns = {column for column, _, _ in rows}
    if not rows or len(columns) != 1 or any(whole for _, _, whole in rows):
        return None
    (column,) = columns
    if column not in names:
        return None
    return _Changes(column, tuple(sorted({day for _, day, _ in rows if day is not None})))


def _refill_days(
    conn: psycopg.Connection, source: sql.Identifier, target: sql.Identifier, changes: _Changes
) -> None:
    """Replace the changed days only: gold equalled the candidate after the last publication
    (by induction: every publication leaves them equal), and builds since then changed the
    candidate on these days alone."""
    column = sql.Identifier(changes.day_column)
    days = list(changes.days)
    conn.execute(sql.SQL("delete from {} where {} = any(%s)").format(target, column), [days])
    conn.execute(
        sql.SQL("insert into {} select * from {} where {} = any(%s)").format(
            target, source, column
        ),
        [days],
    )


def _count(conn: psycopg.Connection, table: sql.Identifier) -> int:
    return int(conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0])  # type: ignore[index]


def _publish_mart(
    conn: psycopg.Connection,
    mart: str,
    key: tuple[str, ...],
    candidate_schema: str,
    gold_schema: str,
) -> tuple[int, str]:
    """Copy one mart into gold (inside the publication's transaction): its row count, and
    how it was refilled (Publication.refills)."""
    source = sql.Identifier(candidate_schema, mart)
    target = sql.Identifier(gold_schema, mart)
    columns = _columns(conn, candidate_schema, mart)
    if not columns:
        raise RuntimeError(f"{candidate_schema}.{mart} does not exist")
    names = {name for name, _ in columns}
    indexes = DASHBOARD_INDEXES.get(mart, ())
    missing = [c for c in (*key, *(c for i in indexes for c in i.all_columns)) if c not in names]
    if missing:
        raise RuntimeError(f"{candidate_schema}.{mart} has no column {', '.join(missing)}")
    wanted = _Shape(columns, key, frozenset(i.all_columns for i in indexes))
    rebuilt = _shape(conn, gold_schema, mart) != wanted
    changes = _take_changes(conn, mart, names, candidate_schema)
    if rebuilt:
        _recreate(conn, source, target, gold_schema, mart)
        conn.execute(sql.SQL("insert into {} select * from {}").format(target, source))
        _index(conn, target, mart, wanted)
        refill = "copied"
    elif changes is not None:
        if changes.days:
            _refill_days(conn, source, target, changes)
        refill = f"{len(changes.days)} days"
    elif key:
        _refill_changed(conn, source, target, key)
        refill = "compared"
    else:
        # Same shape: refill in place (MVCC keeps the previous rows visible to open readers).
        conn.execute(sql.SQL("delete from {}").format(target))
        conn.execute(sql.SQL("insert into {} select * from {}").format(target, source))
        refill = "replaced"
    count = _count(conn, target)
    _copy_comments(conn, candidate_schema, gold_schema, mart)
    # Fresh statistics for the new rows: without them the planner keeps the previous
    # publication's estimates (or none at all for a new table) until autovacuum comes by.
    conn.execute(sql.SQL("analyze {}").format(target))
    return count, refill


def record_blocked(
    conn: psycopg.Connection,
    marts: Sequence[str],
    *,
    run_id: str,
    check_results: Mapping[str, Any],
    message: str,
) -> int:
    """Record an attempt that failed its checks; gold is left as it was."""
    ensure_audit(conn)
    with conn.transaction():
        row = conn.execute(
            f"insert into {PUBLICATIONS} (run_id, status, marts, check_results, message) "
            "values (%s, 'blocked', %s, %s, %s) returning publication_id",
            [run_id, list(marts), json.dumps(check_results), message],
        ).fetchone()
    return int(row[0])  # type: ignore[index]


def gold_lag(conn: psycopg.Connection) -> tuple[float, int]:
    """How far gold is behind the landing: (seconds since the oldest landed batch that no
    publication includes yet finished landing, how many such batches). (0, 0): gold includes
    every landed batch.

    The batches a run has taken in are those of silver.int_load_batches; the oldest one
    beyond it is the batch gold is behind on."""
    row = conn.execute(
        "select coalesce(extract(epoch from clock_timestamp() - min(b.finished_at)), 0), "
        f"count(*) from {schemas.RAW}.load_batches b where b.finished_at is not null "
        "and b.batch_id > "
        f"(select coalesce(max(batch_id), 0) from {schemas.SILVER}.int_load_batches)"
    ).fetchone()
    return (float(row[0]), int(row[1])) if row else (0.0, 0)


def revenue_summary(conn: psycopg.Connection) -> RevenueSummary | None:
    """Gold's revenue in a few numbers (the demo prints them); None when gold has no rows."""
    row = conn.execute(
        "select min(day), max(day), count(distinct brand_id), sum(ggr_eur_minor), "
        "sum(ngr_eur_minor), sum(stake_minor)::numeric, sum(win_minor)::numeric "
        f"from {schemas.GOLD}.fct_revenue_daily"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    first, last, brands, ggr, ngr, stake, win = row
    per_brand = conn.execute(
        f"select brand_id, sum(ngr_eur_minor) from {schemas.GOLD}.fct_revenue_daily "
        "group by 1 order by 1"
    ).fetchall()
    return RevenueSummary(first, last, brands, ggr, ngr, stake, win, list(per_brand))


@dataclass(frozen=True)
class RevenueSummary:
    first_day: Any
    last_day: Any
    brands: int
    ggr_eur_minor: Any
    ngr_eur_minor: Any
    stake_minor: Any
    win_minor: Any
    ngr_by_brand: list[tuple[str, Any]]
