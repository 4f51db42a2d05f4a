"""The `warehouse` Dagster job, in-process, end to end: landing directory -> raw -> dbt -> gold."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingestion.generator import GeneratorConfig, generate
from tests.events import event, query, table_snapshot, write_events
from warehouse.runner import run_warehouse_job


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "landing"
    monkeypatch.setenv("DWH_LANDING_DIR", str(directory))
    return directory


def test_the_job_lands_new_files_and_builds_every_layer(warehouse_url: str,
                                                        landing: Path) -> None:
    summary = generate(GeneratorConfig(players=150, days=3, seed=11,
                                       start_date=date(2026, 3, 1)), landing / "gen")
    write_events(landing / "hand" / "one.ndjson", [
        event("bet.settled", "2026-03-02 12:00:00", event_id="hand-1", brand="brand-9",
              bet_id="hb", game_id="g", provider_id="p", stake_minor=1000, win_minor=250,
              currency="EUR", in_bonus=False),
    ])

    report = run_warehouse_job(ephemeral_instance=True)
    assert report.success, report.failure
    landed = report.step("land_event_files")
    assert landed.metadata["files_landed"] == len(summary.files) + 1
    assert landed.metadata["lines_read"] == summary.lines + 1
    dbt_step = report.step("warehouse_dbt_assets")
    assert dbt_step.checks_passed > 10 and dbt_step.checks_failed == 0

    # accounting: every line read is landed, quarantined or blank
    assert query(warehouse_url, "select sum(lines_read) = sum(events_landed + "
                                "lines_quarantined + blank_lines) from raw.load_batches") == [
        (True,)]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [
        (len(summary.files) + 1,)]
    # the hand-made brand is alone in its row: stake 1000, win 250
    assert query(warehouse_url, "select day::text, stake_minor, win_minor, ggr_minor "
                                "from gold.fct_revenue_daily where brand_id = 'brand-9'") == [
        ("2026-03-02", 1000, 250, 750)]
    assert query(warehouse_url, "select count(*) > 0 from gold.fct_revenue_daily "
                                "where brand_id <> 'brand-9'") == [(True,)]

    # nothing new: the next run lands nothing and changes nothing
    before = table_snapshot(warehouse_url, "gold.fct_revenue_daily")
    again = run_warehouse_job(ephemeral_instance=True)
    assert again.success, again.failure
    assert again.step("land_event_files").metadata["files_landed"] == 0
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == before

    # a full refresh rebuilds the incremental models to the same result
    refreshed = run_warehouse_job(full_refresh=True, ephemeral_instance=True)
    assert refreshed.success, refreshed.failure
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == before


def test_a_corrupt_file_fails_the_run_loudly_but_lands_the_others(warehouse_url: str,
                                                                  landing: Path) -> None:
    write_events(landing / "good.ndjson", [event("craft.complete", "2026-03-01 10:00:00")])
    (landing / "bad.ndjson.gz").write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    report = run_warehouse_job(ephemeral_instance=True)
    assert not report.success
    assert report.failure is not None and "bad.ndjson.gz" in report.failure
    assert query(warehouse_url, "select count(*) from raw.events") == [(1,)]
    assert query(warehouse_url, "select count(*) from raw.load_failures") == [(1,)]
    # the failed file is not retried until it changes; the pipeline goes on
    retry = run_warehouse_job(ephemeral_instance=True)
    assert retry.success, retry.failure
