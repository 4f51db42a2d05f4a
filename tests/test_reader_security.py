"""Reader logins attacked as real logins over TCP, created through the real `dwh` command.

The module runs its own embedded server, as a user's machine does: the pipeline is `dwh_loader`
(CREATEROLE, owner of the database, not a superuser). Two databases on it:
- `warehouse`, the embedded server's own: `dwh grant-*` run without DWH_DATABASE_URL, so the
  command restricts the catalog as it does for every user of the embedded server;
- `own`, reached with DWH_DATABASE_URL as on a user's own server: nothing restricted unless asked.
Gold holds one small table: brand-1 has 10 rows, brand-2 has 90; raw.events has 5000 rows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from devtools.embedded import DATABASE, POSTGRES_BIN_PATH, EmbeddedPostgres, ServerState
from warehouse.publish import publish

DWH = str(Path(sys.executable).parent / "dwh")
OWN = "own"


@dataclass(frozen=True)
class Server:
    home: Path
    state: ServerState

    def loader(self, database: str = DATABASE) -> str:
        return self.state.url(database)

    def admin(self, database: str = DATABASE) -> str:
        return self.state.admin_url(database)

    def login(self, user: str, password: str, database: str = DATABASE) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.state.port}/{database}"

    def log(self) -> str:
        return (self.home / "pgdata" / "server.log").read_text(errors="replace")


def build(url: str) -> None:
    """The smallest warehouse the readers need, built and published by the pipeline's role."""
    with psycopg.connect(url) as conn:
        conn.execute("create schema gold_candidate")
        conn.execute(
            "create table gold_candidate.fct_demo "
            "(brand_id text not null, player_id text not null, ggr_minor bigint not null)"
        )
        conn.execute(
            "insert into gold_candidate.fct_demo "
            "select case when g <= 10 then 'brand-1' else 'brand-2' end, 'p_' || g, g "
            "from generate_series(1, 100) g"
        )
        conn.execute("create schema raw")
        conn.execute(
            "create table raw.events as select g as event_id from generate_series(1, 5000) g"
        )
        conn.commit()
        publish(conn, ["fct_demo"], run_id="run-1")
    with psycopg.connect(url, autocommit=True) as conn:
        # the planner's statistics, as the pipeline's own analyze leaves them after a run
        conn.execute("analyze gold.fct_demo")
        conn.execute("analyze raw.events")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    home = Path(tempfile.mkdtemp(prefix="dwh-readers-"))  # not 0700: see conftest
    embedded = EmbeddedPostgres(home, port=0)
    state = embedded.start()
    try:
        with psycopg.connect(state.admin_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("create database {} owner dwh_loader").format(sql.Identifier(OWN))
            )
        served = Server(home, state)
        build(served.loader())
        build(served.loader(OWN))
        yield served
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


