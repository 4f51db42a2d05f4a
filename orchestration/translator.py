"""Asset keys follow the warehouse's schemas: ["<schema>", "<table>"], grouped by layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from warehouse import schemas


class WarehouseTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey(
            [
                dbt_resource_props["config"]["schema"] or "public",
                dbt_resource_props["alias"] or dbt_resource_props["name"],
            ]
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return schemas.RAW
        return dbt_resource_props["config"]["schema"]
