"""The dbt project as assets: `dbt build` streams models, seeds and tests (as asset checks)."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource
from orchestration.translator import WarehouseTranslator
from warehouse import seeds


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    # passed to dbt --vars as is, e.g. '{"lookback_days": 7}'
    dbt_vars: str = ""
    # more nodes to leave out, a dbt selection (e.g. a model under repair). A blocking test
    # left out this way blocks publication: publish_gold wants every blocking check's result.
    exclude: str = ""


@contextmanager
def _indirect_selection(mode: str | None) -> Iterator[None]:
    """DBT_INDIRECT_SELECTION for the dbt subprocess started meanwhile.

    The environment, not the --indirect-selection flag: dagster-dbt sets the variable itself
    (to `empty`) when it selects tests one by one, and its value must then win over ours."""
    if mode is None:
        yield
        return
    before = os.environ.get("DBT_INDIRECT_SELECTION")
    os.environ["DBT_INDIRECT_SELECTION"] = mode
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DBT_INDIRECT_SELECTION", None)
        else:
            os.environ["DBT_INDIRECT_SELECTION"] = before


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=WarehouseTranslator(),
    project=dbt_project,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    warehouse.export_dbt_env()
    # Unit tests check the models' logic, not the data: they run in the test suite (pytest
    # builds with them), not in every production run.
    args = ["build", "--exclude-resource-type", "unit_test"]
    manifest = seeds.read_manifest(Path(dbt_project.manifest_path))
    excluded = config.exclude.split()
    if config.full_refresh:
        args.append("--full-refresh")
    else:
        # Seeds loaded from the same files need no reload (warehouse/seeds.py).
        with warehouse.connect() as conn:
            unchanged = seeds.unchanged(conn, manifest)
        if unchanged:
            excluded += unchanged
            context.log.info(f"seeds unchanged, not reloaded: {', '.join(unchanged)}")
    indirect = None
    if excluded:
        args += ["--exclude", " ".join(excluded)]
        # dbt's default (eager) exclusion also drops every test that touches an excluded node:
        # the blocking tests of the affinity marts, which read the affinity seeds, would not
        # run. `buildable` excludes a test only when all its parents are excluded, so a test
        # of a model still runs against the seed table as it is.
        indirect = "buildable"
    if config.dbt_vars:
        args += ["--vars", config.dbt_vars]
    # A target directory of the run's own (runs may overlap), seeded with the partial-parse
    # state of the prepared manifest: dbt then parses only what changed instead of the whole
    # project on every run. dbt checks the state itself and parses fully when it is stale.
    runs = Path(dbt_project.target_path) / "runs"
    target = runs / context.run_id
    target.mkdir(parents=True, exist_ok=True)
    for old in sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[:-20]:
        shutil.rmtree(old, ignore_errors=True)  # keep the artifacts of the last 20 runs
    state = Path(dbt_project.target_path) / "partial_parse.msgpack"
    if state.exists():
        shutil.copy2(state, target / state.name)
    with _indirect_selection(indirect):
        invocation = dbt.cli(args, context=context, target_path=target)
    yield from invocation.stream()
    with warehouse.connect() as conn:
        seeds.record_loaded(conn, manifest, invocation.get_artifact("run_results.json"))
