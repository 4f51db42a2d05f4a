"""The game server's `/metrics` and last-30-days summary, from gold (fct_economy_daily,
fct_active_players_daily, fct_sessions_daily) and the month's active players from silver.

Figures of several brands add up (a player is a brand's player): counters are summed, dau
too, and the month's MAU counts distinct (brand, player).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.context import Scoped
from warehouse import schemas

COUNTERS = (
    "new_players",
    "credits_earned",
    "credits_spent",
    "gems_earned",
    "gems_spent",
    "gems_purchased",
    "dungeons_run",
    "crafts_completed",
    "pvp_battles",
    "raid_battles",
    "market_sales",
)
_SUMS = ", ".join(f"coalesce(sum({c}), 0)::bigint" for c in COUNTERS)
_NAMED_SUMS = ", ".join(f"coalesce(sum({c}), 0)::bigint as {c}" for c in COUNTERS)
# NULL as soon as one row of the sum has no EUR rate, as in the mart
_REVENUE = (
    "case when bool_or(purchase_revenue_eur_minor is null) then null "
    "else coalesce(sum(purchase_revenue_eur_minor), 0)::bigint end"
)
_BRAND = "(%(brand)s::text is null or brand_id = %(brand)s)"


def _counters(row: tuple[Any, ...]) -> dict[str, Any]:
    return {**dict(zip(COUNTERS, row, strict=False)), "purchase_revenue_eur_minor": row[-1]}


def metrics(scoped: Scoped, day: dt.date, brand: str | None) -> dict[str, Any]:
    month_start = day.replace(day=1)
    params = {"day": day, "start": month_start, "brand": brand}
    today = scoped.fetch(
        f"select {_SUMS}, {_REVENUE} from {schemas.GOLD}.fct_economy_daily "
        f"where day = %(day)s and {_BRAND}",
        params,
    )[0]
    dau, mau, seconds, completed = scoped.fetch(
        f"select (select coalesce(sum(dau), 0) from {schemas.GOLD}.fct_active_players_daily "
        f"where day = %(day)s and {_BRAND}), "
        "(select count(*) from (select distinct brand_id, player_id from api.player_days "
        f"where activity_date between %(start)s and %(day)s and {_BRAND}) m), "
        f"(select coalesce(sum(total_session_seconds), 0) from {schemas.GOLD}.fct_sessions_daily "
        f"where day between %(start)s and %(day)s and {_BRAND}), "
        f"(select coalesce(sum(sessions_completed), 0) from {schemas.GOLD}.fct_sessions_daily "
        f"where day between %(start)s and %(day)s and {_BRAND})",
        params,
    )[0]
    # the game server's figure: the month's mean session in whole minutes, half up
    average = float(seconds) / int(completed) / 60 if completed else 0.0
    return {
        "day": day,
        "month": f"{day:%Y-%m}",
        "today": _counters(today),
        "dau": int(dau),
        "mau": int(mau),
        "avg_session_minutes": int(average + 0.5),
    }


def last_30_days(scoped: Scoped, day: dt.date, brand: str | None) -> list[dict[str, Any]]:
    """The 30 most recent days with economy data up to `day`, newest first."""
    rows = scoped.fetch(
        f"select e.day, {', '.join(f'e.{c}' for c in COUNTERS)}, e.revenue, "
        "coalesce(a.dau, 0) from ("
        f"select day, {_NAMED_SUMS}, {_REVENUE} as revenue "
        f"from {schemas.GOLD}.fct_economy_daily where day <= %(day)s and {_BRAND} "
        "group by day order by day desc limit 30) e "
        "left join (select day, sum(dau) as dau from "
        f"{schemas.GOLD}.fct_active_players_daily where day <= %(day)s and {_BRAND} "
        "group by day) a on a.day = e.day order by e.day desc",
        {"day": day, "brand": brand},
    )
    return [{"day": r[0], **_counters(r[1:-1]), "dau": int(r[-1])} for r in rows]
