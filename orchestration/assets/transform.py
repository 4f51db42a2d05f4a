"""The dbt project as assets: `dbt build` streams models, seeds and tests (as asset checks).

What the build carries from run to run (seeds left as they are, the run's target directory,
indirect selection) is orchestration/dbt_state.py's."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_state import DbtRunState, build_args, dagster_selects_tests
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from orchestration.translator import WarehouseTranslator
from warehouse.database import dbt_env
from warehouse.settings import exported_to_children


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    # passed to dbt --vars as is, e.g. '{"lookback_days": 7}'
    dbt_vars: str = ""
    # more nodes to leave out, a dbt selection (e.g. a model under repair). A blocking test
    # left out this way blocks publication: publish_gold wants every blocking check's result.
    exclude: str = ""


TRANSLATOR = WarehouseTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=TRANSLATOR,
    project=dbt_project,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    state = DbtRunState.load(Path(dbt_project.target_path), Path(dbt_project.manifest_path))
    unchanged: list[str] = []
    if not config.full_refresh:
        with warehouse.connect() as conn:
            unchanged = state.unchanged_seeds(conn)
        if unchanged:
            context.log.info(f"seeds unchanged, not reloaded: {', '.join(unchanged)}")
    args = build_args(
        full_refresh=config.full_refresh,
        dbt_vars=config.dbt_vars,
        exclude=config.exclude.split(),
        unchanged_seeds=unchanged,
        dagster_selects_tests=dagster_selects_tests(context, state.manifest, TRANSLATOR),
    )
    url = warehouse.url()
    # dbt's profile reads the connection from the environment dagster-dbt gives dbt.
    with exported_to_children(dbt_env(url)):
        invocation = dbt.cli(args, context=context, target_path=state.run_target(context.run_id))
    yield from invocation.stream()
    with warehouse.connect() as conn:
        state.record_loaded(conn, invocation.get_artifact("run_results.json"))
