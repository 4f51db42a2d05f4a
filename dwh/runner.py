"""Running the `warehouse` Dagster job in-process (used by `dwh run`, `dwh demo` and tests)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from dwh.progress import KEEP_LOGS, RunProgress, prune_logs
from warehouse import run_fingerprint, seeds
from warehouse.database import (
    acquire_run_lock,
    connect,
    database_url,
    release_run_lock,
)
from warehouse.dbt import prepare_manifest
from warehouse.settings import Settings, load_settings

if TYPE_CHECKING:
    from orchestration.noop import Verdict

# The instance's run queue starts one run tagged SERIAL_TAG at a time (the schedules and the
# sensor tag theirs, orchestration/automation.py). The run lock (warehouse/database.py)
# serializes whatever the queue does not see, such as `dwh run`, and is the last line of
# defence for the rest.
_FIRST_LINE = "# Written by dwh (dwh/runner.py); delete this line to keep your edits."


def instance_config() -> str:
    """The instance's dagster.yaml. Built when asked: orchestration.automation imports
    Dagster, which costs seconds that a no-op run does not spend."""
    from orchestration.automation import SERIAL_TAG

    return f"""{_FIRST_LINE}
# Run retries (the schedules and the sensor tag their runs with dagster/max_retries).
run_retries:
  enabled: true
  max_retries: 0
# One scheduled or sensor run of the warehouse at a time.
concurrency:
  runs:
    tag_concurrency_limits:
      - key: "{SERIAL_TAG}"
        limit: 1
"""


# what earlier versions wrote, replaced like our own file
_LEGACY_INSTANCE_CONFIG = "run_retries:\n  enabled: true\n  max_retries: 0\n"
_OUR_FIRST_LINES = (
    _FIRST_LINE,
    "# Written by dwh (warehouse/runner.py); delete this line to keep your edits.",
)


@dataclass
class StepReport:
    name: str
    seconds: float
    ok: bool
    materializations: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    started: bool = False

    @property
    def status(self) -> str:
        # A step that never started (its upstream failed) is skipped, not ok.
        if not self.started:
            return "skipped"
        return "ok" if self.ok else "FAILED"


@dataclass
class RunReport:
    run_id: str
    success: bool
    steps: list[StepReport]
    failure: str | None = None
    failed_step: str | None = None
    # set when nothing changed since the last publication and no run was started: why
    noop: str | None = None
    # a plain run that started: what it had to do (a file to land, what changed since the
    # last publication, ...)
    work: str | None = None

    def step(self, name: str) -> StepReport:
        return next(s for s in self.steps if s.name == name)


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, or DWH_HOME/dagster: where `dagster dev` and CLI runs keep their runs."""
    return (settings.dagster_home or settings.home / "dagster").resolve()


def dagster_instance(settings: Settings, *, ephemeral: bool = False):  # type: ignore[no-untyped-def]
    """A persistent instance under DWH_HOME/dagster, so `dagster dev` shows the CLI's runs."""
    import dagster as dg

    if ephemeral:
        return dg.DagsterInstance.ephemeral()
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    ours = current is None or current == _LEGACY_INSTANCE_CONFIG
    ours = ours or current.startswith(_OUR_FIRST_LINES)  # type: ignore[union-attr]
    wanted = instance_config()
    if ours and current != wanted:
        partial = config.with_name(f".dagster.yaml.{os.getpid()}")
        partial.write_text(wanted)
        partial.replace(config)  # a daemon reading it meanwhile sees the old or the new file
    # The instance of that directory, as DagsterInstance.get() would make it from
    # DAGSTER_HOME, without setting the variable for the rest of the process.
    return dg.DagsterInstance.from_config(str(home))


