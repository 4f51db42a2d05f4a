"""The dbt project as assets: `dbt build` streams models, seeds and tests (as asset checks)."""


from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from orchestration.translator import WarehouseTranslator


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    # passed to dbt --vars as is, e.g. '{"lookback_days": 7}'
    dbt_vars: str = ""


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=WarehouseTranslator(),
    project=dbt_project,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    warehouse.export_dbt_env()
    # Unit tests check the models' logic, not the data: they run in the test suite (pytest
    # builds with them), not in every production run.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    if config.dbt_vars:
        args += ["--vars", config.dbt_vars]
    yield from dbt.cli(args, context=context).stream()
