"""The one place that knows the warehouse's connection.

The loader, dbt (through environment variables its profile reads), Dagster resources and GX all
take their connection from `database_url()`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import psycopg

from warehouse.embedded import EmbeddedPostgres
from warehouse.settings import Settings, load_settings


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or load_settings()
    return EmbeddedPostgres(settings.home)


def database_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The warehouse URL: `DWH_DATABASE_URL`, or the embedded server (started on demand)."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    server = embedded_server(settings)
    if start:
        return server.start().url()
    url = server.url()
    if url is None:
        raise RuntimeError(f"no embedded server under {settings.home}: run `dwh db start`")
    return url


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    """A connection in autocommit mode, in UTC.

    Autocommit matters: every `with conn.transaction()` is then a transaction of its own (one
    per landed file, one per publication), not a savepoint inside a transaction that only
    commits when the connection closes. UTC is set as a connection option for the same
    reason: a `set` statement would open that implicit transaction.
    """
    kwargs.setdefault("autocommit", True)
    kwargs.setdefault("options", "-c timezone=UTC")
    return psycopg.connect(url or database_url(), **kwargs)  # type: ignore[arg-type]


def connection_parts(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        # GX and BI tools need a host and a port; a socket-only URL is a configuration error.
        raise ValueError(f"the database URL needs a host and a port: {redact(url)}")
    return {
        "host": parts.hostname,
        "port": str(parts.port),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or "postgres",
    }


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml."""
    parts = connection_parts(url or database_url())
    return {
        "DWH_PG_HOST": parts["host"],
        "DWH_PG_PORT": parts["port"],
        "DWH_PG_USER": parts["user"],
        "DWH_PG_PASSWORD": parts["password"],
        "DWH_PG_DATABASE": parts["dbname"],
    }


def sqlalchemy_url(url: str | None = None) -> str:
    """The same connection for SQLAlchemy (GX), with the psycopg 3 driver."""
    raw = url or database_url()
    return "postgresql+psycopg://" + raw.split("://", 1)[1]


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
