"""What the raw schema holds, as Dagster metadata of the raw assets.

A run of the `warehouse` job lands only the files it finds new; files landed before by
`dwh ingest` (outside Dagster) are in raw all the same, and dbt builds from them. So the raw
assets show the content of raw whenever they are materialized: rows, batches and the latest
batch, not only what the run itself landed.

The row counts come from the batch accounting (raw.load_batches): a batch's rows and its
counts are written in one transaction, so the sums are exact, and they cost one pass over a
small table where `count(*)` would scan every landed event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import psycopg

from ingestion.raw_schema import ensure_raw_schema
from orchestration.table_metadata import COLUMN_SCHEMA, ROW_COUNT
from warehouse import schemas

EVENTS, QUARANTINE, LOAD_BATCHES, LOAD_SKIPS, LOAD_FAILURES = (
    "events",
    "quarantine",
    "load_batches",
    "load_skips",
    "load_failures",
)
RAW_TABLES = (EVENTS, QUARANTINE, LOAD_BATCHES, LOAD_SKIPS, LOAD_FAILURES)

_TOTALS = f"""
select count(*), coalesce(sum(lines_read), 0)::bigint, coalesce(sum(events_landed), 0)::bigint,
       coalesce(sum(lines_quarantined), 0)::bigint, coalesce(sum(blank_lines), 0)::bigint,
       count(*) filter (where lines_quarantined > 0)
from {schemas.RAW}.load_batches
"""
_LATEST = f"""
select batch_id, file_name, finished_at, events_landed
from {schemas.RAW}.load_batches order by batch_id desc limit 1
"""
_FAILURES = f"select count(*), max(failed_at) from {schemas.RAW}.load_failures"
_SKIPS = f"select count(*), max(skipped_at) from {schemas.RAW}.load_skips"
_COLUMNS = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       col_description(c.oid, a.attnum)
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %s and c.relname = any(%s) and a.attnum > 0 and not a.attisdropped
order by c.relname, a.attnum
"""


def raw_content(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Metadata for each raw table (RAW_TABLES): its row count (`dagster/row_count`), its
    columns as the database has them (`dagster/column_schema`), and for the event tables the
    batches and the latest one."""
    ensure_raw_schema(conn)
    batches, lines, events, quarantined, blank, quarantining = conn.execute(_TOTALS).fetchone()  # type: ignore[misc]
    latest = conn.execute(_LATEST).fetchone()
    failures, last_failure = conn.execute(_FAILURES).fetchone()  # type: ignore[misc]
    skips, last_skip = conn.execute(_SKIPS).fetchone()  # type: ignore[misc]
    columns = _column_schemas(conn, RAW_TABLES)
    latest_batch: dict[str, Any] = {}
    if latest is not None:
        batch_id, file_name, finished_at, latest_events = latest
        latest_batch = {
            "latest_batch": batch_id,
            "latest_file": file_name,
            "latest_batch_events": latest_events,
        }
        if finished_at is not None:
            latest_batch["latest_landed_at"] = dg.MetadataValue.timestamp(finished_at)
    content: dict[str, dict[str, Any]] = {
        EVENTS: {ROW_COUNT: events, "batches": batches, **latest_batch},
        QUARANTINE: {
            ROW_COUNT: quarantined,
            "batches_with_quarantined_lines": quarantining,
        },
        LOAD_BATCHES: {
            ROW_COUNT: batches,
            # the accounting of every batch: lines_read = events + quarantined + blank
            "lines_read": lines,
            "events_landed": events,
            "lines_quarantined": quarantined,
            "blank_lines": blank,
            **latest_batch,
        },
        LOAD_SKIPS: {ROW_COUNT: skips},
        LOAD_FAILURES: {ROW_COUNT: failures},
    }
    if last_skip is not None:
        content[LOAD_SKIPS]["latest_skip_at"] = dg.MetadataValue.timestamp(last_skip)
    if last_failure is not None:
        content[LOAD_FAILURES]["latest_failure_at"] = dg.MetadataValue.timestamp(last_failure)
    for table, schema in columns.items():
        content[table][COLUMN_SCHEMA] = dg.MetadataValue.table_schema(schema)
    return content


def _column_schemas(
    conn: psycopg.Connection, tables: Sequence[str]
) -> Mapping[str, dg.TableSchema]:
    found: dict[str, list[dg.TableColumn]] = {}
    for table, name, kind, not_null, comment in conn.execute(_COLUMNS, (schemas.RAW, list(tables))):
        found.setdefault(table, []).append(
            dg.TableColumn(
                name=name,
                type=kind,
                description=comment,
                constraints=dg.TableColumnConstraints(nullable=not not_null),
            )
        )
    return {table: dg.TableSchema(columns=cols) for table, cols in found.items()}


def report_raw_content(
    instance: dg.DagsterInstance, conn: psycopg.Connection, description: str
) -> None:
    """Record what raw holds in a Dagster instance, outside any run: after `dwh ingest`, the
    UI shows the raw assets with the files just landed, and the dbt assets as stale (their
    upstream changed) until a run builds them."""
    for table, metadata in raw_content(conn).items():
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=[schemas.RAW, table], description=description, metadata=metadata
            )
        )
