"""Building, writing, landing and querying small hand-made event sets in tests."""

from __future__ import annotations

import gzip
import itertools
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

from ingestion.landing import LandingReport, land
from warehouse.dbt import run_dbt

_ids = itertools.count(1)
# Unique across processes: two test processes landing into one database must not reuse ids.
_PREFIX = uuid.uuid4().hex[:6]


def ts(value: str | datetime) -> str:
    """'2026-01-01 10:00:00' (UTC) -> RFC 3339 with Z."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(
    event_type: str,
    occurred_at: str | datetime,
    *,
    player: str = "p_1",
    brand: str = "brand-1",
    region: str = "EU",
    event_id: str | None = None,
    ingested_at: str | datetime | None = None,
    **payload: Any,
) -> dict[str, Any]:
    """One envelope-valid event; payload fields as keyword arguments."""
    doc: dict[str, Any] = {
        "event_id": event_id or f"e-{_PREFIX}-{next(_ids):08d}",
        "event_type": event_type,
        "occurred_at": ts(occurred_at),
        "tenant_id": brand,
        "region": region,
        "player_id": player,
        "schema_version": "1.0.0",
        "payload": payload,
    }
    if ingested_at is not None:
        doc["ingested_at"] = ts(ingested_at)
    return doc


def at(base: str, **delta: float) -> datetime:
    """A UTC datetime: at('2026-01-01 10:00', minutes=5)."""
    return datetime.fromisoformat(base).replace(tzinfo=UTC) + timedelta(**delta)


def write_events(path: Path, events: Iterable[dict[str, Any] | str | bytes]) -> Path:
    """Write events (dicts, or raw lines as str/bytes) as ndjson (.gz by suffix)."""
    lines = []
    for item in events:
        if isinstance(item, dict):
            lines.append(orjson.dumps(item))
        elif isinstance(item, str):
            lines.append(item.encode())
        else:
            lines.append(item)
    data = b"\n".join(lines) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


def land_events(
    url: str, path: Path, events: Iterable[dict[str, Any] | str | bytes]
) -> LandingReport:
    write_events(path, events)
    with psycopg.connect(url) as conn:
        return land(conn, [path])


def build(url: str, *args: str) -> None:
    """dbt build (seeds, models, tests) against `url`; extra args e.g. --select, --full-refresh."""
    run_dbt(["build", *args], url)


def query(url: str, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        conn.execute("set timezone = 'UTC'")
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def table_snapshot(url: str, relation: str) -> list[tuple[Any, ...]]:
    """Every row of a relation, sorted: for comparing incremental runs with full refreshes."""
    rows = query(url, f"select * from {relation}")
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))
