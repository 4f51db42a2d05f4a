"""The `audit` schema's tables that Python writes: publications, seed loads, run fingerprints.

dbt owns the `dq_*` models of the schema (dbt_project/models/audit); these tables are
written by the pipeline itself, and this module is the one that creates them.
"""

from __future__ import annotations

import psycopg

from warehouse import schemas

PUBLICATIONS = f"{schemas.AUDIT}.publications"
SEED_STATE = f"{schemas.AUDIT}.seed_state"
RUN_FINGERPRINTS = f"{schemas.AUDIT}.run_fingerprints"

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
-- One row per run of the warehouse job started by `dwh` (warehouse/run_fingerprint.py): what
-- its output depends on besides new files. A run with nothing new is skipped only when the
-- newest row published and no publication or blocked attempt came after it.
create table if not exists {audit}.run_fingerprints (
    attempt_id     bigint generated always as identity primary key,
    run_id         text        not null unique,
    started_at     timestamptz not null default clock_timestamp(),
    finished_at    timestamptz,
    status         text        not null check (status in ('running', 'published', 'failed')),
    publication_id bigint      references {audit}.publications,
    batch_id       bigint      not null,
    fingerprint    text        not null,
    parts          jsonb       not null
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
