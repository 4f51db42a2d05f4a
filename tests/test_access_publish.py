"""Publication into gold and who may read what, on a real server with real logins."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.events import query
from warehouse.access import grant_brand_reader, grant_reader
from warehouse.publish import publish, record_blocked


def login_url(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def candidate(url: str, revenue: list[tuple[str, int]], players: list[tuple[str, str]]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists gold_candidate")
        conn.execute(
            "drop table if exists gold_candidate.fct_demo_revenue, gold_candidate.fct_demo_players"
        )
        conn.execute(
            "create table gold_candidate.fct_demo_revenue "
            "(brand_id text not null, ggr_minor bigint)"
        )
        conn.execute(
            "create table gold_candidate.fct_demo_players (brand_id text not null, player_id text)"
        )
        conn.cursor().executemany(
            "insert into gold_candidate.fct_demo_revenue values (%s, %s)", revenue
        )
        conn.cursor().executemany(
            "insert into gold_candidate.fct_demo_players values (%s, %s)", players
        )
        for schema in ("raw", "silver"):
            conn.execute(f"create schema if not exists {schema}")
            conn.execute(f"create table if not exists {schema}.secret (x int)")


MARTS = ["fct_demo_revenue", "fct_demo_players"]


@pytest.fixture
def published(warehouse_url: str) -> str:
    candidate(
        warehouse_url,
        [("brand-1", 100), ("brand-2", 200)],
        [("brand-1", "p_1"), ("brand-2", "p_2"), ("brand-2", "p_3")],
    )
    with psycopg.connect(warehouse_url) as conn:
        publish(conn, MARTS, run_id="run-1", check_results={"fct_demo_revenue": {"ok": True}})
    return warehouse_url


def test_publication_copies_every_mart_and_records_it(published: str) -> None:
    assert sorted(query(published, "select * from gold.fct_demo_revenue")) == [
        ("brand-1", 100),
        ("brand-2", 200),
    ]
    assert query(published, "select run_id, status, marts, row_counts from audit.publications") == [
        ("run-1", "published", MARTS, {"fct_demo_revenue": 2, "fct_demo_players": 3})
    ]


def test_bi_reader_reads_gold_and_nothing_else(published: str) -> None:
    name = f"bi_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(published) as conn:
        password = grant_reader(conn, name).password
    with psycopg.connect(login_url(published, name, password), autocommit=True) as reader:
        assert reader.execute("select count(*) from gold.fct_demo_players").fetchone() == (3,)
        for relation in (
            "raw.secret",
            "silver.secret",
            "audit.publications",
            "gold_candidate.fct_demo_revenue",
            "security.brand_scopes",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(f"select * from {relation}")


def test_a_brand_reader_sees_no_row_of_another_brand_in_any_gold_table(published: str) -> None:
    name = f"brand1_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(published) as conn:
        password = grant_brand_reader(conn, name, ["brand-1"]).password
    with psycopg.connect(login_url(published, name, password), autocommit=True) as reader:
        for mart in MARTS:
            brands = reader.execute(f"select distinct brand_id from gold.{mart}").fetchall()
            assert brands == [("brand-1",)], mart
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("select * from raw.secret")


def test_audit_rows_cannot_be_changed_by_readers_nor_by_granted_roles(published: str) -> None:
    name = f"bi_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(published) as conn:
        password = grant_reader(conn, name).password
    with psycopg.connect(login_url(published, name, password), autocommit=True) as reader:
        for statement in (
            "update audit.publications set status = 'blocked'",
            "delete from audit.publications",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    # even a role later granted update/delete is refused by the append-only trigger
    with psycopg.connect(published) as conn:
        conn.execute(f"grant usage on schema audit to {name}")
        conn.execute(f"grant select, update, delete on audit.publications to {name}")
    with (
        psycopg.connect(login_url(published, name, password), autocommit=True) as reader,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        reader.execute("delete from audit.publications")
    assert query(published, "select count(*) from audit.publications") == [(1,)]


def test_a_blocked_attempt_leaves_gold_byte_identical_and_is_recorded(published: str) -> None:
    def fingerprint() -> list[tuple[object, ...]]:
        return query(
            published,
            "select md5(string_agg(t::text, '|' order by t::text)) from gold.fct_demo_revenue t",
        )

    before = fingerprint()
    candidate(published, [("brand-1", -999)], [])  # a corrupted candidate
    with psycopg.connect(published) as conn:
        record_blocked(
            conn,
            MARTS,
            run_id="run-2",
            check_results={"fct_demo_revenue": {"success": False}},
            message="fct_demo_revenue: ggr_minor = stake - win failed",
        )
    assert fingerprint() == before
    assert query(
        published, "select run_id, status, message from audit.publications order by publication_id"
    ) == [
        ("run-1", "published", None),
        ("run-2", "blocked", "fct_demo_revenue: ggr_minor = stake - win failed"),
    ]


def test_readers_see_a_whole_publication_or_the_previous_one(published: str) -> None:
    name = f"bi_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(published) as conn:
        password = grant_reader(conn, name).password
    with psycopg.connect(login_url(published, name, password)) as reader:
        reader.execute("set transaction isolation level repeatable read")
        first = reader.execute("select sum(ggr_minor) from gold.fct_demo_revenue").fetchone()
        candidate(published, [("brand-1", 1), ("brand-2", 2)], [("brand-1", "p_9")])
        with psycopg.connect(published) as conn:
            publish(conn, MARTS, run_id="run-3")
        # the open transaction still sees the previous publication in every table
        assert (
            reader.execute("select sum(ggr_minor) from gold.fct_demo_revenue").fetchone()
            == first
            == (300,)
        )
        assert reader.execute("select count(*) from gold.fct_demo_players").fetchone() == (3,)
        reader.commit()
        assert reader.execute("select sum(ggr_minor) from gold.fct_demo_revenue").fetchone() == (3,)
        assert reader.execute("select count(*) from gold.fct_demo_players").fetchone() == (1,)


def test_cli_creates_a_brand_reader_that_can_log_in(published: str) -> None:
    import os
    import subprocess
    import sys

    name = f"cli_{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [sys.executable, "-m", "dwh.cli", "grant-brand-reader", name, "brand-2"],
        text=True,
        capture_output=True,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{name} may read gold rows of brand-2" in proc.stdout
    password = proc.stdout.split("password: ", 1)[1].strip()
    with psycopg.connect(login_url(published, name, password)) as reader:
        rows = reader.execute(
            "select brand_id, player_id from gold.fct_demo_players order by 2"
        ).fetchall()
    assert rows == [("brand-2", "p_2"), ("brand-2", "p_3")]
