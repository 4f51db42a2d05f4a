"""Retention and LTV of cohorts: gold's fct_retention and fct_ltv, and retention on another
return event computed from silver (the `api` views) with the same rule.

The rule (docs/metrics.md, fct_retention): a cohort is the players whose first
player.registered (registration) or first payment.captured (first_deposit) fell on a UTC day;
a member is retained on day N when they have a return event on exactly cohort_date + N;
only mature offsets are answered (cohort_date + N not after the last day with data), others
are null. Players are (brand, player): cohorts of several brands add up exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from api.context import Scoped
from warehouse import schemas
from warehouse.settings import DBT_PROJECT_DIR

COHORTS = ("registration", "first_deposit")
MAX_OFFSET = 30  # fct_retention's offsets
MAX_LTV_DAYS = 90  # fct_ltv's offsets


@cache
def default_return_event() -> str:
    """The return event gold's fct_retention is built with: the dbt var of dbt_project.yml
    (read as text: the project's YAML parser is a dependency of dbt, not of the API)."""
    text = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    found = re.search(r"^\s*retention_return_event_type:\s*['\"]?([\w.]+)", text, re.M)
    return found.group(1) if found else "bet.placed"


def _shape(
    sizes: dict[dt.date, int], retained: dict[tuple[dt.date, int], int], days: list[int]
) -> list[dict[str, Any]]:
    rows = []
    for cohort_date in sorted(sizes):
        size = sizes[cohort_date]
        row: dict[str, Any] = {"cohort_date": cohort_date, "size": size}
        for n in days:
            count = retained.get((cohort_date, n))
            row[f"d{n}"] = None if count is None else count / size
        rows.append(row)
    return rows


def retention_from_gold(
    scoped: Scoped, cohort: str, start: dt.date, end: dt.date, days: list[int], brand: str | None
) -> list[dict[str, Any]]:
    offsets = sorted({0, *days})
    rows = scoped.fetch(
        f"select cohort_date, day_offset, sum(cohort_size), sum(retained_players) "
        f"from {schemas.GOLD}.fct_retention where cohort_type = %s "
        "and cohort_date between %s and %s and day_offset = any(%s) "
        "and (%s::text is null or brand_id = %s) group by 1, 2",
        [cohort, start, end, offsets, brand, brand],
    )
    sizes = {d: int(size) for d, n, size, _ in rows if n == 0}
    retained = {(d, n): int(kept) for d, n, _, kept in rows}
    return _shape(sizes, retained, days)


def retention_from_silver(
    scoped: Scoped,
    cohort: str,
    start: dt.date,
    end: dt.date,
    days: list[int],
    brand: str | None,
    return_event: str,
) -> list[dict[str, Any]]:
    column = "registration_date" if cohort == "registration" else "first_deposit_date"
    members = (
        f"select brand_id, player_id, {column} as cohort_date from api.players "
        f"where {column} between %(start)s and %(end)s "
        "and (%(brand)s::text is null or brand_id = %(brand)s)"
    )
    params = {
        "start": start,
        "end": end,
        "brand": brand,
        "days": days,
        "event": return_event,
        # return events can only matter up to the last cohort's day 30
        "lower": dt.datetime.combine(start, dt.time(), dt.UTC),
        "upper": dt.datetime.combine(end + dt.timedelta(days=MAX_OFFSET + 1), dt.time(), dt.UTC),
    }
    sizes = {
        d: int(n)
        for d, n in scoped.fetch(
            f"select cohort_date, count(*) from ({members}) m group by 1", params
        )
    }
    retained_rows = scoped.fetch(
        f"with members as ({members}), "
        "return_days as (select distinct brand_id, player_id, "
        "(occurred_at at time zone 'UTC')::date as day from api.events "
        "where event_type = %(event)s and occurred_at >= %(lower)s and occurred_at < %(upper)s "
        "and (%(brand)s::text is null or brand_id = %(brand)s)), "
        "offsets as (select m.cohort_date, n from (select distinct cohort_date from members) m "
        "cross join unnest(%(days)s::int[]) n cross join api.data_end e "
        "where m.cohort_date + n <= e.last_day) "
        "select o.cohort_date, o.n, count(r.player_id) from offsets o "
        "left join members m on m.cohort_date = o.cohort_date "
        "left join return_days r on r.brand_id = m.brand_id and r.player_id = m.player_id "
        "and r.day = o.cohort_date + o.n group by 1, 2",
        params,
    )
    retained = {(d, int(n)): int(kept) for d, n, kept in retained_rows}
    return _shape(sizes, retained, days)


def ltv(
    scoped: Scoped,
    cohort: str,
    horizon: int,
    start: dt.date | None,
    end: dt.date | None,
    brand: str | None,
) -> list[dict[str, Any]]:
    """Per cohort (date and brand, as gold has them): LTV in EUR cents at offsets 0..horizon,
    mature offsets only (so a young cohort's list is shorter)."""
    rows = scoped.fetch(
        f"select cohort_date, brand_id, max(cohort_size), "
        "array_agg(ltv_eur_minor order by day_offset) "
        f"from {schemas.GOLD}.fct_ltv where cohort_type = %s and day_offset <= %s "
        "and (%s::date is null or cohort_date >= %s) and (%s::date is null or cohort_date <= %s) "
        "and (%s::text is null or brand_id = %s) group by 1, 2 order by 1, 2",
        [cohort, horizon, start, start, end, end, brand, brand],
    )
    return [
        {"date": d, "brand_id": b, "size": int(size), "ltv_minor": list(values)}
        for d, b, size, values in rows
    ]
