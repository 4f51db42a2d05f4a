"""Gold as a BI tool finds it: primary keys from each mart's grain, the dashboard's index in
the plans, statistics fresh after every publication, and the dbt descriptions as comments.

The warehouse job runs twice on one small generated data set: the first publication creates
every gold table, the second (after one more landed bet) refills them in place. Every
property is asserted after each of the two.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import pytest

from dwh.bench import DASHBOARD_QUERIES, DASHBOARD_TARGET_QUERY
from dwh.runner import run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from tests.events import event, query, write_events
from tests.test_access_publish import login_url
from warehouse.access import grant_reader

# The grains as the marts' YAML states them (dbt_project/models/gold/*/_*.yml), in key order.
HAND_STATED_GRAINS = {
    "fct_bets_rollup": (
        "granularity",
        "bucket_start",
        "brand_id",
        "region",
        "provider_id",
        "game_id",
        "currency",
    ),
    "fct_retention": ("cohort_type", "cohort_date", "brand_id", "day_offset"),
    "fct_points_user_task": ("brand_id", "game_id", "task_id", "player_id"),
    "fct_affinity_ledger": ("event_id",),  # a one-column `unique` test
    "fct_revenue_daily": ("day", "brand_id", "region", "currency"),
    "fct_bets_rollup_brand": ("granularity", "bucket_start", "brand_id", "currency"),
}
GOLD_TABLES = 17
DASHBOARD_INDEX = "fct_bets_rollup_by_granularity_brand_id_bucket_start"
BRAND_DASHBOARD_INDEX = "fct_bets_rollup_brand_by_granularity_brand_id_bucket_start"
SERIES_QUERY = DASHBOARD_QUERIES[DASHBOARD_TARGET_QUERY]  # the one with a latency target
# fct_bets_rollup.brand_id: '{{ doc("brand_id") }} Of the bet's bet.settled event.' folded by
# YAML (`>`), with the docs block of models/_docs.md stripped by dbt; dbt renders the whole
# description with Jinja, which drops the folded text's one trailing newline.
BRAND_ID_COMMENT = (
    "The brand: the envelope's `tenant_id`, renamed. Every figure is per brand, and the ids of\n"
    "players, sessions and devices are scoped by it (the same `player_id` in two brands is two\n"
    "players). Of the bet's bet.settled event."
)


@dataclass(frozen=True)
class GoldFacts:
    """What a BI tool sees of gold after one publication."""

    keys: dict[str, tuple[str, ...]]  # table -> its primary key's columns, in order
    indexes: dict[str, set[str]]  # table -> its index names
    table_comments: dict[str, str | None]
    column_comments: dict[tuple[str, str], str | None]
    analyze_counts: dict[str, int]
    reltuples: dict[str, float]
    row_counts: dict[str, int]
    secured: dict[str, tuple[bool, bool, bool]]  # rls, bi_reader select, brand_reader select
    pages: dict[str, tuple[int, int]]  # table -> (relpages, relallvisible), as VACUUM left them


def gold_facts(url: str) -> GoldFacts:
    tables = [t for (t,) in query(url, "select tablename from pg_tables where schemaname = 'gold'")]
    keys = query(
        url,
        "select c.relname, array(select a.attname from unnest(i.indkey) with ordinality "
        "k(attnum, n) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum "
        "order by k.n) from pg_index i join pg_class c on c.oid = i.indrelid "
        "join pg_namespace s on s.oid = c.relnamespace "
        "where s.nspname = 'gold' and i.indisprimary",
    )
    indexes: dict[str, set[str]] = {t: set() for t in tables}
    for table, index in query(
        url, "select tablename, indexname from pg_indexes where schemaname = 'gold'"
    ):
        indexes[table].add(index)
    with psycopg.connect(url) as conn:
        # a new snapshot of the cumulative statistics, not the one of an earlier read
        conn.execute("select pg_stat_clear_snapshot()")
        stats = conn.execute(
            "select relname, analyze_count from pg_stat_user_tables where schemaname = 'gold'"
        ).fetchall()
        counts = {
            t: conn.execute(f"select count(*) from gold.{t}").fetchone()[0]  # type: ignore[index]
            for t in tables
        }
    return GoldFacts(
        keys={t: tuple(cols) for t, cols in keys},
        indexes=indexes,
        table_comments=dict(
            query(
                url,
                "select c.relname, obj_description(c.oid, 'pg_class') from pg_class c "
                "join pg_namespace s on s.oid = c.relnamespace "
                "where s.nspname = 'gold' and c.relkind = 'r'",
            )
        ),
        column_comments={
            (t, c): text
            for t, c, text in query(
                url,
                "select c.relname, a.attname, col_description(c.oid, a.attnum) from pg_class c "
                "join pg_namespace s on s.oid = c.relnamespace join pg_attribute a "
                "on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
                "where s.nspname = 'gold' and c.relkind = 'r'",
            )
        },
        analyze_counts=dict(stats),
        reltuples=dict(
            query(
                url,
                "select c.relname, c.reltuples from pg_class c join pg_namespace s "
                "on s.oid = c.relnamespace where s.nspname = 'gold' and c.relkind = 'r'",
            )
        ),
        row_counts=counts,
        pages={
            t: (pages, visible)
            for t, pages, visible in query(
                url,
                "select c.relname, c.relpages, c.relallvisible from pg_class c "
                "join pg_namespace s on s.oid = c.relnamespace "
                "where s.nspname = 'gold' and c.relkind = 'r'",
            )
        },
        secured={
            t: (rls, bi, brand)
            for t, rls, bi, brand in query(
                url,
                "select c.relname, c.relrowsecurity, "
                "has_table_privilege('bi_reader', c.oid, 'select'), "
                "has_table_privilege('brand_reader', c.oid, 'select') from pg_class c "
                "join pg_namespace s on s.oid = c.relnamespace "
                "where s.nspname = 'gold' and c.relkind = 'r'",
            )
        },
    )


@dataclass(frozen=True)
class Publications:
    url: str
    first: GoldFacts
    second: GoldFacts


@pytest.fixture(scope="module")
def published(
    module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Publications]:
    home = tmp_path_factory.mktemp("bi_home")
    landing = home / "landing"
    generate(GeneratorConfig(players=40, days=2, seed=5, start_date=date(2026, 3, 1)), landing)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWH_HOME", str(home))
        patch.setenv("DWH_LANDING_DIR", str(landing))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        report = run_warehouse_job()
        assert report.success, report.failure
        first = gold_facts(module_warehouse_url)
        # one more settled bet, in a brand of its own: new rows in the rollup
        write_events(landing / "hand" / "one.ndjson", [_bet()])
        report = run_warehouse_job()
        assert report.success, report.failure
        yield Publications(module_warehouse_url, first, gold_facts(module_warehouse_url))
    shutil.rmtree(home, ignore_errors=True)


def _bet() -> dict[str, Any]:
    return event(
        "bet.settled",
        "2026-03-02 12:00:00",
        event_id="bi-hand-1",
        brand="brand-bi",
        bet_id="bi-bet",
        game_id="g",
        provider_id="p",
        stake_minor=1000,
        win_minor=250,
        currency="EUR",
        in_bonus=False,
    )


def both(published: Publications) -> list[tuple[str, GoldFacts]]:
    return [("first", published.first), ("second", published.second)]


def test_two_publications_were_made(published: Publications) -> None:
    assert query(published.url, "select status from audit.publications order by 1") == [
        ("published",),
        ("published",),
    ]
    assert len(published.first.row_counts) == GOLD_TABLES
    # the second publication has the hand-landed bet: 4 granularities, one row each
    rollup = "select count(*) from gold.fct_bets_rollup where brand_id = 'brand-bi'"
    assert query(published.url, rollup) == [(4,)]


def test_every_gold_table_has_its_grain_as_primary_key(published: Publications) -> None:
    for label, facts in both(published):
        assert set(facts.keys) == set(facts.row_counts), label  # no table without a key
        for mart, grain in HAND_STATED_GRAINS.items():
            assert facts.keys[mart] == grain, (label, mart)


def test_the_rollups_have_the_dashboard_index_and_the_series_query_uses_it(
    published: Publications,
) -> None:
    for label, facts in both(published):
        assert facts.indexes["fct_bets_rollup"] == {"fct_bets_rollup_pkey", DASHBOARD_INDEX}, label
        assert facts.indexes["fct_bets_rollup_brand"] == {
            "fct_bets_rollup_brand_pkey",
            BRAND_DASHBOARD_INDEX,
        }, label
    with psycopg.connect(published.url) as conn:
        brand, last_day = conn.execute(
            "select min(brand_id), max(day) from gold.fct_revenue_daily"
        ).fetchone()  # type: ignore[misc]
        # The small fixture fits in a few pages, where a sequential scan is cheapest; with it
        # ruled out, the planner still has the primary key to choose, and must prefer this one.
        conn.execute("set enable_seqscan = off")
        plan = conn.execute(
            "explain (format json) " + SERIES_QUERY,
            {"brand": brand, "currency": "EUR", "last_day": last_day},
        ).fetchone()[0]  # type: ignore[index]
    used = _index_names(plan[0]["Plan"])
    assert used == {BRAND_DASHBOARD_INDEX}, plan


def test_every_publication_leaves_gold_all_visible(published: Publications) -> None:
    # The vacuum after each publication marks every page all-visible (pg_class counts them):
    # without it, ANALYZE records 0 of the new pages as all-visible.
    for label, facts in both(published):
        assert set(facts.pages) == set(facts.row_counts), label
        for mart, (pages, visible) in facts.pages.items():
            if facts.row_counts[mart]:
                assert pages >= 1, (label, mart)
            assert visible == pages, (label, mart)


def test_the_series_query_reads_no_heap(published: Publications) -> None:
    with psycopg.connect(published.url) as conn:
        brand, last_day = conn.execute(
            "select 'brand-bi', max(day) from gold.fct_revenue_daily"
        ).fetchone()  # type: ignore[misc]
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_bitmapscan = off")
        plan = conn.execute(
            "explain (analyze, format json) " + SERIES_QUERY,
            {"brand": brand, "currency": "EUR", "last_day": last_day},
        ).fetchone()[0]  # type: ignore[index]
    scans = _scans(plan[0]["Plan"])
    # brand-bi's one bet (in EUR): one 5-minute row, read from the index alone
    assert [(s["Node Type"], s["Actual Rows"], s["Heap Fetches"]) for s in scans] == [
        ("Index Only Scan", 1, 0)
    ], plan


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if "Index Name" in node else []
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def _index_names(node: dict[str, Any]) -> set[str]:
    return {scan["Index Name"] for scan in _scans(node)}


def test_statistics_are_fresh_after_every_publication(published: Publications) -> None:
    first, second = published.first, published.second
    for mart, count in second.row_counts.items():
        assert first.analyze_counts[mart] >= 1, mart
        assert second.analyze_counts[mart] > first.analyze_counts[mart], mart
        # ANALYZE of a table this small samples every row: the estimate is the count
        assert second.reltuples[mart] == count, mart
        assert first.reltuples[mart] == first.row_counts[mart], mart
    assert second.row_counts["fct_bets_rollup"] == first.row_counts["fct_bets_rollup"] + 4
    # the bet is brand-bi's only one: 4 new brand-level rows too
    assert (
        second.row_counts["fct_bets_rollup_brand"] == first.row_counts["fct_bets_rollup_brand"] + 4
    )


def test_every_gold_table_and_column_has_a_readable_comment(published: Publications) -> None:
    for label, facts in both(published):
        assert len(facts.table_comments) == GOLD_TABLES, label
        blank = [t for t, text in facts.table_comments.items() if not (text or "").strip()]
        blank += [c for c, text in facts.column_comments.items() if not (text or "").strip()]
        assert blank == [], label
        raw_jinja = [
            key
            for key, text in [*facts.table_comments.items(), *facts.column_comments.items()]
            if "{{" in (text or "") or "{%" in (text or "")
        ]
        assert raw_jinja == [], label
        assert facts.column_comments[("fct_bets_rollup", "brand_id")] == BRAND_ID_COMMENT
        assert (
            facts.column_comments[("fct_bets_rollup", "granularity")]
            == "Bucket width, one of 1m, 5m, 1h, 1d."
        )
        assert facts.table_comments["fct_bets_rollup"].startswith(  # type: ignore[union-attr]
            'Settled bets in UTC time buckets (docs/metrics.md, "Revenue").'
        )


def test_grants_and_row_level_security_survive_both_publications(
    published: Publications,
) -> None:
    for label, facts in both(published):
        assert set(facts.secured.values()) == {(True, True, True)}, label
        assert len(facts.secured) == GOLD_TABLES, label


def test_a_bi_reader_reads_keys_and_comments_from_the_catalog(published: Publications) -> None:
    """What BI tools read, as a bi_reader: the key from pg_constraint (SQLAlchemy's PostgreSQL
    dialect, which Superset uses; Metabase's JDBC driver reads pg_index), the comments with
    col_description. (information_schema.table_constraints would show a SELECT-only role no
    constraint at all: PostgreSQL lists only tables it may do more than read.)"""
    name = f"bi_tool_{uuid.uuid4().hex[:8]}"  # roles are server-wide: unique per run
    with psycopg.connect(published.url) as conn:
        password = grant_reader(conn, name).password
    assert password is not None
    with psycopg.connect(login_url(published.url, name, password)) as reader:
        key = reader.execute(
            "select a.attname from pg_constraint k cross join unnest(k.conkey) "
            "with ordinality u(attnum, n) join pg_attribute a "
            "on a.attrelid = k.conrelid and a.attnum = u.attnum "
            "where k.conrelid = 'gold.fct_ltv'::regclass and k.contype = 'p' order by u.n"
        ).fetchall()
        comment = reader.execute(
            "select col_description('gold.fct_bets_rollup'::regclass, 2)"
        ).fetchone()
    assert [c for (c,) in key] == ["cohort_type", "cohort_date", "brand_id", "day_offset"]
    assert comment == ("UTC start of the bucket holding the settlement's occurred_at.",)
