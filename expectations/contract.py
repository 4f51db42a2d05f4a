"""Each gold mart's contract, read from the dbt manifest: the one place it is stated.

The dbt YAML of a gold model (dbt_project/models/gold/<domain>/_<domain>.yml) declares its
enforced contract; `dbt parse` writes it into target/manifest.json. From there:

- columns and types: the contract columns with their `data_type`, in the model's order;
- not-null columns: the columns with a `not_null` constraint;
- grain: the `columns` of the model's `unique_combination` data test, or the column of its
  `unique` test (a single-column key);
- accepted values: the `values` of each `accepted_values` data test, by column;
- row rules: the `check` constraints (model or column level), each a SQL predicate that must
  not be false on any row, as PostgreSQL enforces it on the dbt-built table.

The suites take these from here instead of restating them (expectations/suites/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

INTEGER_TYPES = frozenset({"smallint", "integer", "bigint", "int", "int2", "int4", "int8"})


@dataclass(frozen=True)
class MartContract:
    name: str
    domain: str  # the folder under models/gold/, e.g. "revenue"
    columns: tuple[tuple[str, str], ...]  # (column, data_type), in contract order
    grain: tuple[str, ...]
    not_null: tuple[str, ...]
    accepted_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    checks: tuple[tuple[str, str], ...] = ()  # (constraint name, expression)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def integer_columns(self) -> tuple[str, ...]:
        return tuple(name for name, kind in self.columns if kind.lower() in INTEGER_TYPES)

    def ddl(self) -> str:
        """Column definitions (`name type, ...`) of a table with this contract's columns."""
        return ", ".join(f"{name} {kind}" for name, kind in self.columns)


class ContractError(ValueError):
    pass


def _tests_of(manifest: dict[str, Any], unique_id: str) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") == unique_id
        and node.get("test_metadata")
    ]


def _grain(name: str, tests: list[dict[str, Any]]) -> tuple[str, ...]:
    keys = [
        tuple(test["test_metadata"]["kwargs"]["columns"])
        for test in tests
        if test["test_metadata"]["name"] == "unique_combination"
    ]
    keys += [
        (test["test_metadata"]["kwargs"]["column_name"],)
        for test in tests
        if test["test_metadata"]["name"] == "unique"
    ]
    if len(keys) != 1:
        raise ContractError(
            f"{name}: the grain is one unique_combination (or unique) data test, found {keys}"
        )
    return keys[0]


def _contract(node: dict[str, Any], tests: list[dict[str, Any]]) -> MartContract:
    name = node["name"]
    if not node["config"].get("contract", {}).get("enforced"):
        raise ContractError(f"{name}: a gold mart has an enforced contract")
    columns = tuple((column, spec["data_type"]) for column, spec in node["columns"].items())
    if not columns or any(not kind for _, kind in columns):
        raise ContractError(f"{name}: every contract column has a data_type")
    not_null = tuple(
        column
        for column, spec in node["columns"].items()
        if any(c["type"] == "not_null" for c in spec.get("constraints", []))
    )
    accepted = tuple(
        (
            test["test_metadata"]["kwargs"]["column_name"],
            tuple(test["test_metadata"]["kwargs"]["values"]),
        )
        for test in tests
        if test["test_metadata"]["name"] == "accepted_values"
    )
    return MartContract(
        name, node["fqn"][2], columns, _grain(name, tests), not_null, accepted, _checks(node)
    )


def _checks(node: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    constraints = [
        *node.get("constraints", []),
        *(c for spec in node["columns"].values() for c in spec.get("constraints", [])),
    ]
    checks = [c for c in constraints if c["type"] == "check"]
    if any(not c.get("name") or not c.get("expression") for c in checks):
        raise ContractError(f"{node['name']}: a check constraint has a name and an expression")
    return tuple((c["name"], c["expression"]) for c in checks)


@cache
def _load(path: Path, _mtime_ns: int) -> dict[str, MartContract]:
    manifest = json.loads(path.read_text())
    return {
        node["name"]: _contract(node, _tests_of(manifest, unique_id))
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["gold"]
    }


def load_contracts(manifest_path: Path) -> dict[str, MartContract]:
    """The gold marts' contracts, by mart name. Read once per version of the file."""
    path = Path(manifest_path).resolve()
    return _load(path, path.stat().st_mtime_ns)
