"""Code location of the warehouse (workspace.yaml loads this module)."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.assets.landing import land_event_files
from orchestration.assets.transform import warehouse_dbt_assets
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from warehouse.dbt import dbt_executable

# Land new files, then build every dbt model, seed and test.
warehouse_job = dg.define_asset_job(
    "warehouse",
    selection=dg.AssetSelection.all(),
    description="Land new event files, then build bronze, silver and gold with their tests.",
    executor_def=dg.in_process_executor,
)

defs = dg.Definitions(
    assets=[land_event_files, warehouse_dbt_assets],
    jobs=[warehouse_job],
    resources={
        # The dbt of this environment, whether or not the venv is on PATH.
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(database_url=dg.EnvVar("DWH_DATABASE_URL").get_value()),
    },
)