def dwh(server: Server, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line. Without `url`: the embedded server of DWH_HOME, as `make demo`
    leaves it; with `url`: DWH_DATABASE_URL, as on a user's own server."""
    env = {k: v for k, v in os.environ.items() if k != "DWH_DATABASE_URL"}
    env["DWH_HOME"] = str(server.home)
    if url is not None:
        env["DWH_DATABASE_URL"] = url
    return subprocess.run(
        [DWH, *args], text=True, capture_output=True, env=env, check=False, timeout=120
    )


def granted(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"^password: (\S+)$", proc.stdout, re.MULTILINE)
    assert found, proc.stdout
    return found.group(1)


@pytest.fixture(scope="module")
def partner_1(server: Server) -> str:
    """A brand-1 reader of the embedded warehouse: its URL."""
    return server.login(
        "partner_1", granted(dwh(server, "grant-brand-reader", "partner_1", "brand-1"))
    )


@pytest.fixture(scope="module")
def partner_2(server: Server) -> str:
    return server.login(
        "partner_2", granted(dwh(server, "grant-brand-reader", "partner_2", "brand-2"))
    )


def denied(conn: psycopg.Connection, statement: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        conn.execute(statement)
    return str(caught.value)


# -- 1. a brand reader reads its brand and nothing else -----------------------------------------
def test_no_filter_reaches_another_brands_rows(partner_1: str) -> None:
    with psycopg.connect(partner_1, autocommit=True) as reader:
        for statement in (
            "select count(*) from gold.fct_demo",
            "select count(*) from gold.fct_demo where brand_id like '%'",
            "select count(*) from gold.fct_demo where brand_id = 'brand-1' or true",
            "select count(*) from (select distinct player_id from gold.fct_demo) t",
            "with a as (select * from gold.fct_demo) select count(*) from a, a b "
            "where a.player_id = b.player_id",
        ):
            assert reader.execute(statement).fetchone() == (10,), statement
        assert reader.execute(
            "select count(*) from gold.fct_demo where brand_id = 'brand-2'"
        ).fetchone() == (0,)
        assert reader.execute("select sum(ggr_minor) from gold.fct_demo").fetchone() == (55,)


def test_a_leaky_function_sees_only_the_readers_rows(partner_1: str) -> None:
    # The classic attack on row-level security: a cheap function that reports its argument,
    # hoping the planner runs it before the policy. It is not leakproof, so it runs after.
    seen: list[str] = []
    with psycopg.connect(partner_1, autocommit=True) as reader:
        reader.add_notice_handler(lambda diag: seen.append(str(diag.message_primary)))
        reader.execute(
            "create function pg_temp.leak(text) returns boolean language plpgsql cost 0.0000001 "
            "as $$ begin raise notice '%', $1; return true; end $$"
        )
        rows = reader.execute("select count(*) from gold.fct_demo where pg_temp.leak(brand_id)")
        assert rows.fetchone() == (10,)
    assert sorted(set(seen)) == ["brand-1"]
    assert len(seen) == 10


def test_a_brand_reader_cannot_widen_its_own_scope(partner_1: str, partner_2: str) -> None:
    with psycopg.connect(partner_1, autocommit=True) as reader:
        assert reader.execute(
            "select role_name, brand_id from security.brand_scopes"
        ).fetchall() == [("partner_1", "brand-1")]
        denied(reader, "insert into security.brand_scopes values ('partner_1', 'brand-2')")
        denied(reader, "update security.brand_scopes set brand_id = 'brand-2'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            reader.execute("set row_security = off")
            reader.execute("select count(*) from gold.fct_demo")
        denied(reader, "set role partner_2")
        denied(reader, "set role bi_reader")


def test_no_schema_but_gold_is_readable(partner_1: str) -> None:
    with psycopg.connect(partner_1, autocommit=True) as reader:
        for statement in (
            "select * from raw.events limit 1",
            "explain select * from raw.events",
            "select * from audit.publications",
            "select * from gold_candidate.fct_demo",
            "select pg_relation_size('raw.events')",
        ):
            assert "permission denied for schema" in denied(reader, statement), statement


# -- 2. what the catalog shows, embedded server (restricted) -------------------------------------
def test_the_embedded_catalog_hides_every_size_from_a_brand_reader(partner_1: str) -> None:
    with psycopg.connect(partner_1, autocommit=True) as reader:
        for statement in (
            "select reltuples from pg_class where relname = 'events'",
            "select relpages from pg_class where relname = 'events'",
            "select * from pg_class",
            "select relname, n_live_tup from pg_stat_user_tables",
            "select tup_inserted from pg_stat_database",
            "select pg_database_size(current_database())",
            "select pg_current_wal_lsn()",
            "select count(*) from pg_stat_activity",
            "select count(*) from pg_stat_io",
            "select pg_table_size('gold.fct_demo')",
            # by oid, without naming the schema it may not use
            "select pg_relation_size(oid) from pg_class where relname = 'events'",
            "select pg_stat_get_live_tuples(oid) from pg_class where relname = 'events'",
        ):
            assert "permission denied" in denied(reader, statement), statement
        # what psql's \d and BI tools' introspection read stays: names, kinds, columns
        assert reader.execute(
            "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'raw' and c.relname = 'events'"
        ).fetchone() == ("r",)
        assert reader.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'gold' and table_name = 'fct_demo' order by ordinal_position"
        ).fetchall() == [("brand_id",), ("player_id",), ("ggr_minor",)]


def test_psql_describes_gold_but_shows_no_sizes(partner_1: str) -> None:
    def psql(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / "psql"), partner_1, "-X", "-c", command],
            text=True,
            capture_output=True,
            check=False,
            timeout=60,
        )

    described = psql(r"\d gold.fct_demo")
    assert described.returncode == 0, described.stderr
    assert re.search(r"^ brand_id +\| text ", described.stdout, re.MULTILINE)
    listed = psql(r"\dt gold.*")
    assert listed.returncode == 0 and "fct_demo" in listed.stdout
    sized = psql(r"\dt+ gold.*")
    assert "permission denied for function pg_table_size" in sized.stderr


