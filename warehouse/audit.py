"""The `audit` schema's tables that Python writes: publications and seed loads.

dbt owns the `dq_*` models of the schema (dbt_project/models/audit); these two tables are
written by the pipeline itself, and this module is the one that creates them.
"""

from __future__ import annotations

import psycopg

from warehouse import schemas

PUBLICATIONS = f"{schemas.AUDIT}.publications"
SEED_STATE = f"{schemas.AUDIT}.seed_state"

_DDL = """
create schema if not exists {audit};
create table if not exists {audit}.publications (
    publication_id bigint generated always as identity primary key,
    run_id         text        not null,
    attempted_at   timestamptz not null default clock_timestamp(),
    status         text        not null check (status in ('published', 'blocked')),
    marts          text[]      not null,
    row_counts     jsonb,
    check_results  jsonb       not null default '{}',
    message        text
);
comment on table {audit}.publications is
    'Append-only: every publication of gold and every blocked attempt, with its checks.';
-- Append-only: nobody but the owner (the pipeline's role) may change or remove a row; readers
-- have no privileges on audit at all, and this guards against broader grants later.
create or replace function {audit}.publications_append_only() returns trigger
    language plpgsql as $$
begin
    if current_user <> (select pg_get_userbyid(relowner) from pg_class
                        where oid = '{audit}.publications'::regclass) then
        raise exception '{audit}.publications is append-only (% by %)', tg_op, current_user;
    end if;
    return coalesce(new, old);
end $$;
drop trigger if exists publications_append_only on {audit}.publications;
create trigger publications_append_only before update or delete on {audit}.publications
    for each row execute function {audit}.publications_append_only();
revoke all on {audit}.publications from public;
create table if not exists {audit}.seed_state (
    unique_id   text        primary key,
    fingerprint text        not null,
    loaded_at   timestamptz not null default now()
);
"""


def ensure_audit(conn: psycopg.Connection) -> None:
    """Create the schema and its tables, if missing (idempotent; safe from concurrent runs)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.audit'))")
        conn.execute(_DDL.replace("{audit}", schemas.AUDIT))  # type: ignore[arg-type]


def data_quality_counts(conn: psycopg.Connection) -> tuple[int, int, int, int] | None:
    """(quarantined lines, invalid payloads, duplicate conflicts, late events): the rows of
    raw.quarantine and of the dbt models audit.dq_invalid_payloads, dq_duplicate_conflicts
    and dq_late_events."""
    row = conn.execute(
        f"select (select count(*) from {schemas.RAW}.quarantine), "
        f"(select count(*) from {schemas.AUDIT}.dq_invalid_payloads), "
        f"(select count(*) from {schemas.AUDIT}.dq_duplicate_conflicts), "
        f"(select count(*) from {schemas.AUDIT}.dq_late_events)"
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3])) if row else None
