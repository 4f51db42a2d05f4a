"""Sensor and schedules: land files as they appear, and keep the marts fresh."""

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg

from ingestion.landing import unseen_files
from orchestration.noop import assess
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from warehouse.seeds import read_manifest
from warehouse.settings import load_settings

# Runs launched by the schedules and the sensor carry this tag; the instance's run queue (its
# config is written by dwh/runner.py) starts one at a time, so a schedule and the sensor
# firing together queue up instead of colliding. The run lock (warehouse/database.py)
# serializes whatever the queue does not see, such as `dwh run`.
SERIAL_TAG = "dwh/warehouse"

# Transient database errors (a restart, a dropped connection) are retried by the run; a bad
# file or a failed check is not transient and fails the run once (see the assets).
# SERIAL_TAG: only daemon-launched runs carry it: a `dwh run` killed mid-run would otherwise
# stay "started" in the instance and hold the queue's only slot forever. Every run, however
# launched, also takes the warehouse's run lock (orchestration/resources.py).
RUN_RETRY_TAGS = {
    "dagster/max_retries": "2",
    "dagster/retry_strategy": "FROM_FAILURE",
    SERIAL_TAG: "serial",
}


def build_automation(job: Any) -> tuple[list[Any], list[Any]]:
    @dg.sensor(
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts the warehouse job when new files appear in the landing "
        "directory (DWH_HOME/landing or DWH_LANDING_DIR).",
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult | dg.SkipReason:
        directory = load_settings().landing_dir
        with warehouse.connect() as conn:
            files = unseen_files(conn, directory)
        if not files:
            return dg.SkipReason(f"no new files in {directory}")
        # The same set of unseen files asks for one run only, however many ticks see it.
        key = hashlib.sha256("\n".join(sorted(map(str, files))).encode()).hexdigest()[:16]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"landing-{key}",
                    tags={
                        **RUN_RETRY_TAGS,
                        "dwh/trigger": "landing_sensor",
                        "dwh/new_files": str(len(files)),
                    },
                )
            ]
        )

    @dg.schedule(
        name="warehouse_hourly",
        job=job,
        cron_schedule="0 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The incremental warehouse job, hourly: lands what the sensor has not, "
        "and rebuilds what changed; skipped when nothing is new since the last publication.",
    )
    def hourly(
        context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
    ) -> dg.RunRequest | dg.SkipReason:
        # An hour with nothing new costs this query, not a build (orchestration/noop.py).
        with warehouse.connect() as conn:
            verdict = assess(
                conn, load_settings().landing_dir, read_manifest(Path(dbt_project.manifest_path))
            )
        if not verdict.has_work:
            return dg.SkipReason(verdict.reason)
        return dg.RunRequest(tags={**RUN_RETRY_TAGS, "dwh/trigger": "hourly"})

    daily = dg.ScheduleDefinition(
        name="warehouse_daily",
        job=job,
        cron_schedule="30 3 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags={**RUN_RETRY_TAGS, "dwh/trigger": "daily"},
        run_config={
            "ops": {
                "warehouse_dbt_assets": {
                    "config": {
                        # Daily sweep: recompute the event-time marts over the last
                        # lookback days, which also refreshes anything a partial run may
                        # have left behind.
                        "dbt_vars": '{"recompute_recent_days": 3}'
                    }
                }
            }
        },
        description="Daily: the warehouse job with the event-time marts recomputed over the "
        "last lookback days.",
    )
    return [landing_sensor], [hourly, daily]
