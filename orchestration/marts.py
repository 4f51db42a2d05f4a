"""The gold marts, as the dbt manifest declares them (models under models/gold/), and each
one's grain: the primary key publication gives it in `gold`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from orchestration.project import dbt_project
from warehouse import schemas

CANDIDATE_SCHEMA = schemas.CANDIDATE
GOLD_MODELS = "gold"  # the folder of the gold models, dbt_project/models/gold/


def _manifest(manifest_path: Path | None) -> dict[str, Any]:
    return json.loads(Path(manifest_path or dbt_project.manifest_path).read_text())


def _gold_models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1:2] == [GOLD_MODELS]
    }


@cache
def gold_marts(manifest_path: Path | None = None) -> tuple[str, ...]:
    return tuple(sorted(node["name"] for node in _gold_models(_manifest(manifest_path)).values()))


@cache
def gold_grains(manifest_path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Each gold mart's grain: the `columns` of its `unique_combination` data test, or the
    column of its `unique` test (a one-column key), the rule expectations/contract.py states
    too. Read here rather than imported from there: importing the expectations package loads
    GX, which the code location does not need."""
    manifest = _manifest(manifest_path)
    tests: dict[str, list[dict[str, Any]]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            tests.setdefault(node.get("attached_node") or "", []).append(node["test_metadata"])
    return {
        node["name"]: _grain(node["name"], tests.get(unique_id, []))
        for unique_id, node in _gold_models(manifest).items()
    }


def _grain(mart: str, tests: list[dict[str, Any]]) -> tuple[str, ...]:
    keys = [tuple(t["kwargs"]["columns"]) for t in tests if t["name"] == "unique_combination"] + [
        (t["kwargs"]["column_name"],) for t in tests if t["name"] == "unique"
    ]
    if len(keys) != 1:
        raise ValueError(f"{mart}: the grain is one unique_combination (or unique) test: {keys}")
    return keys[0]


@cache
def gold_not_null(manifest_path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Each gold mart's not-null columns: those with a `not_null` constraint in its enforced
    contract (the rule expectations/contract.py states too), which publication keeps in
    gold."""
    return {
        node["name"]: tuple(
            column
            for column, spec in node["columns"].items()
            if any(c["type"] == "not_null" for c in spec.get("constraints", []))
        )
        for node in _gold_models(_manifest(manifest_path)).values()
    }


@cache
def gold_descriptions(manifest_path: Path | None = None) -> dict[str, str]:
    """Each gold mart's description, as its dbt YAML states it (the gold asset shows it
    without the SQL that dagster-dbt appends to the candidate's)."""
    return {
        node["name"]: node.get("description") or ""
        for node in _gold_models(_manifest(manifest_path)).values()
    }