def test_a_brand_reader_can_connect_to_the_warehouse_database_only(
    server: Server, partner_1: str
) -> None:
    user, password = re.match(r"postgresql://(\w+):([^@]+)@", partner_1).groups()  # type: ignore[union-attr]
    for other in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(server.login(user, password, other)).close()


def test_the_pipeline_and_bi_readers_keep_the_statistics(server: Server, partner_1: str) -> None:
    analyst = server.login("analyst_ana", granted(dwh(server, "grant-reader", "analyst_ana")))
    for url in (server.loader(), analyst):
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute(
                "select reltuples from pg_class where oid = 'gold.fct_demo'::regclass"
            ).fetchone() == (100.0,)
            live = conn.execute(
                "select n_live_tup from pg_stat_user_tables "
                "where schemaname = 'gold' and relname = 'fct_demo'"
            )
            assert live.fetchone()[0] > 0  # type: ignore[index]
    with psycopg.connect(server.loader(), autocommit=True) as loader:
        assert loader.execute(
            "select reltuples from pg_class where oid = 'raw.events'::regclass"
        ).fetchone() == (5000.0,)


def test_explain_still_shows_estimates_of_the_whole_table(partner_1: str) -> None:
    # Documented, not closed: the planner estimates from statistics of all brands' rows.
    # 100 rows x 0.5 (the policy's subplan) = 50; brand-2 is 90% of them: 100 x 0.5 x 0.9 = 45.
    def estimate(reader: psycopg.Connection, where: str) -> float:
        plan = reader.execute(f"explain (format json) select * from gold.fct_demo {where}")
        return float(plan.fetchone()[0][0]["Plan"]["Plan Rows"])  # type: ignore[index]

    with psycopg.connect(partner_1, autocommit=True) as reader:
        assert estimate(reader, "") == 50
        assert estimate(reader, "where brand_id = 'brand-2'") == 45
        assert reader.execute("select count(*) from gold.fct_demo").fetchone() == (10,)
        # and EXPLAIN ANALYZE counts the rows the policy removed: the other brands' 90, exactly
        plan = reader.execute("explain (analyze, format json) select * from gold.fct_demo")
        scan = plan.fetchone()[0][0]["Plan"]  # type: ignore[index]
        assert (scan["Actual Rows"], scan["Rows Removed by Filter"]) == (10, 90)
        # pg_stats itself shows nothing of a table under row-level security
        assert reader.execute(
            "select count(*) from pg_stats where schemaname = 'gold'"
        ).fetchone() == (0,)


