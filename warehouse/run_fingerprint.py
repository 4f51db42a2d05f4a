"""A run's fingerprint: what the output of the `warehouse` job depends on, besides new files.

A run with no new file, no full refresh, no backfill range, no sweep and no extra dbt vars
rebuilds what the last publication already holds, unless something else changed since. That
something is in the fingerprint:

- the highest landed batch (raw.load_batches): a file landed by `dwh ingest`, or by a run
  that failed before publishing, is work for the next run;
- what dbt builds, from the prepared manifest: every model, seed, test and hook (checksum,
  SQL, configuration, test arguments, contract, dependencies), every macro's SQL, the dbt
  version, and dbt_project.yml (its project vars reach no node's configuration);
- the seed files' fingerprints (warehouse/seeds.py), so a changed seed is named as such;
- the run's own dbt vars and exclusions (a run given vars publishes something a plain run
  would not);
- the GX suites (expectations/): they decide whether a build may be published.

No setting of warehouse/settings.py feeds dbt vars (the landing settings act on new lines
only, which are new files). The fingerprint of a run is stored in `audit.run_fingerprints`
(warehouse/audit.py) when it starts, and marked with its publication when it published. Only
the newest attempt counts, and only if it published and nothing was published or blocked
after it: a failed, blocked or killed run is never a reason to skip the next one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from warehouse import schemas, seeds
from warehouse.audit import PUBLICATIONS, RUN_FINGERPRINTS, ensure_audit
from warehouse.settings import DBT_PROJECT_DIR, PROJECT_ROOT

# The node fields that decide what dbt builds or tests; ids and timestamps of the parse
# (created_at, the manifest's invocation_id) are left out, or every parse would differ.
_NODE_FIELDS = (
    "checksum",
    "raw_code",
    "config",
    "test_metadata",
    "contract",
    "columns",
    "depends_on",
    "alias",
    "schema",
)
_BUILT = ("model", "seed", "test", "snapshot", "operation")
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _files_digest(paths: list[Any]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stable(key: str, value: Any) -> Any:
    """A node field as what it means: `depends_on` holds sets, which dbt writes in an order
    that differs between a full and a partial parse of the same project."""
    if key == "depends_on" and isinstance(value, Mapping):
        return {name: sorted(ids) if isinstance(ids, list) else ids for name, ids in value.items()}
    return value


def project_parts(
    manifest: Mapping[str, Any], *, dbt_vars: str = "", exclude: str = ""
) -> dict[str, str]:
    """The fingerprint's parts other than the batch: a digest each, by what they cover (the
    names say what changed when two fingerprints differ)."""
    nodes = {
        unique_id: {key: _stable(key, node.get(key)) for key in _NODE_FIELDS}
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in _BUILT
    }
    macros = {unique_id: macro["macro_sql"] for unique_id, macro in manifest["macros"].items()}
    return {
        "models and tests": _digest(nodes),
        "macros": _digest([manifest["metadata"].get("dbt_version"), macros]),
        "seeds": _digest(sorted(seeds.fingerprints(manifest).items())),
        "dbt_project.yml": _files_digest([DBT_PROJECT_DIR / "dbt_project.yml"]),
        "run options": _digest({"vars": dbt_vars.strip(), "exclude": exclude.strip()}),
        "expectations": _files_digest(list(EXPECTATIONS_DIR.rglob("*.py"))),
    }


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s)", [relation]).fetchone()
    return row is not None and row[0] is not None


def landed_batch(conn: psycopg.Connection) -> int:
    """The highest batch that finished landing (0: none)."""
    if not _exists(conn, f"{schemas.RAW}.load_batches"):
        return 0
    row = conn.execute(
        f"select coalesce(max(batch_id), 0) from {schemas.RAW}.load_batches "
        "where finished_at is not null"
    ).fetchone()
    return int(row[0])  # type: ignore[index]


def built_batch(conn: psycopg.Connection) -> int:
    """The highest batch the last build took in (silver.int_load_batches; 0: none). A batch
    landed while the run was building is beyond it, so the next run takes it."""
    relation = f"{schemas.SILVER}.int_load_batches"
    if not _exists(conn, relation):
        return 0
    row = conn.execute(f"select coalesce(max(batch_id), 0) from {relation}").fetchone()
    return int(row[0])  # type: ignore[index]


# The name of the change "batches landed since the publication" in `LastPublication.changed`
# (the other names are those of `project_parts`).
LANDED_BATCHES = "landed batches"


@dataclass(frozen=True)
class LastPublication:
    """The publication a no-op run leaves in place."""

    publication_id: int
    batch_id: int
    published_at: datetime
    changed: tuple[str, ...]  # the parts that differ from the current ones (empty: none)

    @property
    def unchanged(self) -> bool:
        return not self.changed


def compare(
    conn: psycopg.Connection, batch: int, parts: Mapping[str, str]
) -> LastPublication | str:
    """The newest attempt's publication, compared with the current batch and parts; or, when
    that attempt did not publish (it failed, was blocked or is still running, or a run this
    module does not see published or was blocked after it) or there is none, why not."""
    if not _exists(conn, RUN_FINGERPRINTS):
        return "no run of the job has published yet"
    row = conn.execute(
        f"select f.run_id, f.status, f.publication_id, f.batch_id, f.parts, p.attempted_at, "
        f"newest.publication_id, newest.status "
        f"from {RUN_FINGERPRINTS} f left join {PUBLICATIONS} p using (publication_id) "
        f"left join (select publication_id, status from {PUBLICATIONS} "
        "order by publication_id desc limit 1) newest on true "
        "order by f.attempt_id desc limit 1"
    ).fetchone()
    if row is None:
        return "no run of the job has published yet"
    run_id, status, publication_id, batch_id, stored, published_at, newest, newest_status = row
    if status == "running":
        return f"the last run ({run_id}) started and has not finished"
    if status != "published" or publication_id is None:
        return f"the last run ({run_id}) did not publish"
    if publication_id != newest:
        return (
            f"publication {newest} ({newest_status}, by a run of part of the job or another "
            f"job) came after publication {publication_id}"
        )
    changed = [name for name in sorted({*stored, *parts}) if stored.get(name) != parts.get(name)]
    if batch_id != batch:
        changed.insert(0, LANDED_BATCHES)
    return LastPublication(int(publication_id), int(batch_id), published_at, tuple(changed))


def record_attempt(
    conn: psycopg.Connection, run_id: str, batch: int, parts: Mapping[str, str]
) -> None:
    """A run starts: from now on, until it publishes, no run is skipped. Recorded once per
    run: `dwh run` records before it starts the run, the run's first step again (a run the
    daemon or the UI started), and a step's retry too."""
    ensure_audit(conn)
    conn.execute(
        f"insert into {RUN_FINGERPRINTS} (run_id, status, batch_id, fingerprint, parts) "
        "values (%s, 'running', %s, %s, %s) on conflict (run_id) do nothing",
        [run_id, batch, _digest([batch, dict(parts)]), Jsonb(dict(parts))],
    )


