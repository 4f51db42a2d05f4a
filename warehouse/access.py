"""Who may read what: reader roles, brand-scoped row-level security, and their grants.

- The pipeline's own role (the user of the warehouse URL; `dwh_loader` on the embedded server)
  owns every schema and table. It needs CREATEROLE to create the reader roles.
- `bi_reader` (a group role) reads `gold` and nothing else: no raw, bronze, silver, audit.
- `brand_reader` (a group role) reads `gold` too, but row-level security limits each member
  to the brands listed for it in `security.brand_scopes`.
- Logins are members of one of the two, never both: `dwh grant-reader NAME` and
  `dwh grant-brand-reader NAME BRAND...`. Gold carries pseudonymous ids only.
- `restrict_catalog` (a superuser's job) hides every relation's size and activity statistics
  from other roles than the database owner and `bi_reader`: PostgreSQL shows them to every
  login by default, so a brand reader could learn how big raw.events is.

No password is ever sent to the server in clear: the statement carries the SCRAM verifier
computed by libpq, so neither an error message nor the server log can show it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from warehouse import schemas

BI_READER = "bi_reader"
BRAND_READER = "brand_reader"
SECURITY_SCHEMA = schemas.SECURITY
_PROJECT_ROLES = (BI_READER, BRAND_READER, "dwh_loader", "postgres")
# Lowercase, so the name is the same quoted or not in a BI tool's SQL; 63 bytes is where
# PostgreSQL would silently truncate it.
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

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

# What PostgreSQL shows every login about relations it may not read: their size
# (pg_class.relpages/reltuples/..., pg_relation_size & co), their activity counters (the
# pg_stat_get_* functions behind pg_stat_user_tables, pg_stat_database, pg_stat_io, ...) and the
# WAL position (bytes written). `restrict_catalog` takes these from PUBLIC.
_SIZE_COLUMNS = ("relpages", "reltuples", "relallvisible", "relallfrozen")
_STAT_FUNCTIONS = (
    r"^(pg_stat_get_.*|pg_(tablespace|database|relation|total_relation|table|indexes)_size"
    r"|pg_current_wal_(insert_|flush_)?lsn)$"
)
# Who keeps them: the pipeline (the database owner: dbt's analyze macro and the PII suite read
# them) and the readers of all of gold (psql's \dt+, BI tools' table sizes).
_STAT_KEEPERS = ("pg_database_owner", BI_READER)


class AccessError(RuntimeError):
    pass


@dataclass(frozen=True)
class Login:
    """What a grant did. `password` is set only when a password was set, and is shown once."""

    name: str
    created: bool
    password: str | None
    brands: tuple[str, ...] = ()  # a brand reader's whole scope after the grant


def ensure_group(conn: psycopg.Connection, role: str) -> None:
    """Create the group role `role` unless it exists. Roles belong to the server, not to a
    database, and the advisory locks around this call to one database: two warehouses on one
    server set up at the same moment (parallel test workers on DWH_TEST_DATABASE_URL) may both
    find it missing, and the second `create role` then fails on the name; the role exists
    either way, which is all this asks."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    if exists is not None:
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
        pass


