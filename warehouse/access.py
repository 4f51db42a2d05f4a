"""Who may read what: reader roles, brand-scoped row-level security, and their grants.

- The pipeline's own role (the user of the warehouse URL; `dwh_loader` on the embedded server)
  owns every schema and table. It needs CREATEROLE to create the reader roles.
- `bi_reader` (a group role) reads `gold` and nothing else: no raw, bronze, silver, audit.
- `brand_reader` (a group role) reads `gold` too, but row-level security limits each member
  to the brands listed for it in `security.brand_scopes`.
- Logins are members of one of the two: `dwh grant-reader NAME` and
  `dwh grant-brand-reader NAME BRAND...`. Gold carries pseudonymous ids only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import psycopg
from psycopg import sql

BI_READER = "bi_reader"
BRAND_READER = "brand_reader"
SECURITY_SCHEMA = "security"

_SECURITY_DDL = """
create schema if not exists security;
revoke all on schema security from public;
create table if not exists security.brand_scopes (
    role_name name not null,
    brand_id  text not null,
    granted_at timestamptz not null default now(),
    primary key (role_name, brand_id)
);
-- A brand reader may see its own scope rows and nobody else's: the gold policies read this
-- table as the querying role.
alter table security.brand_scopes enable row level security;
drop policy if exists own_scope on security.brand_scopes;
create policy own_scope on security.brand_scopes for select using (role_name = current_user);
"""


class AccessError(RuntimeError):
    pass


def _ensure_group(conn: psycopg.Connection, role: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    if exists is None:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))


def ensure_access(conn: psycopg.Connection) -> None:
    """Group roles, the security schema and the grants that do not depend on gold's tables."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
        for role in (BI_READER, BRAND_READER):
            _ensure_group(conn, role)
        conn.execute(_SECURITY_DDL)
        conn.execute(
            sql.SQL("grant usage on schema security to {}").format(sql.Identifier(BRAND_READER))
        )
        conn.execute(
            sql.SQL("grant select on security.brand_scopes to {}").format(
                sql.Identifier(BRAND_READER)
            )
        )


def secure_gold_table(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Grants and row-level security of one published table (inside the caller's transaction)."""
    relation = sql.Identifier(schema, table)
    readers = sql.SQL(", ").join(sql.Identifier(r) for r in (BI_READER, BRAND_READER))
    conn.execute(sql.SQL("grant select on {} to {}").format(relation, readers))
    conn.execute(sql.SQL("alter table {} enable row level security").format(relation))
    conn.execute(sql.SQL("drop policy if exists bi_reader_all on {}").format(relation))
    conn.execute(
        sql.SQL("create policy bi_reader_all on {} for select to {} using (true)").format(
            relation, sql.Identifier(BI_READER)
        )
    )
    conn.execute(sql.SQL("drop policy if exists brand_scope on {}").format(relation))
    conn.execute(
        sql.SQL(
            "create policy brand_scope on {} for select to {} "
            # a hashed subplan: the scope is read once per query, not once per row
            "using (brand_id in (select brand_id from security.brand_scopes "
            "where role_name = current_user))"
        ).format(relation, sql.Identifier(BRAND_READER))
    )


def _create_login(conn: psycopg.Connection, name: str, password: str, group: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [name]).fetchone()
    statement = (
        "alter role {} with login password {}"
        if exists
        else "create role {} with login password {}"
    )
    conn.execute(sql.SQL(statement).format(sql.Identifier(name), sql.Literal(password)))
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(name)))


def _check_name(name: str) -> None:
    if not name or not name.replace("_", "").isalnum() or name[0].isdigit():
        raise AccessError(f"role names are letters, digits and underscores: {name!r}")
    if name in (BI_READER, BRAND_READER, "dwh_loader", "postgres"):
        raise AccessError(f"{name!r} is one of the project's own roles")


def grant_reader(conn: psycopg.Connection, name: str, password: str | None = None) -> str:
    """A login that reads all of gold. Returns its password."""
    _check_name(name)
    password = password or secrets.token_urlsafe(18)
    ensure_access(conn)
    with conn.transaction():
        _create_login(conn, name, password, BI_READER)
    return password


def grant_brand_reader(
    conn: psycopg.Connection, name: str, brands: Iterable[str], password: str | None = None
) -> str:
    """A login that reads gold rows of `brands` only. Returns its password."""
    _check_name(name)
    brands = list(brands)
    if not brands:
        raise AccessError("a brand reader needs at least one brand")
    password = password or secrets.token_urlsafe(18)
    ensure_access(conn)
    with conn.transaction():
        member = conn.execute(
            "select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid "
            "join pg_roles r on r.oid = m.member where g.rolname = %s and r.rolname = %s",
            [BI_READER, name],
        ).fetchone()
        if member:
            raise AccessError(f"{name} reads all brands (bi_reader): use another name")
        _create_login(conn, name, password, BRAND_READER)
        for brand in brands:
            conn.execute(
                "insert into security.brand_scopes (role_name, brand_id) "
                "values (%s, %s) on conflict do nothing",
                [name, brand],
            )
    return password
