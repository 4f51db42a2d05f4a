"""The dbt project as assets: `dbt build` streams models, seeds and tests (as asset checks).

What the build carries from run to run (seeds left as they are, the run's target directory,
indirect selection) is orchestration/dbt_state.py's. Where dbt's lines go is
orchestration/dbt_output.py's."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import dbt_assets

from orchestration.assets.publication import import_validation_in_background
from orchestration.backfill import with_backfill_vars
from orchestration.dbt_cli import WarehouseDbtCliResource
from orchestration.dbt_output import DbtLines, redirected
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
    # dbt's lines, as dbt logs them: to this file when set (`dwh run` writes one per run under
    # DWH_HOME/logs), and to stdout (the step's captured output) unless told not to.
    log_file: str = ""
    log_to_stdout: bool = True


TRANSLATOR = WarehouseTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=TRANSLATOR,
    project=dbt_project,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: WarehouseDbtCliResource,
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
        # a run of partitions of the backfill job: its days become backfill_from / backfill_to
        dbt_vars=with_backfill_vars(config.dbt_vars, context.run.tags),
        exclude=config.exclude.split(),
        unchanged_seeds=unchanged,
        dagster_selects_tests=dagster_selects_tests(context, state.manifest, TRANSLATOR),
    )
    url = warehouse.url()
    # dbt colours its messages whatever its output is: only for a terminal, then.
    colours = config.log_to_stdout and sys.stdout.isatty()
    # dbt's process starts and parses on one core for about 4 s: the other imports GX
    # (3 s off the validation step, measured over three pairs of incremental runs)
    import_validation_in_background()
    # dbt's profile reads the connection from the environment dagster-dbt gives dbt.
    with exported_to_children({**dbt_env(url), "DBT_USE_COLORS": str(colours).lower()}):
        invocation = dbt.cli(args, context=context, target_path=state.run_target(context.run_id))
    if not config.log_file and config.log_to_stdout:
        yield from invocation.stream()
    else:
        log_file = Path(config.log_file) if config.log_file else None
        with DbtLines(log_file, sys.stdout if config.log_to_stdout else None) as lines:
            yield from redirected(invocation.stream(), lines)
    with warehouse.connect() as conn:
        state.record_loaded(conn, invocation.get_artifact("run_results.json"))
