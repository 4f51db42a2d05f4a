"""Whether a run of the `warehouse` job has work, however it is launched.

`dwh run` asks before it starts Dagster (dwh/runner.py); the hourly schedule asks before it
requests a run (orchestration/automation.py), so an hour with nothing new costs one query,
not a build. Both compare with the fingerprint of the last publication
(warehouse/run_fingerprint.py), which every whole run of the job records itself, from its
first step to its publication: a run started by the daemon, the UI or `dwh run` alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg

from ingestion.landing import unseen_files
from warehouse import run_fingerprint, seeds

JOB = "warehouse"
DBT_OP = "warehouse_dbt_assets"


@dataclass(frozen=True)
class Verdict:
    """Whether a plain run has work, and why (one line either way)."""

    has_work: bool
    reason: str


def assess(conn: psycopg.Connection, landing_dir: Path, manifest: Mapping[str, Any]) -> Verdict:
    """Whether a plain run has work: a file to land, a batch landed since the last
    publication, a changed model, seed, macro, test, suite or project setting, a seed table to
    load again, or no successful publication to compare with; the reason names which."""
    unseen = unseen_files(conn, landing_dir)
    if unseen:
        more = f" and {len(unseen) - 1} more" if len(unseen) > 1 else ""
        return Verdict(True, f"files to land: {unseen[0]}{more}")
    # a seed table dropped (or never loaded) is work: the run reloads it
    loaded = set(seeds.unchanged(conn, manifest))
    names = sorted(manifest["nodes"][seed]["name"] for seed in seeds.fingerprints(manifest))
    if missing := [name for name in names if name not in loaded]:
        return Verdict(True, f"seed tables to load: {', '.join(missing)}")
    batch = run_fingerprint.landed_batch(conn)
    last = run_fingerprint.compare(conn, batch, run_fingerprint.project_parts(manifest))
    if isinstance(last, str):
        return Verdict(True, last)
    if not last.unchanged:
        changed = ", ".join(
            f"{name} ({last.batch_id} built, {batch} landed)"
            if name == run_fingerprint.LANDED_BATCHES
            else name
            for name in last.changed
        )
        return Verdict(True, f"changed since publication {last.publication_id}: {changed}")
    when = last.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Verdict(
        False,
        f"nothing new since publication {last.publication_id} (batch {last.batch_id}, {when}): "
        "no files to land, no model, seed or setting changed; nothing built "
        "(--force runs anyway)",
    )


def _fingerprinted(context: dg.AssetExecutionContext) -> bool:
    """A whole run of the warehouse job builds what it publishes from what it fingerprints;
    a selection of its steps does not."""
    run = context.run
    # no selection is None from the daemon and an empty set from execute_in_process
    return run.job_name == JOB and not run.op_selection and not run.asset_selection


def record_start(
    context: dg.AssetExecutionContext, conn: psycopg.Connection, manifest_path: Path
) -> None:
    """The run's fingerprint, as it starts (before landing). `dwh run` records it before the
    run starts, under the same run id: then this changes nothing."""
    if not _fingerprinted(context):
        return
    config = context.run.run_config.get("ops", {}).get(DBT_OP, {}).get("config", {})
    parts = run_fingerprint.project_parts(
        seeds.read_manifest(manifest_path),
        dbt_vars=str(config.get("dbt_vars", "")),
        exclude=str(config.get("exclude", "")),
    )
    run_fingerprint.record_attempt(conn, context.run_id, run_fingerprint.landed_batch(conn), parts)


def record_published(context: dg.AssetExecutionContext, conn: psycopg.Connection) -> None:
    """The run published: its fingerprint is the reference of the next no-op."""
    if _fingerprinted(context):
        run_fingerprint.record_outcome(conn, context.run_id, succeeded=True)
