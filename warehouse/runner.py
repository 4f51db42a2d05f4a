"""Running the `warehouse` Dagster job in-process (used by `dwh run`, `dwh demo` and tests)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.database import database_url, dbt_env
from warehouse.dbt import prepare_manifest
from warehouse.settings import Settings, load_settings


@dataclass
class StepReport:
    name: str
    seconds: float
    ok: bool
    materializations: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    run_id: str
    success: bool
    steps: list[StepReport]
    failure: str | None = None

    def step(self, name: str) -> StepReport:
        return next(s for s in self.steps if s.name == name)


def dagster_instance(settings: Settings, *, ephemeral: bool = False):  # type: ignore[no-untyped-def]
    """A persistent instance under DWH_HOME/dagster, so `dagster dev` shows the CLI's runs."""
    import dagster as dg

    if ephemeral:
        return dg.DagsterInstance.ephemeral()
    home = Path(os.environ.get("DAGSTER_HOME", settings.home / "dagster"))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Run retries (the schedules and the sensor tag their runs with dagster/max_retries).
        config.write_text("run_retries:\n  enabled: true\n  max_retries: 0\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def run_backfill(
    day_from: str,
    day_to: str,
    *,
    ephemeral_instance: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunReport:
    """Recompute [day_from, day_to] of the event-time marts in one run of the backfill job."""
    vars_ = f'{{"backfill_from": "{day_from}", "backfill_to": "{day_to}"}}'
    return run_warehouse_job(
        dbt_vars=vars_, job_name="backfill", ephemeral_instance=ephemeral_instance, echo=echo
    )


def run_warehouse_job(
    *,
    full_refresh: bool = False,
    landing_dir: Path | None = None,
    dbt_vars: str = "",
    ephemeral_instance: bool = False,
    verbose: bool = False,
    job_name: str = "warehouse",
    op_selection: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunReport:
    settings = load_settings()
    url = database_url(settings)
    os.environ.update(dbt_env(url))
    prepare_manifest(url)
    # Imported only now: @dbt_assets reads the manifest at import time.
    from orchestration.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config: dict[str, Any] = {
        "ops": {
            "warehouse_dbt_assets": {
                "config": {"full_refresh": full_refresh, "dbt_vars": dbt_vars}
            },
        }
    }
    if job_name == "warehouse":
        run_config["ops"]["land_event_files"] = {
            "config": {"landing_dir": str(landing_dir) if landing_dir else None}
        }
    instance = dagster_instance(settings, ephemeral=ephemeral_instance)
    if not verbose:
        # Steps are reported below; Dagster's own DEBUG stream is for `dagster dev`.
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    if op_selection is not None:
        run_config["ops"] = {k: v for k, v in run_config["ops"].items() if k in op_selection}
    result = job.execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, op_selection=op_selection
    )
    report = _report(result, instance)
    if echo is not None:
        for step in report.steps:
            status = "ok" if step.ok else "FAILED"
            checks = (
                f", checks {step.checks_passed} passed / {step.checks_failed} failed"
                if step.checks_passed or step.checks_failed
                else ""
            )
            echo(
                f"  {step.name:<24} {status:<6} {step.seconds:7.1f} s  "
                f"{step.materializations} assets{checks}"
            )
        if report.failure:
            echo(report.failure)
    return report


def _report(result: Any, instance: Any) -> RunReport:
    from dagster import DagsterEventType

    steps: dict[str, StepReport] = {}
    starts: dict[str, float] = {}
    failure = None
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        stamp = entry.timestamp
        key = event.step_key
        if key is None:
            continue
        step = steps.setdefault(key, StepReport(name=key, seconds=0.0, ok=True))
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            starts[key] = stamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step.seconds = stamp - starts.get(key, stamp)
            if kind == DagsterEventType.STEP_FAILURE:
                step.ok = False
                error = event.step_failure_data.error
                failure = f"step {key} failed: {error.message.strip() if error else ''}"
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            step.materializations += 1
            materialization = event.event_specific_data.materialization
            step.metadata.update({k: v.value for k, v in materialization.metadata.items()})
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            if event.event_specific_data.passed:
                step.checks_passed += 1
            else:
                step.checks_failed += 1
    return RunReport(
        run_id=result.run_id, success=result.success, steps=list(steps.values()), failure=failure
    )
