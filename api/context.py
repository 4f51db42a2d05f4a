"""What every request shares: the connection pool, the signing key, the rate limiter, and
the access-audit writer.

A request reads in one transaction of its own on a pooled connection of the service (the
warehouse URL's role): REPEATABLE READ and READ ONLY, so every statement of the answer sees
one snapshot (the publication id used for cursors included). The set-up checks the client is
still active (revocation takes effect at once), then `set local role` switches to the
client's role; from there on row-level security (gold) and the brand filter of the `api`
views (silver) decide what the queries see. The role ends with the transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from api.clients import Client, role_name
from api.errors import ApiError, forbidden, unauthorized
from api.ratelimit import RateLimiter
from api.schema import ACCESS_LOG, CLIENTS, ensure_api_schema, ensure_api_views, signing_key
from warehouse.audit import PUBLICATIONS
from warehouse.database import connect

log = logging.getLogger("dwh.api")
T = TypeVar("T")
STATEMENT_TIMEOUT_MS = 10_000  # no request holds a connection longer


@dataclass(frozen=True)
class Scoped:
    """A request's transaction, running as its client's role."""

    conn: psycopg.Connection
    client: Client
    publication_id: int  # the latest publication of gold in the transaction's snapshot

    def require_brand(self, brand: str) -> None:
        if not self.client.allows(brand):
            raise forbidden(f"this client may not read brand {brand}")

    def fetch(self, query: str | sql.Composable, params: Any = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]


@dataclass(frozen=True)
class AccessRecord:
    client_id: str | None
    endpoint: str
    method: str
    filters: dict[str, Any]
    status: int
    rows: int | None
    duration_ms: float


class ApiContext:
    def __init__(
        self,
        database_url: str,
        *,
        rate_per_second: float,
        burst: int,
        pool_size: int = 8,
        token_seconds: int = 900,
    ) -> None:
        self.database_url = database_url
        self.limiter = RateLimiter(rate_per_second, burst)
        self.token_seconds = token_seconds
        self.pool_size = pool_size
        self.pool: ConnectionPool | None = None
        self.key = b""
        self._audit: queue.Queue[AccessRecord | None] = queue.Queue()
        self._writer: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------
    def open(self) -> None:
        with connect(self.database_url) as conn:
            ensure_api_schema(conn)
            self.key = signing_key(conn)
        self.pool = ConnectionPool(
            self.database_url,
            min_size=min(2, self.pool_size),
            max_size=self.pool_size,
            kwargs={"autocommit": True, "options": "-c timezone=UTC"},
            timeout=10,
            open=True,
        )
        self._writer = threading.Thread(target=self._write_audit, name="api-audit", daemon=True)
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._audit.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    # -- reading as a client ----------------------------------------------------------------
    @contextmanager
    def owner(self) -> Iterator[psycopg.Connection]:
        """A pooled connection as the service's own role (clients, the token endpoint)."""
        assert self.pool is not None, "the API context is not open"
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def scoped(self, client_id: str) -> Iterator[Scoped]:
        role = role_name(client_id)
        with self.owner() as conn:
            try:
                # One round trip for the whole set-up (a pipeline): the transaction, the
                # client's status and the latest publication (as the service), the switch to
                # the client's role. A revoked client's role is dropped, so `set role` fails
                # for it even before its status is read.
                with conn.pipeline():
                    conn.execute("begin isolation level repeatable read, read only", prepare=False)
                    found = conn.execute(
                        f"select c.name, c.all_brands, c.brands, "
                        f"(select coalesce(max(p.publication_id), 0) from {PUBLICATIONS} p "
                        "where p.status = 'published') "
                        f"from {CLIENTS} c where c.client_id = %s and c.role_name = %s "
                        "and c.status = 'active'",
                        [client_id, role],
                    )
                    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                    conn.execute(f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}")
                row = found.fetchone()
            except psycopg.Error:
                conn.rollback()
                if not self._active(conn, client_id):
                    raise unauthorized("the client is revoked or unknown") from None
                raise
            if row is None:
                conn.rollback()
                raise unauthorized("the client is revoked or unknown")
            name, every, brands, publication_id = row
            client = Client(client_id, name, role, None if every else tuple(brands))
            try:
                yield Scoped(conn, client, int(publication_id))
            except BaseException:
                conn.rollback()
                raise
            conn.execute("commit")

    def _active(self, conn: psycopg.Connection, client_id: str) -> bool:
        found = conn.execute(
            f"select 1 from {CLIENTS} where client_id = %s and status = 'active'", [client_id]
        )
        return found.fetchone() is not None

    def read(self, client_id: str, answer: Callable[[Scoped], T]) -> T:
        """`answer` in the client's transaction. A view of the `api` schema that a full refresh
        of silver dropped is made again, and the answer retried once."""
        try:
            with self.scoped(client_id) as scoped:
                return answer(scoped)
        except psycopg.errors.UndefinedTable:
            with self.owner() as conn:
                ensure_api_views(conn)
        try:
            with self.scoped(client_id) as scoped:
                return answer(scoped)
        except psycopg.errors.UndefinedTable:
            # gold (or silver) is not there: nothing was published yet
            raise ApiError(
                503, "unavailable", "the warehouse has not published what this answer reads yet"
            ) from None

    # -- the access audit -------------------------------------------------------------------
    def record(self, record: AccessRecord) -> None:
        """Queued: a writer thread inserts the rows, so no request waits for the audit."""
        self._audit.put(record)

    def _write_audit(self) -> None:
        done = False
        while not done:
            batch = [self._audit.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._audit.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            records = [r for r in batch if r is not None]
            if records:
                self._insert(records)
            for _ in batch:
                self._audit.task_done()

    def _insert(self, records: list[AccessRecord]) -> None:
        try:
            with self.owner() as conn, conn.transaction():
                # the audit is not worth a disk flush per request on the answer's path
                conn.execute("set local synchronous_commit = off")
                with conn.cursor() as cur:
                    cur.executemany(
                        f"insert into {ACCESS_LOG} (client_id, endpoint, method, filters, "
                        "status, rows, duration_ms) values (%s, %s, %s, %s, %s, %s, %s)",
                        [
                            (
                                r.client_id,
                                r.endpoint,
                                r.method,
                                orjson.dumps(r.filters).decode(),
                                r.status,
                                r.rows,
                                round(r.duration_ms, 3),
                            )
                            for r in records
                        ],
                    )
        except Exception:  # never lose the writer thread; the log says what was lost
            log.exception("could not write %d access audit rows", len(records))

    def flush_audit(self, timeout: float = 10.0) -> None:
        """Wait until every queued audit row is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._audit.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
