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
    model = DBT_PROJECT_DIR / "models" / "bronze" / "stg_events.sql"
    before = model.stat()
    os.utime(model)  # an edited model
    try:
        prepare_manifest(warehouse_url)
        assert manifest.stat().st_mtime_ns > parsed
    finally:
        # the checkout is shared with the other test worker: its manifest need not be parsed
        # again for a change that was never made
        os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))
