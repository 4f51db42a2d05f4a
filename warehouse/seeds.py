"""Which dbt seeds a run may leave as they are.

`dbt build` reloads every seed on every run (truncate and insert, row by row through Python),
and then re-runs their tests: seconds of every hourly run spent rewriting reference tables
that have not changed. A seed is skipped when the database holds it as loaded from the same
file with the same configuration: `audit.seed_state` keeps, per seed, the fingerprint of the
last load that succeeded. A full refresh always reloads. A table edited by hand is not
noticed: `dwh run --full-refresh` (or dropping the table) reloads it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from warehouse.audit import SEED_STATE, ensure_audit

STATE_TABLE = SEED_STATE


def fingerprints(manifest: Mapping[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Per seed node: (schema, table, fingerprint of its file and configuration)."""
    seeds = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "seed":
            continue
        digest = hashlib.sha256()
        digest.update(node["checksum"]["checksum"].encode())
        digest.update(json.dumps(node["config"], sort_keys=True, default=str).encode())
        seeds[unique_id] = (node["schema"], node["alias"] or node["name"], digest.hexdigest())
    return seeds


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def unchanged(conn: psycopg.Connection, manifest: Mapping[str, Any]) -> list[str]:
    """The seeds (dbt node names) whose table exists and was last loaded from this file and
    configuration."""
    if conn.execute("select to_regclass(%s)", [STATE_TABLE]).fetchone()[0] is None:  # type: ignore[index]
        return []
    loaded = dict(conn.execute(f"select unique_id, fingerprint from {STATE_TABLE}").fetchall())  # type: ignore[arg-type]
    names = []
    for unique_id, (schema, table, fingerprint) in fingerprints(manifest).items():
        exists = conn.execute("select to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone()
        if loaded.get(unique_id) == fingerprint and exists and exists[0] is not None:
            names.append(manifest["nodes"][unique_id]["name"])
    return sorted(names)


def record_loaded(
    conn: psycopg.Connection, manifest: Mapping[str, Any], run_results: Mapping[str, Any]
) -> list[str]:
    """Remember the seeds this run loaded successfully; returns their unique ids."""
    seeds = fingerprints(manifest)
    loaded = [
        r["unique_id"]
        for r in run_results.get("results", [])
        if r["unique_id"] in seeds and r["status"] == "success"
    ]
    ensure_audit(conn)
    with conn.transaction():
        for unique_id in loaded:
            conn.execute(
                f"insert into {STATE_TABLE} (unique_id, fingerprint) values (%s, %s) "
                "on conflict (unique_id) do update set fingerprint = excluded.fingerprint, "
                "loaded_at = excluded.loaded_at",
                [unique_id, seeds[unique_id][2]],
            )
    return loaded
