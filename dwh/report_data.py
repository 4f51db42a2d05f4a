"""What the report shows, read from gold and from audit.publications in one snapshot.

Every query runs in one read-only REPEATABLE READ transaction: a publication is one
transaction (warehouse/publish.py), so the page shows one publication, never a mix of two,
even when the job publishes while the report reads. Money stays in integer minor units here;
the page converts it for display (dwh/report_page.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from warehouse import schemas
from warehouse.audit import PUBLICATIONS
from warehouse.database import connect

GOLD = schemas.GOLD
# The gold marts the report reads; a mart missing from gold is named on the page.
MARTS = (
    "fct_revenue_daily",
    "fct_active_players_daily",
    "fct_retention",
    "fct_ltv",
    "fct_deposit_funnel_daily",
)
LATER_ATTEMPTS_SHOWN = 5


@dataclass(frozen=True)
class Publication:
    publication_id: int
    run_id: str
    attempted_at: dt.datetime
    status: str  # 'published' or 'blocked'
    marts: tuple[str, ...]
    row_counts: dict[str, int]
    check_results: dict[str, Any]
    message: str | None


@dataclass(frozen=True)
class RevenueDay:
    """GGR and NGR of a brand's day in EUR cents, summed over regions and currencies."""

    day: dt.date
    brand_id: str
    ggr_eur_minor: int
    ngr_eur_minor: int
    unconverted_rows: int  # rows of a currency without an FX rate: not in the EUR sums


@dataclass(frozen=True)
class CurrencyTotal:
    """A brand's revenue in one currency over the whole period, in that currency's units."""

    brand_id: str
    currency: str
    minor_units: int | None  # digits after the decimal point; None: not in reference.currencies
    stake_minor: int
    win_minor: int
    ggr_minor: int
    ngr_minor: int
    unconverted_rows: int


@dataclass(frozen=True)
class ActiveDay:
    day: dt.date
    brand_id: str
    dau: int
    wau: int
    mau: int


@dataclass(frozen=True)
class RetentionCell:
    """One cohort day and offset, summed over brands (a player is a brand's player, so the
    brands' cohorts are disjoint and their sizes add up)."""

    cohort_type: str
    cohort_date: dt.date
    day_offset: int
    cohort_size: int
    retained_players: int


@dataclass(frozen=True)
class LtvPoint:
    """A brand's LTV at one offset over every cohort mature at that offset: the cohorts'
    cumulative NGR summed, over their players summed."""

    cohort_type: str
    brand_id: str
    day_offset: int
    cohorts: int
    players: int
    cumulative_ngr_eur_minor: int


@dataclass(frozen=True)
class FunnelTotal:
    """A brand's deposit funnel over the whole period (every day, region and method)."""

    brand_id: str
    intents: int
    authorized: int
    captured: int
    credited: int


@dataclass(frozen=True)
class ReportData:
    generated_at: dt.datetime
    latest: Publication | None  # the latest publication, which gold holds
    later_attempts: list[Publication] = field(default_factory=list)  # blocked since, newest first
    later_attempt_count: int = 0
    missing_marts: list[str] = field(default_factory=list)
    revenue: list[RevenueDay] = field(default_factory=list)
    currencies: list[CurrencyTotal] = field(default_factory=list)
    active: list[ActiveDay] = field(default_factory=list)
    retention: list[RetentionCell] = field(default_factory=list)
    ltv: list[LtvPoint] = field(default_factory=list)
    funnel: list[FunnelTotal] = field(default_factory=list)


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", [relation]).fetchone()
    return bool(row and row[0])


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _publication(row: Sequence[Any]) -> Publication:
    pid, run_id, at, status, marts, counts, checks, message = row
    # jsonb arrives decoded; a text copy of the table would not, so both are accepted
    counts = json.loads(counts) if isinstance(counts, str) else counts
    checks = json.loads(checks) if isinstance(checks, str) else checks
    return Publication(
        publication_id=int(pid),
        run_id=run_id,
        attempted_at=at,
        status=status,
        marts=tuple(marts or ()),
        row_counts={str(k): int(v) for k, v in (counts or {}).items()},
        check_results=dict(checks or {}),
        message=message,
    )


_PUBLICATION_COLUMNS = (
    "publication_id, run_id, attempted_at, status, marts, row_counts, check_results, message"
)


def _publications(conn: psycopg.Connection) -> tuple[Publication | None, list[Publication], int]:
    """The latest publication, the blocked attempts after it (newest first) and their count."""
    if not _exists(conn, PUBLICATIONS):
        return None, [], 0
    row = conn.execute(
        f"select {_PUBLICATION_COLUMNS} from {PUBLICATIONS} where status = 'published' "
        "order by publication_id desc limit 1"
    ).fetchone()
    latest = _publication(row) if row else None
    after = latest.publication_id if latest else 0
    later = conn.execute(
        f"select {_PUBLICATION_COLUMNS} from {PUBLICATIONS} where publication_id > %s "
        "order by publication_id desc limit %s",
        [after, LATER_ATTEMPTS_SHOWN],
    ).fetchall()
    count = conn.execute(
        f"select count(*) from {PUBLICATIONS} where publication_id > %s", [after]
    ).fetchone()
    return latest, [_publication(r) for r in later], _int(count[0] if count else 0)


