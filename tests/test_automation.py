"""Sensor, schedules and backfills with real Dagster on a real warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from dwh.runner import run_backfill, run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from orchestration.resources import WarehouseResource
from tests.events import query, table_snapshot
from warehouse.dbt import prepare_manifest


@pytest.fixture
def defs(warehouse_url: str):  # type: ignore[no-untyped-def]
    prepare_manifest(warehouse_url)
    from orchestration.definitions import defs

    return defs


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "landing"
    directory.mkdir()
    monkeypatch.setenv("DWH_LANDING_DIR", str(directory))
    return directory


def test_the_sensor_asks_for_one_run_per_set_of_new_files(defs, landing: Path) -> None:  # type: ignore[no-untyped-def]
    from orchestration.resources import WarehouseResource

    sensor = defs.get_sensor_def("landing_sensor")

    def tick() -> dg.SensorResult | dg.SkipReason:
        # WarehouseResource has a setup and a teardown (the run lock of a run), so its
        # context is opened as a context manager, as the Dagster daemon does
        with dg.build_sensor_context(resources={"warehouse": WarehouseResource()}) as context:
            return sensor(context)

    assert isinstance(tick(), dg.SkipReason)

    generate(GeneratorConfig(players=20, days=2, seed=3), landing)
    first = tick()
    [request] = first.run_requests
    assert request.tags["dwh/warehouse"] == "serial"
    assert request.tags["dwh/new_files"] == str(len(list(landing.glob("*.ndjson.gz"))))
    again = tick()
    assert again.run_requests[0].run_key == request.run_key  # the same files: the same run

    report = run_warehouse_job(ephemeral_instance=True)
    assert report.success, report.failure
    assert isinstance(tick(), dg.SkipReason)


def _tick(resources: dict[str, object] | None = None) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 2, 3, 30, tzinfo=UTC),
        resources={"warehouse": WarehouseResource(), **(resources or {})},
    )


def test_schedules_run_the_job_with_valid_config(defs) -> None:  # type: ignore[no-untyped-def]
    job = defs.resolve_job_def("warehouse")
    hourly = defs.get_schedule_def("warehouse_hourly")
    daily = defs.get_schedule_def("warehouse_daily")
    assert (hourly.cron_schedule, daily.cron_schedule) == ("0 * * * *", "30 3 * * *")
    for schedule in (hourly, daily):
        # nothing was ever published: the hourly run has work (tests/test_noop_run.py has the
        # hour with nothing new)
        with _tick() as tick:
            [request] = schedule.evaluate_tick(tick).run_requests
        assert request.tags["dagster/max_retries"] == "2"
        # the run queue starts one run of this tag at a time (tests/test_faults.py)
        assert request.tags["dwh/warehouse"] == "serial"
        dg.validate_run_config(job, request.run_config)
    with _tick() as tick:
        [daily_request] = daily.evaluate_tick(tick).run_requests
    dbt_vars = daily_request.run_config["ops"]["warehouse_dbt_assets"]["config"]["dbt_vars"]
    assert "recompute_recent_days" in dbt_vars


@pytest.mark.slow  # three runs; tests/test_dagster_definitions.py runs a backfill range by default
def test_a_backfill_recomputes_and_republishes_its_days(
    defs,
    warehouse_url: str,  # type: ignore[no-untyped-def]
    landing: Path,
) -> None:
    generate(GeneratorConfig(players=60, days=4, seed=9, start_date=date(2026, 3, 1)), landing)
    report = run_warehouse_job(ephemeral_instance=True)
    assert report.success, report.failure
    good = table_snapshot(warehouse_url, "gold.fct_revenue_daily")
    day_rows = [r for r in good if str(r[0]) == "2026-03-02"]
    assert day_rows

    # a day lost from the candidate (a bad manual fix, a partial restore): new events never
    # touch it again, so only a backfill brings it back
    query(
        warehouse_url,
        "with gone as (delete from gold_candidate.fct_revenue_daily "
        "where day = '2026-03-02' returning 1) select count(*) from gone",
    )
    run = run_warehouse_job(ephemeral_instance=True, force=True)
    assert run.success, run.failure
    # the plain run recomputes only the days new events changed: the candidate stays without
    # the day, and publication, which replaces only the days builds changed, keeps gold's
    assert [
        r
        for r in table_snapshot(warehouse_url, "gold_candidate.fct_revenue_daily")
        if str(r[0]) == "2026-03-02"
    ] == []
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == good

    backfill = run_backfill("2026-03-02", "2026-03-02", ephemeral_instance=True)
    assert backfill.success, backfill.failure
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == good

    # the same through the partitioned backfill job, one partition = one day
    query(
        warehouse_url,
        "with gone as (delete from gold_candidate.fct_revenue_daily "
        "where day = '2026-03-02' returning 1) select count(*) from gone",
    )
    job = defs.resolve_job_def("backfill")
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
    result = job.execute_in_process(
        partition_key="2026-03-02", instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == good
