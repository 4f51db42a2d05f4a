"""What a `dbt build` of the warehouse carries from one run to the next, in one place.

The dbt asset (orchestration/assets/transform.py) only calls `dbt.cli(...).stream()`; this
module decides its arguments and its target directory:

- seeds loaded from the same files are left out (warehouse/seeds.py keeps their fingerprints
  in the audit schema), and recorded once the run loaded them;
- a run leaving nodes out excludes a test only when all its parents are left out
  (`--indirect-selection buildable`), unless dagster-dbt selects the tests itself;
- each run builds into a target directory of its own (runs may overlap), seeded with the
  partial-parse state of the prepared manifest, and only the last runs' directories are kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg

from warehouse import seeds

RUNS_KEPT = 20  # the artifacts of the last runs, for a look after the fact
PARTIAL_PARSE = "partial_parse.msgpack"
# Unit tests check the models' logic, not the data: they run in the test suite (pytest builds
# with them), not in every production run.
# The run's own log file (target/runs/<run>/dbt.log) at info level: at debug level dbt writes
# every statement it sends as a JSON event, 2,800 of them in an incremental run (4 MB), and
# building and serializing them took 5 s of the CPU of dbt's process (15.4 s -> 10.3 s in an
# incremental run at 2 M events; dbt's Python runs on one core whatever its threads).
BUILD = ("build", "--exclude-resource-type", "unit_test", "--log-level-file", "info")


class DbtRunState:
    """The state of dbt builds under one target directory (the prepared manifest's)."""

    def __init__(self, target_root: Path, manifest: Mapping[str, Any]) -> None:
        self.target_root = Path(target_root)
        self.manifest = manifest

    @classmethod
    def load(cls, target_root: Path, manifest_path: Path) -> DbtRunState:
        return cls(target_root, seeds.read_manifest(Path(manifest_path)))

    def unchanged_seeds(self, conn: psycopg.Connection) -> list[str]:
        """The seeds a build may leave as they are (loaded from the same file and config)."""
        return seeds.unchanged(conn, self.manifest)

    def record_loaded(self, conn: psycopg.Connection, run_results: Mapping[str, Any]) -> list[str]:
        """Remember the seeds a build loaded; returns their unique ids."""
        return seeds.record_loaded(conn, self.manifest, run_results)

    def run_target(self, run_id: str) -> Path:
        """A target directory for the run, with the prepared partial-parse state: dbt then
        parses only what changed (and checks the state itself: a stale one means a full
        parse). Older runs' directories beyond the last RUNS_KEPT are removed."""
        runs = self.target_root / "runs"
        target = runs / run_id
        target.mkdir(parents=True, exist_ok=True)
        for old in sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[:-RUNS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)
        state = self.target_root / PARTIAL_PARSE
        if state.exists():
            shutil.copy2(state, target / PARTIAL_PARSE)
        return target


def build_args(
    *,
    full_refresh: bool = False,
    dbt_vars: str = "",
    exclude: Sequence[str] = (),
    unchanged_seeds: Sequence[str] = (),
    dagster_selects_tests: bool = False,
) -> list[str]:
    """The arguments of the run's `dbt build`. A full refresh reloads every seed."""
    args = list(BUILD)
    excluded = list(exclude)
    if full_refresh:
        args.append("--full-refresh")
    else:
        excluded += unchanged_seeds
    if excluded:
        args += ["--exclude", " ".join(excluded)]
        if not dagster_selects_tests:
            # dbt's default (eager) exclusion also drops every test that touches an excluded
            # node: the blocking tests of the affinity marts, which read the affinity seeds,
            # would not run. `buildable` drops a test only when all its parents are excluded.
            # When dagster-dbt selects tests one by one it sets indirect selection to
            # `empty` itself, and the flag would override it: then none is given.
            args += ["--indirect-selection", "buildable"]
    if dbt_vars:
        args += ["--vars", dbt_vars]
    return args


def dagster_selects_tests(context: Any, manifest: Mapping[str, Any], translator: Any) -> bool:
    """Whether dagster-dbt selects this step's dbt tests one by one (a step that runs some of
    its asset checks and not others), asking dagster-dbt's own selection."""
    from dagster_dbt.asset_utils import get_subset_selection_for_context

    _, override = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=None,
        exclude=None,
        selector=None,
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=None,
    )
    return override is not None
