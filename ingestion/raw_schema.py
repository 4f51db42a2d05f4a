"""DDL of the `raw` schema, owned by the loader (dbt reads it as sources).

raw.events and raw.quarantine carry no foreign key to raw.load_batches: a per-row FK check would
cost a large share of landing throughput, and both are written only inside the batch's own
transaction, which creates the batch row first.
"""

from __future__ import annotations

import psycopg

RAW_DDL = """
create schema if not exists raw;

create table if not exists raw.load_batches (
    batch_id          bigint generated always as identity primary key,
    source_path       text        not null,
    file_name         text        not null,
    sha256            text        unique,
    size_bytes        bigint      not null,
    source_mtime      timestamptz,
    lines_read        bigint      not null default 0,
    events_landed     bigint      not null default 0,
    lines_quarantined bigint      not null default 0,
    blank_lines       bigint      not null default 0,
    started_at        timestamptz not null default clock_timestamp(),
    finished_at       timestamptz,
    constraint load_batches_accounting
        check (lines_read = events_landed + lines_quarantined + blank_lines)
);

create table if not exists raw.events (
    batch_id       bigint      not null,
    line_no        integer     not null,
    event_id       text        not null,
    event_type     text        not null,
    occurred_at    timestamptz not null,
    ingested_at    timestamptz,
    tenant_id      text        not null,
    region         text        not null,
    player_id      text        not null,
    trace_id       text,
    schema_version text        not null,
    payload        jsonb       not null,
    loaded_at      timestamptz not null default now()
);
-- (batch_id, line_no) is unique by construction (the loader numbers the lines of its own
-- batch); a btree to enforce it costs ~15% of landing throughput. Batch ids grow with the
-- physical order of an append-only table, so a BRIN index serves "batches after N" for free.
create index if not exists events_batch_brin on raw.events using brin (batch_id)
    with (pages_per_range = 32);

create table if not exists raw.quarantine (
    batch_id       bigint      not null,
    line_no        integer     not null,
    source_file    text        not null,
    field          text,
    reason         text        not null,
    raw_line       text        not null,
    quarantined_at timestamptz not null default now(),
    primary key (batch_id, line_no)
);

-- Files that could not be landed at all (unreadable, corrupt compression): nothing of them is
-- in raw, so the attempt itself is recorded.
create table if not exists raw.load_failures (
    failure_id  bigint generated always as identity primary key,
    source_path text        not null,
    size_bytes  bigint,
    source_mtime timestamptz,
    error       text        not null,
    failed_at   timestamptz not null default clock_timestamp()
);

-- Files not landed because their bytes already are (a batch with the same sha256): the same
-- file delivered again under another name, copied or touched. Recorded as they were when
-- skipped, so that a scheduled run does not take such a file for a new one whenever it looks.
create table if not exists raw.load_skips (
    skip_id       bigint      generated always as identity primary key,
    source_path   text        not null,
    size_bytes    bigint      not null,
    source_mtime  timestamptz,
    same_as_batch bigint      not null references raw.load_batches,
    skipped_at    timestamptz not null default clock_timestamp()
);

comment on table raw.events is
    'Every envelope-valid line of every landed file, as delivered (duplicates included).';
comment on table raw.quarantine is
    'Every line that failed envelope validation, with the field and a reason a person can act on.';
comment on table raw.load_batches is
    'One row per landed file: lines_read = events_landed + lines_quarantined + blank_lines.';
comment on table raw.load_skips is
    'Files skipped because the same bytes already landed as a batch, as they were when skipped.';
comment on column raw.load_batches.sha256 is
    'sha256 of the file as delivered (its stored bytes): the same file landed again is a no-op.';
"""


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    # Serialised: concurrent `create table if not exists` can still collide in the catalog.
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.raw_schema'))")
        conn.execute(RAW_DDL)