def _minor_units(conn: psycopg.Connection) -> dict[str, int]:
    """Digits of each currency's minor unit, from the currencies seed (absent: none known)."""
    relation = f"{schemas.REFERENCE}.currencies"
    if not _exists(conn, relation):
        return {}
    return {c: int(u) for c, u in conn.execute(f"select currency, minor_units from {relation}")}


def _revenue(conn: psycopg.Connection) -> tuple[list[RevenueDay], list[CurrencyTotal]]:
    days = [
        RevenueDay(day, brand, _int(ggr), _int(ngr), _int(unconverted))
        for day, brand, ggr, ngr, unconverted in conn.execute(
            "select day, brand_id, sum(ggr_eur_minor), sum(ngr_eur_minor), "
            "count(*) filter (where ggr_eur_minor is null or ngr_eur_minor is null) "
            f"from {GOLD}.fct_revenue_daily group by day, brand_id order by day, brand_id"
        )
    ]
    units = _minor_units(conn)
    totals = [
        CurrencyTotal(
            brand,
            currency,
            units.get(currency),
            _int(stake),
            _int(win),
            _int(ggr),
            _int(ngr),
            _int(unconverted),
        )
        for brand, currency, stake, win, ggr, ngr, unconverted in conn.execute(
            "select brand_id, currency, sum(stake_minor), sum(win_minor), sum(ggr_minor), "
            "sum(ngr_minor), count(*) filter (where ggr_eur_minor is null or ngr_eur_minor "
            f"is null) from {GOLD}.fct_revenue_daily group by brand_id, currency "
            "order by brand_id, currency"
        )
    ]
    return days, totals


def _active(conn: psycopg.Connection) -> list[ActiveDay]:
    return [
        ActiveDay(day, brand, int(dau), int(wau), int(mau))
        for day, brand, dau, wau, mau in conn.execute(
            f"select day, brand_id, dau, wau, mau from {GOLD}.fct_active_players_daily "
            "order by day, brand_id"
        )
    ]


def _retention(conn: psycopg.Connection) -> list[RetentionCell]:
    return [
        RetentionCell(kind, cohort, int(offset), _int(size), _int(retained))
        for kind, cohort, offset, size, retained in conn.execute(
            "select cohort_type, cohort_date, day_offset, sum(cohort_size), "
            f"sum(retained_players) from {GOLD}.fct_retention "
            "group by cohort_type, cohort_date, day_offset "
            "order by cohort_type, cohort_date, day_offset"
        )
    ]


def _ltv(conn: psycopg.Connection) -> list[LtvPoint]:
    return [
        LtvPoint(kind, brand, int(offset), int(cohorts), _int(players), _int(ngr))
        for kind, brand, offset, cohorts, players, ngr in conn.execute(
            "select cohort_type, brand_id, day_offset, count(*), sum(cohort_size), "
            f"sum(cumulative_ngr_eur_minor) from {GOLD}.fct_ltv "
            "group by cohort_type, brand_id, day_offset order by cohort_type, brand_id, day_offset"
        )
    ]


def _funnel(conn: psycopg.Connection) -> list[FunnelTotal]:
    return [
        FunnelTotal(brand, _int(i), _int(a), _int(c), _int(d))
        for brand, i, a, c, d in conn.execute(
            "select brand_id, sum(intents), sum(authorized), sum(captured), sum(credited) "
            f"from {GOLD}.fct_deposit_funnel_daily group by brand_id order by brand_id"
        )
    ]


def read_report_data(url: str | None = None) -> ReportData:
    """Everything the page shows, in one read-only snapshot of the warehouse at `url`
    (default: the settings')."""
    with connect(url, autocommit=False) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            return _read(conn)
        finally:
            conn.rollback()  # read only: nothing to keep


def _read(conn: psycopg.Connection) -> ReportData:
    generated = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
    latest, later, later_count = _publications(conn)
    if latest is None:  # nothing published: gold holds nothing to show
        return ReportData(generated, None, later, later_count)
    present = {m for m in MARTS if _exists(conn, f"{GOLD}.{m}")}
    revenue, currencies = _revenue(conn) if "fct_revenue_daily" in present else ([], [])
    return ReportData(
        generated_at=generated,
        latest=latest,
        later_attempts=later,
        later_attempt_count=later_count,
        missing_marts=[m for m in MARTS if m not in present],
        revenue=revenue,
        currencies=currencies,
        active=_active(conn) if "fct_active_players_daily" in present else [],
        retention=_retention(conn) if "fct_retention" in present else [],
        ltv=_ltv(conn) if "fct_ltv" in present else [],
        funnel=_funnel(conn) if "fct_deposit_funnel_daily" in present else [],
    )
