"""The one DbtProject. Its manifest must exist before definitions load: the entry points and
the tests run warehouse.dbt.prepare_manifest first (the one check of the manifest's
staleness; dagster-dbt's own preparer parses on every call, and only under `dagster dev`)."""

from __future__ import annotations

from dagster_dbt import DbtProject

from warehouse.settings import DBT_PROJECT_DIR, load_settings

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    # Tests and parallel sessions point DBT_TARGET_PATH elsewhere so they never share artifacts.
    target_path=load_settings().dbt_target_path,
)