def test_every_login_name_is_visible_to_every_login(partner_1: str, partner_2: str) -> None:
    # Documented, not closed: PostgreSQL has no privilege on role names; revoking pg_roles
    # would not help, an oid cast names the role too.
    with psycopg.connect(partner_1, autocommit=True) as reader:
        assert reader.execute(
            "select rolname from pg_roles where rolname like 'partner%' order by 1"
        ).fetchall() == [("partner_1",), ("partner_2",)]
        assert reader.execute(
            "select oid::regrole::text from pg_roles where rolname = 'partner_2'"
        ).fetchone() == ("partner_2",)


# -- 3. what the catalog shows on a user's own server ---------------------------------------------
def test_own_server_shows_sizes_until_a_superuser_restricts_the_catalog(server: Server) -> None:
    proc = dwh(server, "grant-brand-reader", "own_partner", "brand-1", url=server.loader(OWN))
    password = granted(proc)
    assert "--restrict-catalog" in proc.stdout
    by_name = "select reltuples from pg_class where relname = 'events'"
    with psycopg.connect(server.login("own_partner", password, OWN), autocommit=True) as reader:
        assert reader.execute(by_name).fetchone() == (5000.0,)
        live = reader.execute("select n_live_tup from pg_stat_user_tables where relname = 'events'")
        assert live.fetchone()[0] > 0  # type: ignore[index]
        # the pipeline's role is no superuser: refused, and no login is created
        refused = dwh(
            server, "grant-reader", "own_analyst", "--restrict-catalog", url=server.loader(OWN)
        )
        assert refused.returncode == 2
        assert "needs a superuser" in refused.stderr
        assert reader.execute(
            "select count(*) from pg_roles where rolname = 'own_analyst'"
        ).fetchone() == (0,)
        restricted = dwh(
            server, "grant-reader", "own_analyst", "--restrict-catalog", url=server.admin(OWN)
        )
        assert restricted.returncode == 0, restricted.stderr
        assert "hidden from readers in this database" in restricted.stdout
        assert "permission denied for table pg_class" in denied(reader, by_name)


# -- 4. grants never widen, never reset silently ------------------------------------------------
def test_a_brand_reader_is_never_widened_to_all_of_gold(server: Server) -> None:
    url = server.loader(OWN)
    password = granted(dwh(server, "grant-brand-reader", "partner_w", "brand-2", url=url))
    proc = dwh(server, "grant-reader", "partner_w", url=url)
    assert proc.returncode == 2
    assert proc.stderr == (
        "dwh: error: partner_w is a brand reader: it cannot be made a reader of all of gold; "
        "use another name\n"
    )
    assert "password" not in proc.stdout
    # the same password still works, and still reads brand-2 only
    with psycopg.connect(server.login("partner_w", password, OWN)) as reader:
        assert reader.execute("select count(*) from gold.fct_demo").fetchone() == (90,)


def test_a_reader_of_all_of_gold_is_never_made_a_brand_reader(server: Server) -> None:
    url = server.loader(OWN)
    password = granted(dwh(server, "grant-reader", "analyst_w", url=url))
    proc = dwh(server, "grant-brand-reader", "analyst_w", "brand-1", url=url)
    assert proc.returncode == 2
    assert "analyst_w reads all of gold (bi_reader): it cannot be a brand reader" in proc.stderr
    with psycopg.connect(server.login("analyst_w", password, OWN)) as reader:
        assert reader.execute("select count(*) from gold.fct_demo").fetchone() == (100,)
        denied(reader, "select count(*) from security.brand_scopes")


