"""Write-audit-publish: copy validated candidate marts into `gold`, all at once.

dbt builds the gold models into `gold_candidate`; the checks run there; only when every
blocking check passed does `publish` copy every mart into `gold` in one transaction. Rows are
replaced with DELETE + INSERT, which is MVCC-safe: a reader sees either the previous
publication or the new one, in every table, even inside a long REPEATABLE READ transaction
(TRUNCATE or a table swap would show such a reader empty tables). A failed attempt changes
nothing in `gold` and is recorded in `audit.publications` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from warehouse import schemas
from warehouse.access import ensure_access, secure_gold_table
from warehouse.audit import PUBLICATIONS, ensure_audit

CANDIDATE_SCHEMA = schemas.CANDIDATE
GOLD_SCHEMA = schemas.GOLD


@dataclass(frozen=True)
class Publication:
    publication_id: int
    status: str
    row_counts: dict[str, int]


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in conn.execute(  # type: ignore[misc]
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
            "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum",
            [schema, table],
        ).fetchall()
    ]


def publish(
    conn: psycopg.Connection,
    marts: Sequence[str],
    *,
    run_id: str,
    check_results: Mapping[str, Any] | None = None,
    candidate_schema: str = CANDIDATE_SCHEMA,
    gold_schema: str = GOLD_SCHEMA,
) -> Publication:
    """Publish every mart of `marts` from the candidate schema into gold, atomically."""
    ensure_audit(conn)
    ensure_access(conn)
    counts: dict[str, int] = {}
    with conn.transaction():
        # One publication at a time; readers keep reading the previous one meanwhile.
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.publish'))")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(gold_schema)))
        conn.execute(
            sql.SQL("grant usage on schema {} to bi_reader, brand_reader").format(
                sql.Identifier(gold_schema)
            )
        )
        for mart in marts:
            source = sql.Identifier(candidate_schema, mart)
            target = sql.Identifier(gold_schema, mart)
            wanted = _columns(conn, candidate_schema, mart)
            if not wanted:
                raise RuntimeError(f"{candidate_schema}.{mart} does not exist")
            if _columns(conn, gold_schema, mart) != wanted:
                # New mart or a new contract version: recreate it with the candidate's shape.
                conn.execute(sql.SQL("drop table if exists {} cascade").format(target))
                conn.execute(
                    sql.SQL(
                        "create table {} (like {} including defaults including constraints "
                        "including comments)"
                    ).format(target, source)
                )
                secure_gold_table(conn, gold_schema, mart)
            else:
                conn.execute(sql.SQL("delete from {}").format(target))
            cur = conn.execute(sql.SQL("insert into {} select * from {}").format(target, source))
            counts[mart] = cur.rowcount
        row = conn.execute(
            f"insert into {PUBLICATIONS} (run_id, status, marts, row_counts, check_results) "
            "values (%s, 'published', %s, %s, %s) returning publication_id",
            [run_id, list(marts), json.dumps(counts), json.dumps(check_results or {})],
        ).fetchone()
    return Publication(
        publication_id=int(row[0]),
        status="published",  # type: ignore[index]
        row_counts=counts,
    )


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
