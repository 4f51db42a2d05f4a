"""The one DbtProject. Its manifest must exist before definitions load: the CLI and the tests
run `dbt parse` first (warehouse.dbt.prepare_manifest)."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    # Tests and parallel sessions point DBT_TARGET_PATH elsewhere so they never share artifacts.
    target_path=Path(os.environ.get("DBT_TARGET_PATH", DBT_PROJECT_DIR / "target")),
)
