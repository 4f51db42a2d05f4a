"""Running dbt against the warehouse, outside Dagster (tests, `dwh dbt ...`, the benchmark).

Dagster runs the same project through dagster-dbt (orchestration/); both take the connection
from warehouse.database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from warehouse.database import dbt_env
from warehouse.settings import DBT_PROJECT_DIR


class DbtError(RuntimeError):
    pass


def dbt_environment(url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(dbt_env(url))
    env.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def dbt_executable() -> str:
    # The dbt next to this interpreter: the venv's, whatever PATH says.
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: Sequence[str], url: str | None = None, *, check: bool = True, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [dbt_executable(), *args],
        cwd=DBT_PROJECT_DIR,
        env=dbt_environment(url),
        text=True,
        capture_output=capture,
        check=False,
    )
    if check and proc.returncode != 0:
        output = (proc.stdout or "") + (proc.stderr or "")
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{output[-6000:]}")
    return proc


def target_path() -> Path:
    return Path(os.environ.get("DBT_TARGET_PATH", DBT_PROJECT_DIR / "target"))


def _project_mtime() -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "analyses"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        newest = max(newest, (DBT_PROJECT_DIR / name).stat().st_mtime)
    return newest


def prepare_manifest(url: str | None = None) -> Path:
    """`dbt parse`: Dagster's @dbt_assets reads target/manifest.json when definitions load.

    Skipped when the manifest is newer than every file of the project: a parse costs seconds
    on every run, and the asset graph depends on the project's files only.
    """
    manifest = target_path() / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime > _project_mtime():
        return manifest
    run_dbt(["parse", "--quiet"], url)
    return manifest
