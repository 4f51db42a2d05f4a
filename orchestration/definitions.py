"""Code location of the warehouse (workspace.yaml loads this module)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.landing import build_landing
from orchestration.assets.publication import build_publication
from orchestration.assets.transform import warehouse_dbt_assets
from orchestration.automation import build_automation
from orchestration.backfill import build_backfilled_days, event_days
from orchestration.dbt_cli import WarehouseDbtCliResource
from orchestration.marts import gold_marts
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from warehouse.dbt import dbt_executable
from warehouse.seeds import read_manifest
from warehouse.settings import load_settings

# The manifest is read here, when the code location loads (like @dbt_assets): the raw sources
# it declares are what landing writes, and the gold marts it declares are what the candidates'
# checks and the publication cover, each gold asset described as its dbt candidate is.
land_event_files = build_landing(read_manifest(dbt_project.manifest_path))
publication = build_publication(
    gold_marts(), {spec.key: spec for spec in warehouse_dbt_assets.specs}
)
backfilled_days = build_backfilled_days(
    event_days(load_settings()), sorted(publication.publish_gold.keys)
)

# Land new files, build every dbt model, seed and test, validate the candidate marts, publish.
# Not the backfilled days: a run of this job has no partition.
warehouse_job = dg.define_asset_job(
    "warehouse",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(backfilled_days),
    description="Land new event files, build bronze, silver and the gold candidates with "
    "their tests, validate the candidates with GX, and publish them to gold.",
    executor_def=dg.in_process_executor,
)

# Daily partitions of event time, from `backfilled_days` (orchestration/backfill.py): a
# backfill of a range of days (from the UI's partitions tab as one run, or `dwh backfill
# --from D --to D`) recomputes those days of every event-time mart from silver, checks the
# candidates and publishes. Nothing is landed.
backfill_job = dg.define_asset_job(
    "backfill",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(land_event_files),
    description="Recompute days of the event-time marts (one partition = one UTC day; a "
    "range is one run), validate and publish.",
    executor_def=dg.in_process_executor,
)

sensors, schedules = build_automation(warehouse_job)

defs = dg.Definitions(
    assets=[land_event_files, warehouse_dbt_assets, publication.publish_gold, backfilled_days],
    asset_checks=[publication.validate_gold_candidates, publication.gold_freshness],
    jobs=[warehouse_job, backfill_job],
    sensors=sensors,
    schedules=schedules,
    resources={
        # The dbt of this environment, whether or not the venv is on PATH.
        "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(),
    },
)