def test_granting_again_keeps_the_password_unless_asked(server: Server) -> None:
    url = server.loader(OWN)
    first = granted(dwh(server, "grant-brand-reader", "partner_r", "brand-1", url=url))
    again = dwh(server, "grant-brand-reader", "partner_r", "brand-2", url=url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:2] == [
        "partner_r may read gold rows of brand-1, brand-2",
        "existing login: its password is unchanged (--reset-password sets a new one)",
    ]
    assert "password:" not in again.stdout
    with psycopg.connect(server.login("partner_r", first, OWN)) as reader:
        assert reader.execute("select count(*) from gold.fct_demo").fetchone() == (100,)

    given = dwh(
        server, "grant-brand-reader", "partner_r", "brand-1", "--password", "x" * 20, url=url
    )
    assert given.returncode == 2
    assert "its password is kept unless you ask for --reset-password" in given.stderr
    psycopg.connect(server.login("partner_r", first, OWN)).close()  # still the first one

    reset = dwh(server, "grant-brand-reader", "partner_r", "brand-1", "--reset-password", url=url)
    second = granted(reset)
    assert "existing login: its password was reset" in reset.stdout
    assert second != first
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.login("partner_r", first, OWN)).close()
    psycopg.connect(server.login("partner_r", second, OWN)).close()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("public", "'public' is reserved by PostgreSQL"),
        ("none", "'none' is reserved by PostgreSQL"),
        ("pg_monitor", "'pg_monitor' is reserved by PostgreSQL"),
        ("dwh_loader", "'dwh_loader' is one of the project's own roles"),
        ("brand_reader", "'brand_reader' is one of the project's own roles"),
        ("Partner", "a login name is 1 to 63 lowercase letters"),
        ("p" * 64, "a login name is 1 to 63 lowercase letters"),
    ],
)
def test_names_that_are_not_a_readers_are_refused(server: Server, name: str, message: str) -> None:
    proc = dwh(server, "grant-reader", name, url=server.loader(OWN))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "password" not in proc.stdout + proc.stderr


def test_an_existing_role_is_taken_over_only_if_it_is_a_plain_login(server: Server) -> None:
    with psycopg.connect(server.loader(OWN), autocommit=True) as loader:
        loader.execute("create role ops_admin login createrole")
        loader.execute("create role team_group nologin")
    with psycopg.connect(server.admin(OWN), autocommit=True) as admin:
        admin.execute("create role etl_helper login in role dwh_loader")
    for name, message in (
        ("ops_admin", "ops_admin is a privileged role"),
        ("team_group", "team_group is an existing role that cannot log in"),
        # it would own gold's tables, and row-level security does not apply to an owner
        ("etl_helper", "etl_helper is a member of the pipeline's role, which owns gold"),
    ):
        proc = dwh(server, "grant-brand-reader", name, "brand-1", url=server.loader(OWN))
        assert proc.returncode == 2
        assert message in proc.stderr
    with psycopg.connect(server.loader(OWN), autocommit=True) as loader:
        assert loader.execute(
            "select count(*) from pg_auth_members m join pg_roles r on r.oid = m.member "
            "join pg_roles g on g.oid = m.roleid "
            "where r.rolname in ('ops_admin', 'team_group', 'etl_helper') "
            "and g.rolname in ('bi_reader', 'brand_reader')"
        ).fetchone() == (0,)


# -- 5. no password in any error -----------------------------------------------------------------
def test_an_error_never_shows_the_password(server: Server) -> None:
    secret = "Known-Secret-7f3a9c1e"
    proc = dwh(server, "grant-reader", "public", "--password", secret, url=server.loader(OWN))
    assert proc.returncode == 2
    assert proc.stderr == "dwh: error: 'public' is reserved by PostgreSQL\n"

    # An error raised by the server itself: the loader may not alter a role a superuser made.
    with psycopg.connect(server.admin(OWN), autocommit=True) as admin:
        admin.execute("create role outsider login password 'theirs-0a1b2c3d4e'")
    proc = dwh(
        server,
        "grant-reader",
        "outsider",
        "--reset-password",
        "--password",
        secret,
        url=server.loader(OWN),
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("dwh: error: outsider: permission denied to alter role")
    assert secret not in proc.stdout + proc.stderr
    assert "LINE" not in proc.stderr
    # the server logs the failed statement: with libpq's SCRAM verifier, not the password
    log = server.log()
    assert 'alter role "outsider" password \'SCRAM-SHA-256$4096:' in log
    assert secret not in log
