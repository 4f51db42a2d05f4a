"""Incremental equals full: a generated data set (duplicates, conflicts, late and malformed
lines) landed in several batches, built incrementally after each, gives exactly the gold
tables of a full refresh of the same data, row for row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg

from ingestion.generator import GeneratorConfig, generate
from ingestion.landing import land
from tests.events import build, query, table_snapshot


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

    for batch in batches:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            report = land(conn, batch)
        assert not report.failed
        build(warehouse_url, "--exclude-resource-type", "unit_test")
    tables = gold_tables(warehouse_url)
    assert len(tables) == 16
    incremental = {t: table_snapshot(warehouse_url, f"gold_candidate.{t}") for t in tables}
    assert all(incremental.values()), [t for t, rows in incremental.items() if not rows]

    build(warehouse_url, "--full-refresh", "--exclude-resource-type", "unit_test")
    for table in tables:
        assert table_snapshot(warehouse_url, f"gold_candidate.{table}") == incremental[table], table
