"""Code location of the warehouse (workspace.yaml loads this module)."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.assets.landing import land_event_files
from orchestration.assets.publication import build_publication
from orchestration.assets.transform import warehouse_dbt_assets
from orchestration.automation import build_automation
from orchestration.marts import gold_marts
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from warehouse.dbt import dbt_executable

# The manifest is read here, when the code location loads (like @dbt_assets): the gold marts
# it declares are what the candidates' checks and the publication cover.
publication = build_publication(gold_marts())

# Land new files, build every dbt model, seed and test, validate the candidate marts, publish.
warehouse_job = dg.define_asset_job(
    "warehouse",
    selection=dg.AssetSelection.all(),
    description="Land new event files, build bronze, silver and the gold candidates with "
    "their tests, validate the candidates with GX, and publish them to gold.",
    executor_def=dg.in_process_executor,
)


@dg.daily_partitioned_config(start_date="2025-01-01", timezone="UTC")
def _backfill_day(start, _end):  # type: ignore[no-untyped-def]
    day = start.strftime("%Y-%m-%d")
    return {
        "ops": {
            "warehouse_dbt_assets": {
                "config": {"dbt_vars": f'{{"backfill_from": "{day}", "backfill_to": "{day}"}}'}
            }
        }
    }


# Daily partitions of event time: a backfill of a range of days (from the UI's partitions
# tab, or `dwh backfill --from D --to D` as one run) recomputes those days of every
# event-time mart from silver, checks the candidates and publishes. Nothing is landed.
backfill_job = dg.define_asset_job(
    "backfill",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(land_event_files),
    config=_backfill_day,
    description="Recompute days of the event-time marts (one partition = one UTC day), "
    "validate and publish.",
    executor_def=dg.in_process_executor,
)

sensors, schedules = build_automation(warehouse_job)

defs = dg.Definitions(
    assets=[land_event_files, warehouse_dbt_assets, publication.publish_gold],
    asset_checks=[publication.validate_gold_candidates, publication.gold_freshness],
    jobs=[warehouse_job, backfill_job],
    sensors=sensors,
    schedules=schedules,
    resources={
        # The dbt of this environment, whether or not the venv is on PATH.
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(),
    },
)
