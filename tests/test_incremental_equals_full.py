"""Incremental equals full: a generated data set (duplicates, conflicts, late and malformed
lines) landed in several batches, built incrementally after each, gives exactly the gold
tables of a full refresh of the same data, row for row: in the candidates, and in gold after
a publication per batch that replaces only the days each build changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg

from ingestion.generator import GeneratorConfig, generate
from ingestion.landing import land
from tests.events import build, query, table_snapshot
from warehouse.dbt import prepare_manifest
from warehouse.publish import publish

# The day-keyed incremental marts, which record the days their builds change
# (macros/candidate_changes.sql) and are published day by day.
DAY_SLICED = {
    "fct_bets_rollup",
    "fct_bets_rollup_brand",
    "fct_deposit_funnel_daily",
    "fct_latency_daily",
    "fct_revenue_daily",
}


def gold_tables(url: str) -> list[str]:
    return [
        r[0]
        for r in query(
            url,
            "select table_name from information_schema.tables "
            "where table_schema = 'gold_candidate' order by 1",
        )
    ]


def test_incremental_runs_equal_a_full_refresh_on_every_gold_table(
    warehouse_url: str, tmp_path: Path
) -> None:
    summary = generate(
        GeneratorConfig(
            players=250,
            days=8,
            seed=21,
            start_date=date(2026, 5, 1),
            duplicate_rate=0.03,
            late_rate=0.05,
            conflict_rate=0.01,
        ),
        tmp_path / "events",
    )
    assert summary.duplicates and summary.late and summary.conflicts
    files = sorted(summary.files)  # by day: late events land in later files
    batches = [files[:3], files[3:6], files[6:]]
    assert all(batches)

    # imported here: orchestration.project fixes the dbt target when first imported, which
    # must be after the session's fixtures have chosen it
    from orchestration.marts import gold_grains

    keys = gold_grains(prepare_manifest(warehouse_url))
    refills = []
    for number, batch in enumerate(batches):
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            report = land(conn, batch)
        assert not report.failed
        build(warehouse_url, "--exclude-resource-type", "unit_test")
        tables = gold_tables(warehouse_url)
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            refills.append(publish(conn, tables, run_id=f"batch-{number}", keys=keys).refills)
    assert len(tables) == 17
    # the first publication copies every mart; later ones replace only the changed days of
    # the day-keyed marts (a late event's day among them) and compare the others row by row
    assert set(refills[0].values()) == {"copied"}
    for later in refills[1:]:
        assert {m for m, how in later.items() if how.endswith(" days")} == DAY_SLICED, later
        assert all(later[m] == "compared" for m in tables if m not in DAY_SLICED), later
    incremental = {t: table_snapshot(warehouse_url, f"gold_candidate.{t}") for t in tables}
    assert all(incremental.values()), [t for t, rows in incremental.items() if not rows]
    published = {t: table_snapshot(warehouse_url, f"gold.{t}") for t in tables}

    build(warehouse_url, "--full-refresh", "--exclude-resource-type", "unit_test")
    for table in tables:
        full = table_snapshot(warehouse_url, f"gold_candidate.{table}")
        assert full == incremental[table], table
        assert published[table] == full, table