def ensure_access(conn: psycopg.Connection) -> None:
    """Group roles, the security schema and the grants that do not depend on gold's tables."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
        for role in (BI_READER, BRAND_READER):
            ensure_group(conn, role)
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


# -- logins -------------------------------------------------------------------------------------
def _check_name(conn: psycopg.Connection, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AccessError(
            f"a login name is 1 to 63 lowercase letters, digits and underscores, "
            f"not starting with a digit: {name!r}"
        )
    # public and none are reserved by PostgreSQL, pg_* by its predefined roles.
    if name in ("public", "none") or name.startswith("pg_"):
        raise AccessError(f"{name!r} is reserved by PostgreSQL")
    if name in _PROJECT_ROLES or name == conn.info.user:
        raise AccessError(f"{name!r} is one of the project's own roles")


def _existing(conn: psycopg.Connection, name: str) -> tuple[bool, ...] | None:
    """(can log in, privileged, member of bi_reader, member of brand_reader, member of the
    pipeline's role), or None when no such role exists."""
    row = conn.execute(
        "select rolcanlogin, rolsuper or rolcreaterole or rolcreatedb or rolreplication "
        "or rolbypassrls, pg_has_role(oid, %s, 'member'), pg_has_role(oid, %s, 'member'), "
        "pg_has_role(oid, current_user, 'member') from pg_roles where rolname = %s",
        [BI_READER, BRAND_READER, name],
    ).fetchone()
    return None if row is None else tuple(bool(v) for v in row)


def _check_existing(
    conn: psycopg.Connection, name: str, group: str, password: str | None, reset_password: bool
) -> bool:
    """Refuse what would widen, narrow or take over an existing role. True when it exists."""
    existing = _existing(conn, name)
    if existing is None:
        return False
    can_login, privileged, in_bi, in_brand, owner_member = existing
    if privileged:
        raise AccessError(f"{name} is a privileged role (superuser, createrole, bypassrls...)")
    if owner_member:
        # it would own gold's tables: row-level security does not apply to their owner
        raise AccessError(f"{name} is a member of the pipeline's role, which owns gold")
    if not can_login:
        raise AccessError(f"{name} is an existing role that cannot log in")
    if group == BI_READER and (in_brand or _scope(conn, name)):
        raise AccessError(
            f"{name} is a brand reader: it cannot be made a reader of all of gold; use another name"
        )
    if group == BRAND_READER and in_bi:
        raise AccessError(
            f"{name} reads all of gold (bi_reader): it cannot be a brand reader; use another name"
        )
    if password is not None and not reset_password:
        raise AccessError(
            f"{name} exists: its password is kept unless you ask for --reset-password"
        )
    return True


def _scope(conn: psycopg.Connection, name: str) -> tuple[str, ...]:
    rows = conn.execute(
        "select brand_id from security.brand_scopes where role_name = %s order by brand_id",
        [name],
    ).fetchall()
    return tuple(r[0] for r in rows)


def _set_password(conn: psycopg.Connection, name: str, password: str, *, create: bool) -> None:
    # The server gets libpq's SCRAM verifier, never the password itself: a failing statement
    # is echoed in error messages and in the server log.
    verifier = conn.pgconn.encrypt_password(
        password.encode(), name.encode(), b"scram-sha-256"
    ).decode()
    statement = "create role {} with login password {}" if create else "alter role {} password {}"
    conn.execute(sql.SQL(statement).format(sql.Identifier(name), sql.Literal(verifier)))


def _login(
    conn: psycopg.Connection,
    name: str,
    group: str,
    password: str | None,
    reset_password: bool,
    brands: tuple[str, ...] = (),
) -> Login:
    _check_name(conn, name)
    ensure_access(conn)
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
            exists = _check_existing(conn, name, group, password, reset_password)
            new_password = None
            if not exists or reset_password:
                new_password = password or secrets.token_urlsafe(18)
                _set_password(conn, name, new_password, create=not exists)
            conn.execute(
                sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(name))
            )
            for brand in brands:
                conn.execute(
                    "insert into security.brand_scopes (role_name, brand_id) "
                    "values (%s, %s) on conflict do nothing",
                    [name, brand],
                )
            scope = _scope(conn, name) if group == BRAND_READER else ()
    except psycopg.Error as exc:
        # The primary message only: no statement text, no context lines.
        raise AccessError(f"{name}: {exc.diag.message_primary or type(exc).__name__}") from None
    return Login(name=name, created=not exists, password=new_password, brands=scope)


def grant_reader(
    conn: psycopg.Connection,
    name: str,
    password: str | None = None,
    *,
    reset_password: bool = False,
) -> Login:
    """A login that reads all of gold. A new login gets `password` or a generated one; an
    existing one keeps its password unless `reset_password`. A brand reader is never widened."""
    return _login(conn, name, BI_READER, password, reset_password)


def grant_brand_reader(
    conn: psycopg.Connection,
    name: str,
    brands: Iterable[str],
    password: str | None = None,
    *,
    reset_password: bool = False,
) -> Login:
    """A login that reads gold rows of `brands` only; granting an existing brand reader more
    brands adds them to its scope. Passwords as for `grant_reader`."""
    brands = tuple(dict.fromkeys(brands))
    if not brands or not all(b.strip() for b in brands):
        raise AccessError("a brand reader needs at least one brand, none of them blank")
    return _login(conn, name, BRAND_READER, password, reset_password, brands)


# -- the catalog --------------------------------------------------------------------------------
def require_superuser(conn: psycopg.Connection) -> None:
    """The catalog belongs to the bootstrap superuser: only a superuser may change its grants."""
    is_super = conn.execute("select rolsuper from pg_roles where rolname = current_user")
    if not is_super.fetchone()[0]:  # type: ignore[index]
        raise AccessError(f"restricting the catalog needs a superuser; {conn.info.user} is not one")


