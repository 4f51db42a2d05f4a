"""/v1/analytics: timeseries, slice, funnel, retention, ltv."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import params
from api.auth import ClientId
from api.context import Scoped
from api.errors import bad_request
from api.http import DAILY_MAX_AGE, MAX_AGE, fingerprint, read_cursor, respond
from api.queries import cohorts, metrics, series
from api.queries import funnel as funnel_queries
from api.routes.common import brand_filter, check_brands, ctx_of, page
from ingestion.catalog import CATALOG

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
SLICE_DIMS = ("game_id", "provider_id", "brand_id", "region", "currency")


@router.get("/timeseries")
def timeseries(
    request: Request,
    client: ClientId,
    metric: str,
    granularity: str,
    from_: Annotated[str, Query(alias="from")],
    to: str,
    filters: str | None = None,
    group_by: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    """A metric per time bucket [from, to), optionally per group; money in minor units with
    its currency. Pages of `limit` rows (default 1000) with an opaque `next_cursor`."""
    m = metrics.metric(metric)
    grain = metrics.check_granularity(m, granularity)
    lower, upper = params.time_range(from_, to)
    metrics.check_aligned(grain, lower, upper)
    if upper - lower > metrics.MAX_RANGE[grain]:
        raise bad_request(f"a {grain} series covers at most {metrics.MAX_RANGE[grain].days} days")
    wanted = params.filters(filters, m.source.dims, m.name)
    groups = params.dimensions(group_by, m.source.dims, m.name)
    size = params.limit(limit, 1000, 10000)
    request_fp = fingerprint(
        client,
        {
            "metric": m.name,
            "g": grain,
            "from": lower,
            "to": upper,
            "f": wanted,
            "by": groups,
            "limit": size,
        },
    )
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> tuple[list[dict[str, Any]], str | None]:
        check_brands(scoped, wanted)
        offset = read_cursor(ctx.key, cursor, request_fp, scoped.publication_id)
        rows = series.timeseries(scoped, m, grain, lower, upper, wanted, groups, size, offset)
        return page(ctx, scoped, rows, limit=size, offset=offset, request_fp=request_fp)

    rows, next_cursor = ctx.read(client, answer)
    body = {"metric": m.name, "granularity": grain, "series": rows, "next_cursor": next_cursor}
    return respond(request, body, max_age=MAX_AGE[grain], rows=len(rows))


@router.get("/slice")
def slice_(
    request: Request,
    client: ClientId,
    metric: str,
    dim: str,
    from_: Annotated[str, Query(alias="from")],
    to: str,
    filters: str | None = None,
    limit: int | None = None,
    order: str = "-value",
    cursor: str | None = None,
) -> Response:
    """A metric over [from, to) per value of one dimension, ordered by value; money and RTP
    per currency as well. The range is read from the coarsest rollup that tiles it."""
    m = metrics.metric(metric)
    if dim not in SLICE_DIMS:
        raise bad_request(f"dim must be one of {', '.join(SLICE_DIMS)}")
    if dim not in m.source.dims:
        raise bad_request(f"{m.name} by {dim} is not available: {metrics.supported(m)}")
    if order not in ("-value", "value"):
        raise bad_request("order must be -value (largest first) or value")
    lower, upper = params.time_range(from_, to)
    grain = metrics.coarsest_aligned(m, lower, upper)
    if upper - lower > metrics.MAX_RANGE[grain]:
        raise bad_request(f"a slice at {grain} covers at most {metrics.MAX_RANGE[grain].days} days")
    if m.name == "dau" and upper - lower != metrics.GRANULARITIES["1d"]:
        # daily distinct counts do not add up over days (a player active twice counts twice)
        raise bad_request("dau is sliced over exactly one day")
    wanted = params.filters(filters, m.source.dims, m.name)
    size = params.limit(limit, 50, 1000)
    request_fp = fingerprint(
        client,
        {
            "metric": m.name,
            "dim": dim,
            "from": lower,
            "to": upper,
            "f": wanted,
            "order": order,
            "limit": size,
        },
    )
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> tuple[list[dict[str, Any]], str | None]:
        check_brands(scoped, wanted)
        offset = read_cursor(ctx.key, cursor, request_fp, scoped.publication_id)
        rows = series.slice_(
            scoped, m, dim, grain, lower, upper, wanted, order == "-value", size, offset
        )
        return page(ctx, scoped, rows, limit=size, offset=offset, request_fp=request_fp)

    items, next_cursor = ctx.read(client, answer)
    body = {"metric": m.name, "dim": dim, "items": items, "next_cursor": next_cursor}
    return respond(request, body, max_age=MAX_AGE[grain], rows=len(items))


class FunnelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    steps: list[dict[str, Any]] = Field(
        description="ordered steps: {'event': type, <payload field>: value, ...}"
    )
    window_sec: int = Field(3600, ge=1, le=funnel_queries.MAX_WINDOW_SECONDS)
    from_: str = Field(alias="from")
    to: str
    filters: dict[str, str] = Field(default_factory=dict)


@router.post("/funnel")
def funnel(request: Request, client: ClientId, body: FunnelRequest) -> Response:
    """An ordered funnel per player over silver's events (docs/api.md, "Funnels")."""
    steps = funnel_queries.parse_steps(body.steps)
    lower, upper = params.time_range(body.from_, body.to)
    if upper - lower > funnel_queries.MAX_RANGE:
        raise bad_request(f"a funnel covers at most {funnel_queries.MAX_RANGE.days} days")
    request.state.audit_body = {
        "steps": [s.name for s in steps],
        "window_sec": body.window_sec,
        "from": body.from_,
        "to": body.to,
        "filters": body.filters,
    }
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> list[int]:
        brand_filter(scoped, body.filters, ("region",))
        return funnel_queries.funnel(scoped, steps, body.window_sec, lower, upper, body.filters)

    counts = ctx.read(client, answer)
    total = counts[0]
    result = {
        "total": total,
        "window_sec": body.window_sec,
        "steps": [
            {"name": s.name, "count": n, "rate": n / total if total else None}
            for s, n in zip(steps, counts, strict=True)
        ],
    }
    return respond(request, result, max_age=MAX_AGE["5m"], rows=len(steps))


class RetentionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort: Literal["registration", "first_deposit"]
    start_date: dt.date
    end_date: dt.date
    return_event: str | None = None
    days: list[int] = Field(default_factory=lambda: [1, 7, 14, 30], min_length=1, max_length=31)
    filters: dict[str, str] = Field(default_factory=dict)


@router.post("/retention")
def retention(request: Request, client: ClientId, body: RetentionRequest) -> Response:
    """Classic day-N retention of daily cohorts; mature offsets only (others null)."""
    if body.end_date < body.start_date:
        raise bad_request("end_date is before start_date")
    if (body.end_date - body.start_date).days > 366:
        raise bad_request("retention covers at most 367 cohort days")
    days = sorted(set(body.days))
    if days[0] < 0 or days[-1] > cohorts.MAX_OFFSET:
        raise bad_request(f"days are offsets 0 to {cohorts.MAX_OFFSET}")
    default = cohorts.default_return_event()
    event = body.return_event or default
    if event not in CATALOG:
        raise bad_request(f"return_event must be an event type of the catalog, not {event!r}")
    request.state.audit_body = body.model_dump(mode="json")
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> list[dict[str, Any]]:
        brand = brand_filter(scoped, body.filters, ())
        if event == default:
            return cohorts.retention_from_gold(
                scoped, body.cohort, body.start_date, body.end_date, days, brand
            )
        return cohorts.retention_from_silver(
            scoped, body.cohort, body.start_date, body.end_date, days, brand, event
        )

    rows = ctx.read(client, answer)
    result = {
        "cohort": body.cohort,
        "return_event": event,
        "source": "gold" if event == default else "silver",
        "rows": rows,
    }
    return respond(request, result, max_age=DAILY_MAX_AGE, rows=len(rows))


@router.get("/ltv")
def ltv(
    request: Request,
    client: ClientId,
    cohort: str = "registration",
    currency: str = "EUR",
    horizon: str = "90d",
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    brand: str | None = None,
) -> Response:
    """Cumulative NGR per cohort player at offsets 0..horizon (mature ones), per cohort date
    and brand, in EUR cents."""
    if cohort not in cohorts.COHORTS:
        raise bad_request(f"cohort must be one of {', '.join(cohorts.COHORTS)}")
    if currency != "EUR":
        raise bad_request("ltv is served in EUR only (fct_ltv converts NGR to EUR cents)")
    match = re.fullmatch(r"(\d{1,3})d", horizon)
    if match is None or int(match.group(1)) > cohorts.MAX_LTV_DAYS:
        raise bad_request(f"horizon is a number of days up to {cohorts.MAX_LTV_DAYS}d, e.g. 30d")
    days = int(match.group(1))
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> list[dict[str, Any]]:
        check_brands(scoped, {"brand_id": brand} if brand else {})
        return cohorts.ltv(scoped, cohort, days, start_date, end_date, brand)

    rows = ctx.read(client, answer)
    result = {"cohort": cohort, "currency": "EUR", "horizon_days": days, "cohorts": rows}
    return respond(request, result, max_age=DAILY_MAX_AGE, rows=len(rows))
