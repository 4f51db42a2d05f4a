"""API client roles made by the pipeline's own role on the embedded server, as on a user's
machine: `dwh_loader` (CREATEROLE, owner of the database, not a superuser) creates each
client's role, switches to it per request and is filtered by row-level security like a brand
reader. No dbt: gold holds one published table, brand-1 has 10 rows and brand-2 90.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.clients import create_client, list_clients, revoke_client
from api.context import ApiContext
from api.errors import ApiError
from api.server import start_in_thread
from devtools.embedded import EmbeddedPostgres
from tests.api_fixture import Credentials, call, token_of
from tests.test_reader_security import build


@pytest.fixture(scope="module")
def loader_url() -> Iterator[str]:
    home = Path(tempfile.mkdtemp(prefix="dwh-api-roles-"))  # not 0700: see conftest
    embedded = EmbeddedPostgres(home, port=0)
    state = embedded.start()
    try:
        build(state.url())
        yield state.url()
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


def _counts(ctx: ApiContext, client_id: str) -> list[tuple[str, int]]:
    with ctx.scoped(client_id) as scoped:
        rows = scoped.fetch("select brand_id, count(*) from gold.fct_demo group by 1 order by 1")
    return [(brand, int(n)) for brand, n in rows]


def test_the_loader_is_not_a_superuser(loader_url: str) -> None:
    with psycopg.connect(loader_url) as conn:
        row = conn.execute(
            "select rolsuper, rolcreaterole from pg_roles where rolname = current_user"
        )
        assert row.fetchone() == (False, True)


def test_requests_run_as_the_client_role_under_row_level_security(loader_url: str) -> None:
    with psycopg.connect(loader_url, autocommit=True) as conn:
        one = create_client(conn, "roles-one", ["brand-1"]).client
        every = create_client(conn, "roles-every", None).client
    ctx = ApiContext(loader_url, rate_per_second=10, burst=10, pool_size=2)
    ctx.open()
    try:
        # 10 rows of brand-1 and 90 of brand-2 (tests/test_reader_security.py's build)
        assert _counts(ctx, one.client_id) == [("brand-1", 10)]
        assert _counts(ctx, every.client_id) == [("brand-1", 10), ("brand-2", 90)]
        with ctx.scoped(one.client_id) as scoped:
            assert scoped.fetch("select current_user")[0][0] == one.role_name
            # the transaction is read only: the role cannot widen its scope
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                scoped.fetch("insert into security.brand_scopes values (current_user, 'brand-2')")
        with psycopg.connect(loader_url, autocommit=True) as conn:
            revoke_client(conn, "roles-one")
            assert [c.status for c in list_clients(conn) if c.name == "roles-one"] == ["revoked"]
        with pytest.raises(ApiError) as refused:
            _counts(ctx, one.client_id)
        assert refused.value.status == 401
    finally:
        ctx.close()


def test_over_http_as_the_loader_an_unbuilt_mart_is_503(loader_url: str) -> None:
    with psycopg.connect(loader_url, autocommit=True) as conn:
        creds = create_client(conn, "roles-http", ["brand-1"])
    server = start_in_thread(loader_url)
    try:
        token = token_of(server.url, Credentials(creds.client.client_id, creds.secret))
        # this warehouse has no fct_bets_rollup (nor silver): nothing to answer from yet
        answer = call(
            server.url,
            "GET",
            "/v1/analytics/timeseries",
            token=token,
            params={"metric": "ggr", "granularity": "1d", "from": "2026-03-01", "to": "2026-03-02"},
        )
        assert (answer.status, answer.body["error"]) == (503, "unavailable")
    finally:
        server.stop()