def restrict_catalog(conn: psycopg.Connection) -> None:
    """Hide relation sizes and activity statistics of the connected database from every role
    but the database owner and bi_reader (which must exist: grant a reader first). Needs a
    superuser (the catalog's owner); idempotent.

    Function privileges and pg_class's are per database: run it in the warehouse database.
    """
    require_superuser(conn)
    keepers = sql.SQL(", ").join(sql.Identifier(r) for r in _STAT_KEEPERS)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
        visible = [
            r[0]
            for r in conn.execute(
                "select attname from pg_attribute where attrelid = 'pg_catalog.pg_class'::regclass "
                "and attnum > 0 and not attisdropped and attname <> all(%s) order by attnum",
                [list(_SIZE_COLUMNS)],
            ).fetchall()
        ]
        conn.execute("revoke select on pg_catalog.pg_class from public")
        # every column but the sizes stays public: psql's \d and BI tools' introspection use them
        conn.execute(
            sql.SQL("grant select ({}) on pg_catalog.pg_class to public").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in visible)
            )
        )
        conn.execute(sql.SQL("grant select on pg_catalog.pg_class to {}").format(keepers))
        # Only functions PUBLIC may still execute: never hand out one PostgreSQL keeps for
        # superusers (pg_stat_reset and the like do not match anyway).
        functions = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p "
            "where p.pronamespace = 'pg_catalog'::regnamespace and p.proname ~ %s "
            "and has_function_privilege('public', p.oid, 'execute')",
            [_STAT_FUNCTIONS],
        ).fetchall()
        for (function,) in functions:
            signature = sql.SQL(function)  # regprocedure's output, quoted by the server
            conn.execute(sql.SQL("revoke execute on function {} from public").format(signature))
            conn.execute(sql.SQL("grant execute on function {} to {}").format(signature, keepers))


def restrict_connections(conn: psycopg.Connection) -> None:
    """Readers may connect to no database of the embedded server but the warehouse: revoke
    PUBLIC's CONNECT on `postgres` and `template1`, where the size functions (per database) are
    not restricted and pg_database_size('warehouse') would answer. Databases someone else made
    are left alone. For the embedded server, which the project owns; needs a superuser."""
    for database in ("postgres", "template1"):
        conn.execute(
            sql.SQL("revoke connect on database {} from public").format(sql.Identifier(database))
        )


# -- roles of services that read on behalf of a client (the analytics API) ----------------------
def ensure_scoped_role(
    conn: psycopg.Connection, role: str, brands: Iterable[str] | None, *, group: str
) -> None:
    """A NOLOGIN role that reads what a reader of `brands` reads (None: all of gold, as
    bi_reader), and that the connected role may `set role` to. Its scope goes in
    security.brand_scopes, the table gold's policies read, so row-level security filters it
    exactly like a brand reader's login. `group` is a further group role it joins (the
    service's own grants). Inside the caller's transaction; the role must not exist."""
    _check_name(conn, role)
    if _existing(conn, role) is not None:
        raise AccessError(f"{role} exists already")
    reader = BI_READER if brands is None else BRAND_READER
    scope = () if brands is None else tuple(dict.fromkeys(brands))
    if brands is not None and (not scope or not all(b.strip() for b in scope)):
        raise AccessError("a brand-scoped role needs at least one brand, none of them blank")
    name = sql.Identifier(role)
    conn.execute(sql.SQL("create role {} nologin").format(name))
    conn.execute(
        sql.SQL("grant {}, {} to {}").format(sql.Identifier(reader), sql.Identifier(group), name)
    )
    # The service switches to the role per request; it must not inherit the role's rights.
    conn.execute(
        sql.SQL("grant {} to {} with inherit false, set true").format(
            name, sql.Identifier(conn.info.user)
        )
    )
    for brand in scope:
        conn.execute(
            "insert into security.brand_scopes (role_name, brand_id) values (%s, %s)",
            [role, brand],
        )


def drop_scoped_role(conn: psycopg.Connection, role: str) -> None:
    """Remove a role made by `ensure_scoped_role` and its scope (inside the caller's
    transaction); a missing role is not an error."""
    conn.execute("delete from security.brand_scopes where role_name = %s", [role])
    if _existing(conn, role) is not None:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
