"""Publication into gold and who may read what, on a real server with real logins."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.events import query
from warehouse.access import ensure_group, grant_brand_reader, grant_reader
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


def _primary_key(url: str, table: str) -> list[tuple[object, ...]]:
    return query(
        url,
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
        "and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary "
        "order by array_position(i.indkey::int2[], a.attnum)",
        [table],
    )


def test_a_gold_table_published_without_a_key_gets_it_and_keeps_it(published: str) -> None:
    # `published` is what gold looked like before publication set keys: no primary key
    assert _primary_key(published, "gold.fct_demo_players") == []
    keys = {"fct_demo_players": ("player_id", "brand_id")}
    with psycopg.connect(published) as conn:
        publish(conn, MARTS, run_id="run-2", keys=keys)
    assert _primary_key(published, "gold.fct_demo_players") == [("player_id",), ("brand_id",)]
    candidate(published, [("brand-1", 5)], [("brand-1", "p_7"), ("brand-1", "p_8")])
    with psycopg.connect(published) as conn:
        publish(conn, MARTS, run_id="run-3", keys=keys)  # same shape: refilled in place
    assert _primary_key(published, "gold.fct_demo_players") == [("player_id",), ("brand_id",)]
    assert sorted(query(published, "select player_id from gold.fct_demo_players")) == [
        ("p_7",),
        ("p_8",),
    ]
    # the rebuilt table is still secured: a bi_reader reads it, RLS is on
    assert query(
        published,
        "select relrowsecurity, has_table_privilege('bi_reader', oid, 'select') "
        "from pg_class where oid = 'gold.fct_demo_players'::regclass",
    ) == [(True, True)]


def test_a_grain_that_is_not_unique_fails_the_whole_publication(published: str) -> None:
    candidate(published, [("brand-1", 1)], [("brand-1", "p_1"), ("brand-1", "p_1")])
    with psycopg.connect(published) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        publish(conn, MARTS, run_id="run-2", keys={"fct_demo_players": ("brand_id", "player_id")})
    # nothing of the attempt is in gold: the previous publication, rows and shape
    assert sorted(query(published, "select * from gold.fct_demo_revenue")) == [
        ("brand-1", 100),
        ("brand-2", 200),
    ]
    assert _primary_key(published, "gold.fct_demo_players") == []


def test_comments_follow_the_candidates_into_gold(published: str) -> None:
    def comments() -> list[tuple[object, ...]]:
        return query(
            published,
            "select obj_description('gold.fct_demo_revenue'::regclass, 'pg_class'), "
            "col_description('gold.fct_demo_revenue'::regclass, 2)",
        )

    with psycopg.connect(published) as conn:
        conn.execute("comment on table gold_candidate.fct_demo_revenue is 'Revenue, per brand.'")
        conn.execute("comment on column gold_candidate.fct_demo_revenue.ggr_minor is 'GGR.'")
        publish(conn, MARTS, run_id="run-2")  # same shape: refilled in place
    assert comments() == [("Revenue, per brand.", "GGR.")]
    with psycopg.connect(published) as conn:
        conn.execute(
            "comment on column gold_candidate.fct_demo_revenue.ggr_minor is 'Stake - win.'"
        )
        publish(conn, MARTS, run_id="run-3")
    assert comments() == [("Revenue, per brand.", "Stake - win.")]


def test_every_publication_analyzes_what_it_published(published: str) -> None:
    def estimate() -> list[tuple[object, ...]]:
        return query(
            published,
            "select reltuples from pg_class where oid = 'gold.fct_demo_players'::regclass",
        )

    assert estimate() == [(3.0,)]  # the fixture's publication: 3 players
    candidate(published, [], [("brand-1", f"p_{n}") for n in range(7)])
    with psycopg.connect(published) as conn:
        publish(conn, MARTS, run_id="run-2")
    assert estimate() == [(7.0,)]


def test_a_refill_in_place_changes_the_rows_that_differ_and_still_checks_the_grain(
    published: str,
) -> None:
    keys = {"fct_demo_players": ("brand_id", "player_id")}
    with psycopg.connect(published) as conn:
        publish(conn, MARTS, run_id="run-2", keys=keys)  # the key is added: the table is rebuilt
    # p_1 stays, p_2 goes, p_4 comes: the result equals the candidate
    candidate(published, [("brand-1", 1)], [("brand-1", "p_1"), ("brand-2", "p_4")])
    with psycopg.connect(published) as conn:
        publish(conn, MARTS, run_id="run-3", keys=keys)
    assert sorted(query(published, "select * from gold.fct_demo_players")) == [
        ("brand-1", "p_1"),
        ("brand-2", "p_4"),
    ]
    # a candidate with a duplicate of its grain is refused, even for a row gold already has
    candidate(published, [("brand-1", 1)], [("brand-1", "p_1"), ("brand-1", "p_1")])
    with psycopg.connect(published) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        publish(conn, MARTS, run_id="run-4", keys=keys)
    assert query(published, "select count(*) from gold.fct_demo_players") == [(2,)]


def test_a_group_role_another_database_creates_meanwhile_is_not_an_error(databases: Any) -> None:
    # Roles are the server's: a warehouse setting up on another database of the same server
    # may create the group between this one's check and its own `create role`.
    role = f"grp_{uuid.uuid4().hex[:10]}"
    first, second = databases.create(), databases.create()
    errors: list[BaseException] = []

    def set_up_second() -> None:
        try:
            with psycopg.connect(second) as conn:
                ensure_group(conn, role)  # finds no role, then waits on the first's insert
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    with psycopg.connect(first) as conn, psycopg.connect(first, autocommit=True) as watch:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        waiter = threading.Thread(target=set_up_second)
        waiter.start()
        waiting = (
            "select 1 from pg_stat_activity where wait_event_type = 'Lock' "
            "and query like 'create role%%' and query like %s"
        )
        for _ in range(200):
            if watch.execute(waiting, [f"%{role}%"]).fetchone() or not waiter.is_alive():
                break
            time.sleep(0.05)
        assert waiter.is_alive(), f"the second `create role` should wait for the first: {errors}"
    # the first committed here; the second's `create role` fails on the name, which is not
    # an error: the group exists
    waiter.join(30)
    try:
        assert errors == []
        assert query(first, "select count(*) from pg_roles where rolname = %s", [role]) == [(1,)]
    finally:
        with psycopg.connect(first, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def _vacuum_counts(url: str) -> dict[str, int]:
    return dict(
        query(
            url, "select relname, vacuum_count from pg_stat_user_tables where schemaname = 'gold'"
        )
    )


def test_a_publication_vacuums_the_marts_it_changed_and_only_those(warehouse_url: str) -> None:
    keys = {"fct_demo_revenue": ("brand_id",), "fct_demo_players": ("brand_id", "player_id")}
    players = [("brand-1", "p_1"), ("brand-2", "p_2")]
    candidate(warehouse_url, [("brand-1", 100), ("brand-2", 200)], players)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        first = publish(conn, MARTS, run_id="run-1", keys=keys)
    assert first.refills == {"fct_demo_revenue": "copied", "fct_demo_players": "copied"}
    assert _vacuum_counts(warehouse_url) == {"fct_demo_revenue": 1, "fct_demo_players": 1}
    # brand-2's revenue changes (one row out, one in); the players are the same rows
    candidate(warehouse_url, [("brand-1", 100), ("brand-2", 250)], players)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        second = publish(conn, MARTS, run_id="run-2", keys=keys)
    assert second.refills == {"fct_demo_revenue": "compared", "fct_demo_players": "compared"}
    assert second.vacuum_error is None
    assert _vacuum_counts(warehouse_url) == {"fct_demo_revenue": 2, "fct_demo_players": 1}


def _all_visible(url: str) -> dict[str, bool]:
    return dict(
        query(
            url,
            "select c.relname, c.relallvisible = c.relpages from pg_class c "
            "join pg_namespace s on s.oid = c.relnamespace "
            "where s.nspname = 'gold' and c.relkind = 'r'",
        )
    )


def test_a_vacuum_an_open_snapshot_held_back_is_done_by_the_next_publication(
    warehouse_url: str,
) -> None:
    keys = {"fct_demo_revenue": ("brand_id",), "fct_demo_players": ("brand_id", "player_id")}
    candidate(warehouse_url, [("brand-1", 100)], [("brand-1", "p_1")])
    # A reader's snapshot taken before the publication (as an autovacuum's ANALYZE of a big
    # silver table may hold one): the vacuum after the commit cannot mark the new pages.
    with psycopg.connect(warehouse_url) as reader:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.execute("select count(*) from raw.secret")
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            first = publish(conn, MARTS, run_id="run-1", keys=keys)
        assert first.vacuum_error is None
        assert _all_visible(warehouse_url) == {"fct_demo_revenue": False, "fct_demo_players": False}
    # The reader is gone; the same candidates again: nothing to write, but the pages left
    # unmarked are vacuumed now.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        second = publish(conn, MARTS, run_id="run-2", keys=keys)
    assert second.refills == {"fct_demo_revenue": "compared", "fct_demo_players": "compared"}
    assert _all_visible(warehouse_url) == {"fct_demo_revenue": True, "fct_demo_players": True}
    assert _vacuum_counts(warehouse_url) == {"fct_demo_revenue": 2, "fct_demo_players": 2}
    # and once they are all-visible, an unchanged publication leaves them alone
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        publish(conn, MARTS, run_id="run-3", keys=keys)
    assert _vacuum_counts(warehouse_url) == {"fct_demo_revenue": 2, "fct_demo_players": 2}
