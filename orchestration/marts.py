"""The gold marts, as the dbt manifest declares them (models under models/gold/)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from orchestration.project import dbt_project
from warehouse import schemas

CANDIDATE_SCHEMA = schemas.CANDIDATE
GOLD_MODELS = "gold"  # the folder of the gold models, dbt_project/models/gold/


@cache
def gold_marts(manifest_path: Path | None = None) -> tuple[str, ...]:
    manifest = json.loads(Path(manifest_path or dbt_project.manifest_path).read_text())
    return tuple(
        sorted(
            node["name"]
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["fqn"][1:2] == [GOLD_MODELS]
        )
    )
