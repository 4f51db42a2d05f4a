"""Running dbt against the warehouse, outside Dagster (tests, `dwh dbt ...`, the benchmark).

Dagster runs the same project through dagster-dbt (orchestration/); both take the connection
from warehouse.database, and the manifest from `prepare_manifest` (the preparer of the
DbtProject, orchestration/project.py, is this function).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from warehouse.database import dbt_env
from warehouse.settings import DBT_PROJECT_DIR, PROJECT_ROOT, child_environment, load_settings


class DbtError(RuntimeError):
    pass


def dbt_environment(url: str | None = None) -> dict[str, str]:
    env = child_environment(dbt_env(url))
    env.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


_WRAPPER = """#!{python}
# Written by warehouse/dbt.py: dbt that exits when the process that started it dies.
import sys
sys.path.insert(0, {root!r})
from warehouse.dbt_child import main
sys.exit(main())
"""


def dbt_executable() -> str:
    """An executable running the dbt of this interpreter (the venv's, whatever PATH says)
    through warehouse/dbt_child.py, so that dbt never outlives the run that started it.

    dagster-dbt wants a path it can execute; the wrapper is written once under the target
    directory, next to the artifacts of the same checkout."""
    wrapper = target_path().resolve() / "bin" / "dbt"
    text = _WRAPPER.format(python=sys.executable, root=str(PROJECT_ROOT))
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        partial = wrapper.with_name(f".dbt.{os.getpid()}")
        partial.write_text(text)
        partial.chmod(0o755)
        partial.replace(wrapper)  # atomic: a concurrent run never executes half a file
    return str(wrapper)


def run_dbt(
    args: Sequence[str],
    url: str | None = None,
    *,
    check: bool = True,
    capture: bool = True,
    target: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    env = dbt_environment(url)
    if target is not None:
        env["DBT_TARGET_PATH"] = str(target)
    proc = subprocess.run(
        [dbt_executable(), *args],
        cwd=DBT_PROJECT_DIR,
        env=env,
        text=True,
        capture_output=capture,
        check=False,
    )
    if check and proc.returncode != 0:
        output = (proc.stdout or "") + (proc.stderr or "")
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{output[-6000:]}")
    return proc


def target_path() -> Path:
    return load_settings().dbt_target_path


def _project_mtime() -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "analyses"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        newest = max(newest, (DBT_PROJECT_DIR / name).stat().st_mtime)
    return newest


def prepare_manifest(url: str | None = None, target: Path | None = None) -> Path:
    """`dbt parse` into `target` (default: the settings' target path): Dagster's @dbt_assets
    reads its manifest.json when definitions load.

    Skipped when the manifest is newer than every file of the project: a parse costs seconds
    on every run, and the asset graph depends on the project's files only. The one check of
    the manifest's staleness: dagster-dbt's own preparer parses every time.
    """
    target = target or target_path()
    manifest = target / "manifest.json"
    with _parse_lock(target):
        # Under the lock: two runs starting together parse once, and neither reads the
        # manifest while the other is writing it.
        if manifest.exists() and manifest.stat().st_mtime > _project_mtime():
            return manifest
        run_dbt(["parse", "--quiet"], url, target=target)
    return manifest


@contextmanager
def _parse_lock(target: Path) -> Iterator[None]:
    path = target / ".parse.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
