"""The dbt manifest is parsed again only when the project changed."""

from __future__ import annotations

import os
import time

from warehouse.dbt import prepare_manifest
from warehouse.settings import DBT_PROJECT_DIR


def test_prepare_manifest_parses_only_when_the_project_changed(warehouse_url: str) -> None:
    manifest = prepare_manifest(warehouse_url)
    parsed = manifest.stat().st_mtime_ns
    prepare_manifest(warehouse_url)
    assert manifest.stat().st_mtime_ns == parsed  # nothing changed: no parse

    time.sleep(0.01)
    os.utime(DBT_PROJECT_DIR / "models" / "bronze" / "stg_events.sql")  # an edited model
    prepare_manifest(warehouse_url)
    assert manifest.stat().st_mtime_ns > parsed
