"""The metrics of /timeseries and /slice: which mart answers each, at which granularities,
by which dimensions. A combination no mart can answer is a 400 that says what can.

Money is summed per currency (minor units of that currency, never added across currencies);
RTP is a ratio of money, so it is per currency too. Counts and rates are not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from api.errors import bad_request
from warehouse import schemas

Kind = Literal["money", "count", "rate", "money_rate"]
GRANULARITIES: dict[str, dt.timedelta] = {
    "1m": dt.timedelta(minutes=1),
    "5m": dt.timedelta(minutes=5),
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
}
# The longest range one request may cover, per granularity (pages are limited separately).
MAX_RANGE = {
    "1m": dt.timedelta(days=7),
    "5m": dt.timedelta(days=93),
    "1h": dt.timedelta(days=732),
    "1d": dt.timedelta(days=3660),
}


@dataclass(frozen=True)
class Source:
    table: str
    time_column: str  # bucket_start (a timestamptz) or day (a date)
    granularities: tuple[str, ...]
    dims: tuple[str, ...]
    # the same sums at a coarser grain in fewer rows (a mart summed from this one): read when
    # a query filters and groups by its dims only
    coarse: Source | None = None

    @property
    def daily(self) -> bool:
        return self.time_column == "day"

    def table_for(self, dims: Iterable[str]) -> str:
        """The table that answers a query naming `dims` (its filters and groups)."""
        if self.coarse and set(dims) <= set(self.coarse.dims):
            return self.coarse.table
        return self.table


ROLLUP_BRAND = Source(
    f"{schemas.GOLD}.fct_bets_rollup_brand",
    "bucket_start",
    ("1m", "5m", "1h", "1d"),
    ("brand_id", "currency"),
)
ROLLUP = Source(
    f"{schemas.GOLD}.fct_bets_rollup",
    "bucket_start",
    ("1m", "5m", "1h", "1d"),
    ("brand_id", "region", "provider_id", "game_id", "currency"),
    coarse=ROLLUP_BRAND,
)
REVENUE = Source(
    f"{schemas.GOLD}.fct_revenue_daily", "day", ("1d",), ("brand_id", "region", "currency")
)
ACTIVE = Source(f"{schemas.GOLD}.fct_active_players_daily", "day", ("1d",), ("brand_id",))
DEPOSITS = Source(
    f"{schemas.GOLD}.fct_deposit_funnel_daily", "day", ("1d",), ("brand_id", "region", "method")
)


@dataclass(frozen=True)
class Metric:
    name: str
    source: Source
    # an aggregate over the source's rows; sums of money and counts are cast back to bigint
    # (PostgreSQL sums bigint as numeric): minor units are whole numbers in JSON too
    expression: str
    kind: Kind
    description: str

    @property
    def per_currency(self) -> bool:
        return self.kind in ("money", "money_rate")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("stake", ROLLUP, "sum(stake_minor)::bigint", "money", "stake of settled bets"),
        Metric("win", ROLLUP, "sum(win_minor)::bigint", "money", "win of settled bets"),
        Metric("ggr", ROLLUP, "sum(ggr_minor)::bigint", "money", "GGR = stake - win"),
        Metric("bets", ROLLUP, "sum(bets_settled)::bigint", "count", "settled bets"),
        Metric(
            "rtp",
            ROLLUP,
            "sum(win_minor)::numeric / nullif(sum(stake_minor), 0)",
            "money_rate",
            "win / stake, per currency; null when stake is 0",
        ),
        Metric("ngr", REVENUE, "sum(ngr_minor)::bigint", "money", "NGR (fct_revenue_daily), daily"),
        Metric("dau", ACTIVE, "sum(dau)::bigint", "count", "distinct active players of the day"),
        Metric(
            "deposits_success",
            DEPOSITS,
            "sum(captured)::numeric / nullif(sum(intents), 0)",
            "rate",
            "captured / intents of the deposit funnel (the deposit success rate), daily",
        ),
    )
}


def metric(name: str | None) -> Metric:
    if not name or name not in METRICS:
        raise bad_request(f"metric must be one of {', '.join(METRICS)}")
    return METRICS[name]


def supported(m: Metric) -> str:
    return (
        f"{m.name} is served at granularity {', '.join(m.source.granularities)} "
        f"by {', '.join(m.source.dims)}"
    )


def check_granularity(m: Metric, granularity: str | None) -> str:
    if granularity not in GRANULARITIES:
        raise bad_request(f"granularity must be one of {', '.join(GRANULARITIES)}")
    if granularity not in m.source.granularities:
        raise bad_request(f"{m.name} at {granularity} is not available: {supported(m)}")
    return granularity


def check_aligned(granularity: str, *instants: dt.datetime) -> None:
    """Ranges start and end on bucket boundaries (UTC): a bucket is in a range whole or not."""
    width = GRANULARITIES[granularity].total_seconds()
    for at in instants:
        if at.timestamp() % width:
            raise bad_request(
                f"from and to must be on {granularity} boundaries (UTC), "
                f"{at.isoformat().replace('+00:00', 'Z')} is not"
            )


def coarsest_aligned(m: Metric, lower: dt.datetime, upper: dt.datetime) -> str:
    """The coarsest granularity of the metric's mart whose buckets tile [lower, upper)."""
    for granularity in ("1d", "1h", "5m", "1m"):
        width = GRANULARITIES[granularity].total_seconds()
        if granularity in m.source.granularities and not (
            lower.timestamp() % width or upper.timestamp() % width
        ):
            return granularity
    raise bad_request(f"from and to must be on boundaries of {supported(m)}")