def run_backfill(
    day_from: str,
    day_to: str,
    *,
    ephemeral_instance: bool = False,
    wait: bool = True,
    echo: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> RunReport:
    """Recompute [day_from, day_to] of the event-time marts in one run of the backfill job."""
    vars_ = f'{{"backfill_from": "{day_from}", "backfill_to": "{day_to}"}}'
    return run_warehouse_job(
        dbt_vars=vars_,
        job_name="backfill",
        ephemeral_instance=ephemeral_instance,
        wait=wait,
        echo=echo,
        verbose=verbose,
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
    dbt_exclude: str = "",
    wait: bool = True,
    echo: Callable[[str], None] | None = None,
    url: str | None = None,
    force: bool = False,
) -> RunReport:
    """Run a job of the warehouse in this process, holding the warehouse's run lock from
    before dbt parses to the end (WarehouseBusy when another run holds it and `wait` is
    false). `url`: the warehouse to run on (default: the settings').

    A plain run (the `warehouse` job, nothing asked beyond landing and building) with no new
    file and the fingerprint of the last publication (warehouse/run_fingerprint.py) is a
    no-op: no Dagster run starts, and the report says why (`noop`). `force` runs anyway.

    Output: dbt's lines go to DWH_HOME/logs/dbt-<run id>.log, and to stdout too when
    `verbose` (with Dagster's own log lines); `echo` gets one line per stage as the run goes
    (dwh/progress.py), then one line per step."""
    settings = load_settings()
    url = url or database_url(settings)
    locked = acquire_run_lock(url, wait=wait, holder=f"dwh run (pid {os.getpid()})", on_wait=echo)
    try:
        plain = not (full_refresh or dbt_vars.strip() or dbt_exclude.strip() or op_selection)
        work = None
        if plain and job_name == "warehouse" and not force:
            # Under the run lock: no other run is landing or building meanwhile.
            verdict = assess(url, settings, landing_dir)
            if echo is not None:
                echo(verdict.reason if not verdict.has_work else f"to do: {verdict.reason}")
            if not verdict.has_work:
                return RunReport(run_id="", success=True, steps=[], noop=verdict.reason)
            work = verdict.reason
        report = _run(
            url,
            settings,
            full_refresh=full_refresh,
            landing_dir=landing_dir,
            dbt_vars=dbt_vars,
            dbt_exclude=dbt_exclude,
            ephemeral_instance=ephemeral_instance,
            verbose=verbose,
            job_name=job_name,
            op_selection=op_selection,
            echo=echo,
        )
        report.work = work
        return report
    finally:
        if locked:
            release_run_lock(url)


def _error_text(error: Any) -> str:
    """A step's error with its causes: Dagster wraps the op's exception in a "while executing
    op" error whose own message says nothing of what went wrong."""
    messages = []
    while error is not None and len(messages) < 5:
        messages.append(error.message.strip())
        error = error.cause
    return "\n  caused by: ".join(messages)


def assess(url: str, settings: Settings, landing_dir: Path | None = None) -> Verdict:
    """Whether a plain run has work, and why (orchestration/noop.py)."""
    from orchestration.noop import assess as verdict

    manifest = seeds.read_manifest(prepare_manifest(url))
    with connect(url) as conn:
        return verdict(conn, landing_dir or settings.landing_dir, manifest)


def _run(
    url: str,
    settings: Settings,
    *,
    full_refresh: bool,
    landing_dir: Path | None,
    dbt_vars: str,
    dbt_exclude: str,
    ephemeral_instance: bool,
    verbose: bool,
    job_name: str,
    op_selection: list[str] | None,
    echo: Callable[[str], None] | None,
) -> RunReport:
    manifest_path = prepare_manifest(url)
    # Imported only now: @dbt_assets reads the manifest at import time.
    from orchestration.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config: dict[str, Any] = {
        "ops": {
            "warehouse_dbt_assets": {
                "config": {
                    "full_refresh": full_refresh,
                    "dbt_vars": dbt_vars,
                    "exclude": dbt_exclude,
                }
            },
        },
        # The warehouse this run holds the lock of, whatever the environment says.
        "resources": {"warehouse": {"config": {"database_url": url}}},
    }
    if job_name == "warehouse":
        run_config["ops"]["land_event_files"] = {
            "config": {"landing_dir": str(landing_dir) if landing_dir else None}
        }
    instance = dagster_instance(settings, ephemeral=ephemeral_instance)
    if not verbose:
        # Steps are reported below, with the failure in one line; Dagster's own stream (and
        # its tracebacks) is for `dagster dev`, `--verbose` and the run's logs in the UI.
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    if op_selection is not None:
        run_config["ops"] = {k: v for k, v in run_config["ops"].items() if k in op_selection}
    run_id = str(uuid.uuid4())  # as Dagster makes them; known before the run starts
    dbt_log = settings.home / "logs" / f"dbt-{run_id}.log"
    if "warehouse_dbt_assets" in run_config["ops"]:
        run_config["ops"]["warehouse_dbt_assets"]["config"].update(
            {"log_file": str(dbt_log), "log_to_stdout": verbose}
        )
        prune_logs(dbt_log.parent, KEEP_LOGS - 1)
    if echo is not None:
        # one line per stage while the run goes, from its events as they are stored
        instance.add_event_listener(
            run_id,
            RunProgress(
                echo,
                url=url,
                dbt_log=dbt_log,
                terminal=sys.stdout.isatty(),
                write=_write_in_place,
            ),
        )
    # Only a whole run of the warehouse job builds what it publishes from what it fingerprints;
    # any other run's publication is newer than the last fingerprinted one, so it is never
    # taken for a no-op's reference.
    fingerprinted = job_name == "warehouse" and op_selection is None
    if fingerprinted:
        parts = run_fingerprint.project_parts(
            seeds.read_manifest(manifest_path), dbt_vars=dbt_vars, exclude=dbt_exclude
        )
        with connect(url) as conn:
            run_fingerprint.record_attempt(conn, run_id, run_fingerprint.landed_batch(conn), parts)
    result = job.execute_in_process(
        run_config=run_config,
        instance=instance,
        raise_on_error=False,
        op_selection=op_selection,
        run_id=run_id,
    )
    report = _report(result, instance)
    if fingerprinted:
        _record_outcome(url, run_id, report.success)
    if not report.success and not database_reachable(url):
        step = report.failed_step or "start"
        reason = (report.failure or "").removeprefix(f"step {step} failed: ")
        report.failure = f"the database went away during step {step}: {_first_line(reason)}"
    if echo is not None:
        # the failure is the caller's to say (the CLI: one `dwh: error:` line)
        echo("steps:" + (f" (dbt's log: {dbt_log})" if dbt_log.exists() else ""))
        for step in report.steps:
            echo(_step_line(step))
    return report


def _write_in_place(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _record_outcome(url: str, run_id: str, succeeded: bool) -> None:
    try:
        with connect(url) as conn:
            run_fingerprint.record_outcome(conn, run_id, succeeded=succeeded)
    except psycopg.Error:
        # The attempt stays `running`: the next run is not skipped, which is the safe side.
        pass


def _step_line(step: StepReport) -> str:
    if not step.started:
        return f"  {step.name:<24} skipped"
    checks = (
        f", checks {step.checks_passed} passed / {step.checks_failed} failed"
        if step.checks_passed or step.checks_failed
        else ""
    )
    return (
        f"  {step.name:<24} {step.status:<6} {step.seconds:7.1f} s  "
        f"{step.materializations} assets{checks}"
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "connection lost"


def database_reachable(url: str) -> bool:
    try:
        with connect(url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error:
        return False
    return True


def _report(result: Any, instance: Any) -> RunReport:
    from dagster import DagsterEventType

    steps: dict[str, StepReport] = {}
    starts: dict[str, float] = {}
    failure = failed_step = None
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
            step.started = True
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step.seconds = stamp - starts.get(key, stamp)
            if kind == DagsterEventType.STEP_FAILURE:
                step.ok = False
                failure = f"step {key} failed: {_error_text(event.step_failure_data.error)}"
                failed_step = key
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            step.materializations += 1
            materialization = event.event_specific_data.materialization
            step.metadata.update({k: v.value for k, v in materialization.metadata.items()})
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            if event.event_specific_data.passed:
                step.checks_passed += 1
            else:
                step.checks_failed += 1
    if failure is None and not result.success:
        # the run failed outside a step (a resource, the run lock)
        failure = _run_failure(result, instance)
    return RunReport(
        run_id=result.run_id,
        success=result.success,
        steps=list(steps.values()),
        failure=failure,
        failed_step=failed_step,
    )


def _run_failure(result: Any, instance: Any) -> str:
    from dagster import DagsterEventType

    for entry in instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE):
        event = entry.dagster_event
        error = event.event_specific_data.error if event is not None else None
        while error is not None and error.cause is not None:
            error = error.cause  # the innermost error says what happened
        if error is not None:
            return f"the run failed: {_first_line(error.message)}"
    return "the run failed"
