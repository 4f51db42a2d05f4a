"""Timeseries and slices over the rollups and daily marts (api/queries/metrics.py): a query
that names no dimension finer than brand and currency reads the brand-grain rollup."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql

from api.context import Scoped
from api.queries.metrics import Metric


def _where(
    m: Metric, granularity: str, lower: dt.datetime, upper: dt.datetime, filters: dict[str, str]
) -> tuple[sql.Composable, dict[str, Any]]:
    source = m.source
    params: dict[str, Any] = {}
    if source.daily:
        clauses = [sql.SQL("day >= %(lower)s and day < %(upper)s")]
        params.update(lower=lower.date(), upper=upper.date())
    else:
        clauses = [
            sql.SQL("granularity = %(granularity)s"),
            sql.SQL("bucket_start >= %(lower)s and bucket_start < %(upper)s"),
        ]
        params.update(granularity=granularity, lower=lower, upper=upper)
    for i, (key, value) in enumerate(sorted(filters.items())):
        clauses.append(sql.SQL("{} = {}").format(sql.Identifier(key), sql.Placeholder(f"f{i}")))
        params[f"f{i}"] = value
    return sql.SQL(" and ").join(clauses), params


def _time(m: Metric) -> sql.Composable:
    if m.source.daily:
        return sql.SQL("(day::timestamp at time zone 'UTC')")
    return sql.Identifier("bucket_start")


def timeseries(
    scoped: Scoped,
    m: Metric,
    granularity: str,
    lower: dt.datetime,
    upper: dt.datetime,
    filters: dict[str, str],
    group_by: list[str],
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """One row per bucket and group (and currency for money), in (ts, groups) order; at most
    `limit` + 1 rows from `offset` (the extra row says a next page exists)."""
    keys = [*group_by, *(["currency"] if m.per_currency and "currency" not in group_by else [])]
    where, params = _where(m, granularity, lower, upper, filters)
    columns = sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(k)) for k in keys)
    positions = sql.SQL("").join(
        sql.SQL(", {}").format(sql.Literal(i + 2)) for i in range(len(keys))
    )
    query = sql.SQL(
        "select {time} as ts{columns}, {value} as value from {table} where {where} "
        "group by 1{positions} order by 1{positions} limit %(limit)s offset %(offset)s"
    ).format(
        time=_time(m),
        columns=columns,
        value=sql.SQL(m.expression),  # type: ignore[arg-type]
        table=sql.SQL(m.source.table_for([*filters, *keys])),  # type: ignore[arg-type]
        where=where,
        positions=positions,
    )
    params.update(limit=limit + 1, offset=offset)
    value_key = "value_minor" if m.kind == "money" else "value"
    rows = []
    for row in scoped.fetch(query, params):
        item: dict[str, Any] = {"ts": row[0]}
        item.update(zip(keys, row[1:-1], strict=True))
        item[value_key] = row[-1]
        rows.append(item)
    return rows


def slice_(
    scoped: Scoped,
    m: Metric,
    dim: str,
    granularity: str,
    lower: dt.datetime,
    upper: dt.datetime,
    filters: dict[str, str],
    descending: bool,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """The metric over [lower, upper) per value of `dim` (and currency for money and RTP),
    ordered by value (nulls last), ties by the keys; `limit` + 1 rows from `offset`."""
    keys = [dim, *(["currency"] if m.per_currency and dim != "currency" else [])]
    where, params = _where(m, granularity, lower, upper, filters)
    names = sql.SQL(", ").join(map(sql.Identifier, keys))
    query = sql.SQL(
        "select {names}, {value} as value from {table} where {where} group by {names} "
        "order by value {direction} nulls last, {names} limit %(limit)s offset %(offset)s"
    ).format(
        names=names,
        value=sql.SQL(m.expression),  # type: ignore[arg-type]
        table=sql.SQL(m.source.table_for([*filters, *keys])),  # type: ignore[arg-type]
        where=where,
        direction=sql.SQL("desc" if descending else "asc"),
    )
    params.update(limit=limit + 1, offset=offset)
    return [
        {**dict(zip(keys, row[:-1], strict=True)), "value": row[-1]}
        for row in scoped.fetch(query, params)
    ]
