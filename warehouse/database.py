"""The one place that knows the warehouse's connection.

The loader, dbt (through environment variables its profile reads), Dagster resources and GX all
take their connection from `database_url()`: `DWH_DATABASE_URL`, or the server an entry point
registered with `use_server` (the `dwh` command registers the embedded one,
devtools/embedded.py). The core knows no server of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import psycopg

from warehouse.settings import Settings, load_settings

# settings -> the URL of the server to use when DWH_DATABASE_URL is not set (started on
# demand); registered by the entry point that owns the server.
ServerUrl = Callable[[Settings], str]
_server_url: ServerUrl | None = None


def use_server(server_url: ServerUrl | None) -> None:
    """Where the warehouse is when `DWH_DATABASE_URL` is not set (None: nowhere)."""
    global _server_url
    _server_url = server_url


def database_url(settings: Settings | None = None) -> str:
    """The warehouse URL: `DWH_DATABASE_URL`, or the registered server's (started on demand)."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    if _server_url is None:
        raise RuntimeError(
            "DWH_DATABASE_URL is not set and no server is running for this process: "
            "run through `dwh` (which starts the embedded server) or set DWH_DATABASE_URL"
        )
    return _server_url(settings)


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


# -- the run lock -------------------------------------------------------------------------------
# One run of the job at a time per warehouse database: two `dbt build`s at once collide on
# the objects they create ("relation already exists", a duplicate type of a seed) and two
# publications race. A session advisory lock, held by a connection of its own for the whole
# run, serializes `dwh run`, `dwh backfill` and runs launched by the Dagster daemon alike, and
# is released by the server when the holder dies, however it dies.
RUN_LOCK_KEY = 0x64776872756E  # "dwhrun"
_LOCK_POLL_SECONDS = 0.5
_held: dict[str, psycopg.Connection] = {}  # url -> the lock's connection, in this process


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse and the caller chose not to wait."""


def run_lock_holder(conn: psycopg.Connection) -> str | None:
    """Who holds the run lock, in words, or None when nobody does."""
    row = conn.execute(
        "select a.pid, a.application_name, a.backend_start, a.client_addr "
        "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.database = "
        "(select oid from pg_database where datname = current_database()) "
        "and l.classid = (%s >> 32)::oid and l.objid = (%s & 4294967295)::oid "
        "and l.objsubid = 1",
        [RUN_LOCK_KEY, RUN_LOCK_KEY],
    ).fetchone()
    if row is None:
        return None
    pid, name, since, _ = row
    return f"{name or 'a session'} (server pid {pid}, since {since:%Y-%m-%d %H:%M:%S} UTC)"


def holds_run_lock(url: str) -> bool:
    return url in _held


def acquire_run_lock(
    url: str,
    *,
    wait: bool = True,
    holder: str = "dwh run",
    on_wait: Callable[[str], None] | None = None,
) -> bool:
    """Take the run lock of the warehouse at `url` for this process; False if it already
    held it. Waits for the current holder unless `wait` is false (then WarehouseBusy)."""
    if url in _held:
        return False
    conn = connect(url, application_name=holder[:63])
    try:
        if not _try_lock(conn):
            who = run_lock_holder(conn) or "another run"
            if not wait:
                raise WarehouseBusy(f"another run holds the warehouse: {who}")
            if on_wait is not None:
                on_wait(f"another run holds the warehouse: {who}; waiting for it to finish")
            # Polled rather than a blocking pg_advisory_lock: a waiting run then stops at
            # once on Ctrl-C or SIGTERM, with no query to cancel on the server first.
            while not _try_lock(conn):
                time.sleep(_LOCK_POLL_SECONDS)
    except BaseException:
        conn.close()
        raise
    _held[url] = conn
    return True


def _try_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute("select pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()
    return bool(row and row[0])


def release_run_lock(url: str) -> None:
    conn = _held.pop(url, None)
    if conn is None:
        return
    try:
        conn.execute("select pg_advisory_unlock(%s)", [RUN_LOCK_KEY])
    except psycopg.Error:
        pass  # the server is gone, and the lock with the session
    finally:
        conn.close()
