"""The tables and views the API needs, created by the pipeline's role (idempotent).

- `security.api_clients`: one row per API client; the secret is stored hashed (scrypt), never
  in clear. Each client has a NOLOGIN database role (`api_client_<id>`) that every one of its
  requests runs as (`set local role`), so row-level security decides what it sees.
- `security.api_signing_key`: the HMAC key that signs bearer tokens, made once per warehouse.
- `audit.api_access`: append-only, one row per request (client, endpoint, filters, status,
  rows, duration); no secret, no player id.
- schema `api`: security-barrier views over the silver models the API reads (events for
  funnels and other return events, players for cohorts, awards for the points windows, player
  days for the month's MAU). Silver has no row-level security of its own and dbt replaces its
  tables on a full refresh (dropping their policies and dependent views alike), so the brand
  filter lives in the views, which read the same scopes as gold's policies against
  `current_user`; `ensure_api_views` recreates them when a full refresh dropped them.
"""

from __future__ import annotations

import secrets

import psycopg
from psycopg import sql

from warehouse import schemas
from warehouse.access import BI_READER, ensure_access, ensure_group
from warehouse.audit import ensure_audit

API_SCHEMA = "api"
API_CLIENT_GROUP = "api_client"  # every client's role is a member: the views are granted to it
CLIENTS = f"{schemas.SECURITY}.api_clients"
SIGNING_KEY = f"{schemas.SECURITY}.api_signing_key"
ACCESS_LOG = f"{schemas.AUDIT}.api_access"

_DDL = f"""
create table if not exists {CLIENTS} (
    client_id   text primary key,
    name        text not null unique,
    role_name   name not null unique,
    secret_hash text not null,
    all_brands  boolean not null,
    brands      text[] not null default '{{}}',
    status      text not null default 'active' check (status in ('active', 'revoked')),
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
revoke all on {CLIENTS} from public;
create table if not exists {SIGNING_KEY} (
    key_id     integer primary key check (key_id = 1),
    key        bytea not null,
    created_at timestamptz not null default now()
);
revoke all on {SIGNING_KEY} from public;
create table if not exists {ACCESS_LOG} (
    access_id   bigint generated always as identity primary key,
    accessed_at timestamptz not null default clock_timestamp(),
    client_id   text,
    endpoint    text not null,
    method      text not null,
    filters     jsonb not null default '{{}}',
    status      integer not null,
    rows        integer,
    duration_ms numeric(12, 3) not null
);
comment on table {ACCESS_LOG} is
    'Append-only: one row per API request (client, endpoint, filters, status, rows, duration).';
revoke all on {ACCESS_LOG} from public;
-- Append-only for everyone, the owner included: an access log that its writer may rewrite
-- proves nothing. (truncate too: it fires no row trigger.)
create or replace function {schemas.AUDIT}.api_access_append_only() returns trigger
    language plpgsql as $$
begin
    raise exception '{ACCESS_LOG} is append-only (% by %)', tg_op, current_user;
end $$;
drop trigger if exists api_access_append_only on {ACCESS_LOG};
create trigger api_access_append_only before update or delete on {ACCESS_LOG}
    for each row execute function {schemas.AUDIT}.api_access_append_only();
drop trigger if exists api_access_no_truncate on {ACCESS_LOG};
create trigger api_access_no_truncate before truncate on {ACCESS_LOG}
    for each statement execute function {schemas.AUDIT}.api_access_append_only();
"""

# The brand filter of every view: the querying role's scope (security.brand_scopes, as gold's
# brand_scope policy reads it), or every brand for a role that reads all of gold.
_IN_SCOPE = (
    "(brand_id in (select s.brand_id from security.brand_scopes s "
    "where s.role_name = current_user) "
    # a sub-select: evaluated once per query (an InitPlan), not once per row
    f"or (select pg_has_role(current_user, '{BI_READER}', 'member')))"
)

# view -> its select: the silver columns the API's questions need (the payload only in
# `events`, for the funnels' step filters). Silver holds pseudonymous ids only.
VIEWS: dict[str, str] = {
    "events": (
        "select event_id, event_type, occurred_at, brand_id, region, player_id, payload "
        f"from {schemas.SILVER}.int_events where invalid_reason is null and is_known_type"
    ),
    "players": (
        "select brand_id, player_id, registration_date, first_deposit_date "
        f"from {schemas.SILVER}.int_players"
    ),
    "points_awards": (
        "select brand_id, game_id, task_id, player_id, awarded_at, event_id "
        f"from {schemas.SILVER}.int_points_awards"
    ),
    "player_days": (
        "select brand_id, player_id, activity_date "
        f"from {schemas.SILVER}.int_player_activity_daily "
        "where has_bet or has_deposit or has_active_session"
    ),
    # The last day with data of the whole warehouse (every brand), the maturity horizon of
    # the cohorts: no brand filter, as gold's calendars already show every reader that day.
    "data_end": f"select max(event_date) as last_day from {schemas.SILVER}.int_event_days",
}
UNSCOPED = {"data_end"}


def ensure_api_schema(conn: psycopg.Connection) -> None:
    """Every table, group role and grant of the API (the views: `ensure_api_views`)."""
    ensure_audit(conn)
    ensure_access(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.api'))")
        conn.execute(_DDL)  # type: ignore[arg-type]
        ensure_group(conn, API_CLIENT_GROUP)
        conn.execute(
            f"insert into {SIGNING_KEY} (key_id, key) values (1, %s) on conflict do nothing",
            [secrets.token_bytes(32)],
        )
    ensure_api_views(conn)


def ensure_api_views(conn: psycopg.Connection) -> list[str]:
    """(Re)create the views whose silver table exists; the names of those it could not make
    (silver not built yet: the answers that need them are a 503 until it is)."""
    missing = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.api'))")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(API_SCHEMA)))
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(
                sql.Identifier(API_SCHEMA), sql.Identifier(API_CLIENT_GROUP)
            )
        )
        for view, body in VIEWS.items():
            source = body.split(" from ", 1)[1].split()[0]
            if conn.execute("select to_regclass(%s)", [source]).fetchone()[0] is None:  # type: ignore[index]
                missing.append(view)
                continue
            relation = sql.Identifier(API_SCHEMA, view)
            scope = sql.SQL("true" if view in UNSCOPED else _IN_SCOPE)  # type: ignore[arg-type]
            conn.execute(
                sql.SQL(
                    "create or replace view {} with (security_barrier) as select * from ({}) v "
                    "where {}"
                ).format(relation, sql.SQL(body), scope)  # type: ignore[arg-type]
            )
            conn.execute(
                sql.SQL("grant select on {} to {}").format(
                    relation, sql.Identifier(API_CLIENT_GROUP)
                )
            )
    return missing


def signing_key(conn: psycopg.Connection) -> bytes:
    row = conn.execute(f"select key from {SIGNING_KEY} where key_id = 1").fetchone()
    if row is None:
        raise RuntimeError("the API's signing key is missing: run ensure_api_schema first")
    return bytes(row[0])