def record_outcome(conn: psycopg.Connection, run_id: str, *, succeeded: bool) -> int | None:
    """The run ended: marked published with its publication (and the batch its build took
    in) when it succeeded and published, failed otherwise. Returns the publication id."""
    row = conn.execute(
        f"select max(publication_id) from {PUBLICATIONS} "
        "where run_id = %s and status = 'published'",
        [run_id],
    ).fetchone()
    publication_id = row[0] if row and succeeded else None
    if publication_id is None:
        conn.execute(
            f"update {RUN_FINGERPRINTS} set status = 'failed', finished_at = clock_timestamp() "
            "where run_id = %s",
            [run_id],
        )
        return None
    batch = built_batch(conn)
    conn.execute(
        f"update {RUN_FINGERPRINTS} set status = 'published', publication_id = %s, "
        "batch_id = %s, fingerprint = %s, finished_at = clock_timestamp() where run_id = %s",
        [publication_id, batch, _digest([batch, _stored_parts(conn, run_id)]), run_id],
    )
    return int(publication_id)


def _stored_parts(conn: psycopg.Connection, run_id: str) -> dict[str, str]:
    row = conn.execute(
        f"select parts from {RUN_FINGERPRINTS} where run_id = %s", [run_id]
    ).fetchone()
    return dict(row[0]) if row else {}
