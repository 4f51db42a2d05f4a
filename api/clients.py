"""API clients: `dwh api-client create|list|revoke`, and the lookup every request makes.

A client is a name, a public client id, a secret (shown once, stored hashed) and a scope: some
brands, or all of them. Its database role (warehouse.access.ensure_scoped_role) carries the
scope into row-level security; revoking drops the role and marks the client revoked, which
every request checks, so a revoked client's tokens stop working at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from api.schema import API_CLIENT_GROUP, CLIENTS, ensure_api_schema
from api.tokens import hash_secret, new_secret
from warehouse.access import AccessError, drop_scoped_role, ensure_scoped_role

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class ClientError(RuntimeError):
    pass


def role_name(client_id: str) -> str:
    """A client's database role: named after its id (the API derives it from the token)."""
    return f"api_client_{client_id}"


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    role_name: str
    brands: tuple[str, ...] | None  # None: every brand
    status: str = "active"
    created_at: datetime | None = None

    def allows(self, brand: str) -> bool:
        return self.brands is None or brand in self.brands


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  # shown once


def create_client(conn: psycopg.Connection, name: str, brands: Sequence[str] | None) -> NewClient:
    """A new client for `brands` (None: all brands). Names are unique, also after revocation
    (the access audit names clients by id, and a name should mean one client)."""
    if not _NAME.fullmatch(name):
        raise ClientError(
            f"a client name is 1 to 63 letters, digits, '_', '.' or '-', not starting with "
            f"a punctuation mark: {name!r}"
        )
    ensure_api_schema(conn)
    client_id = secrets.token_hex(8)
    role = role_name(client_id)
    secret = new_secret()
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
            if conn.execute(f"select 1 from {CLIENTS} where name = %s", [name]).fetchone():
                raise ClientError(f"a client named {name} exists (names are never reused)")
            ensure_scoped_role(conn, role, brands, group=API_CLIENT_GROUP)
            conn.execute(
                f"insert into {CLIENTS} (client_id, name, role_name, secret_hash, all_brands, "
                "brands) values (%s, %s, %s, %s, %s, %s)",
                [client_id, name, role, hash_secret(secret), brands is None, list(brands or [])],
            )
    except AccessError as exc:
        raise ClientError(str(exc)) from None
    scope = None if brands is None else tuple(dict.fromkeys(brands))
    return NewClient(Client(client_id, name, role, scope), secret)


def list_clients(conn: psycopg.Connection) -> list[Client]:
    ensure_api_schema(conn)
    rows = conn.execute(
        f"select client_id, name, role_name, all_brands, brands, status, created_at "
        f"from {CLIENTS} order by created_at, name"
    ).fetchall()
    return [
        Client(cid, name, role, None if every else tuple(brands), status, created)
        for cid, name, role, every, brands, status, created in rows
    ]


def revoke_client(conn: psycopg.Connection, name: str) -> Client:
    ensure_api_schema(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('dwh.access'))")
        row = conn.execute(
            f"update {CLIENTS} set status = 'revoked', revoked_at = now() "
            "where name = %s and status = 'active' returning client_id, role_name, all_brands, "
            "brands",
            [name],
        ).fetchone()
        if row is None:
            raise ClientError(f"no active client named {name}")
        client_id, role, every, brands = row
        drop_scoped_role(conn, role)
    return Client(client_id, name, role, None if every else tuple(brands), "revoked")


def client_secret_hash(conn: psycopg.Connection, client_id: str) -> str | None:
    row = conn.execute(
        f"select secret_hash from {CLIENTS} where client_id = %s and status = 'active'",
        [client_id],
    ).fetchone()
    return None if row is None else str(row[0])


def active_client(conn: psycopg.Connection, client_id: str) -> Client | None:
    row = conn.execute(
        f"select name, role_name, all_brands, brands from {CLIENTS} "
        "where client_id = %s and status = 'active'",
        [client_id],
    ).fetchone()
    if row is None:
        return None
    name, role, every, brands = row
    return Client(client_id, name, role, None if every else tuple(brands))
