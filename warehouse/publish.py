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

from warehouse.access import ensure_access, secure_gold_table

CANDIDATE_SCHEMA = "gold_candidate"
GOLD_SCHEMA = "gold"

_AUDIT_DDL = """
create schema if not exists audit;
create table if not exists audit.publications (
    publication_id bigint generated always as identity primary key,
    run_id         text        not null,
    attempted_at   timestamptz not null default clock_timestamp(),
    status         text        not null check (status in ('published', 'blocked')),
    marts          text[]      not null,
    row_counts     jsonb,
    check_results  jsonb       not null default '{}',
    message        text
);
comment on table audit.publications is
    'Append-only: every publication of gold and every blocked attempt, with its checks.';
-- Append-only: nobody but the owner (the pipeline's role) may change or remove a row; readers
-- have no privileges on audit at all, and this guards against broader grants later.
create or replace function audit.publications_append_only() returns trigger
    language plpgsql as $$
begin
    if current_user <> (select pg_get_userbyid(relowner) from pg_class
                        where oid = 'audit.publications'::regclass) then
        raise exception 'audit.publications is append-only (% by %)', tg_op, current_user;
    end if;
    return coalesce(new, old);
end $$;
drop trigger if exists publications_append_only on audit.publications;
create trigger publications_append_only before update or delete on audit.publications
    for each row execute function audit.publications_append_only();
revoke all on audit.publications from public;
"""


@dataclass(frozen=True)
class Publication:
    publication_id: int
    status: str
    row_counts: dict[str, int]


def ensure_audit(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.audit'))")
        conn.execute(_AUDIT_DDL)


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
            "insert into audit.publications (run_id, status, marts, row_counts, check_results) "
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
            "insert into audit.publications (run_id, status, marts, check_results, message) "
            "values (%s, 'blocked', %s, %s, %s) returning publication_id",
            [run_id, list(marts), json.dumps(check_results), message],
        ).fetchone()
    return int(row[0])  # type: ignore[index]
