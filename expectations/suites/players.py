"""The player marts (models/gold/players/): docs/metrics.md, "Players", as GX rules.

Columns, types, grain and not-null constraints come from the dbt contract (see `base.py`);
here are the rules beyond it: row rules, the calendar, the dau/wau/mau windows, the cohorts
and the LTV-retention reconciliation. Decisions where the docs leave room are stated in each
builder's docstring.
"""

from __future__ import annotations

from expectations.checks import BATCH, Rule, at_least, between, flagged_rows, holds, one_of, ratio
from expectations.suites.base import Builder, counts_non_negative

COHORT_TYPES = ("registration", "first_deposit")


def fct_active_players_daily(b: Builder) -> None:
    """dau / wau / mau per day and brand.

    Decisions beyond 0 <= dau <= wau <= mau: the calendar is complete (every brand has a row for
    every day from the first to the last day of the table); and the windows are consistent
    with the daily counts: wau >= every dau of its 7 days and <= their sum; mau <= the sum of
    the dau of its 30 days and >= every wau whose week lies inside its 30 days (which, with the
    wau rule, makes it >= every dau of its 30 days: that window is not computed twice)."""
    b.add(
        at_least("dau", 0),
        holds("dau_le_wau", "dau <= wau", "dau <= wau"),
        holds("wau_le_mau", "wau <= mau", "wau <= mau"),
    )
    b.check(
        "calendar",
        "every brand has a row for every day of the table's span",
        [
            Rule(
                "calendar_complete",
                "every brand has a row for every day from the first to the last day",
            ),
        ],
        f"""
with per_brand as (
    -- count(*), not count(distinct day): a hash aggregate; a duplicate day is the primary
    -- key's failure
    select brand_id, count(*) as days, min(day) as first_day, max(day) as last_day
    from {BATCH}
    group by brand_id
),
span as (
    select min(first_day) as first_day, max(last_day) as last_day from per_brand
)
select 'calendar_complete' as failed_rule, per_brand.brand_id, per_brand.first_day,
    per_brand.last_day, per_brand.days, span.first_day as expected_first_day,
    span.last_day as expected_last_day
from per_brand, span
where per_brand.first_day <> span.first_day
    or per_brand.last_day <> span.last_day
    or per_brand.days <> span.last_day - span.first_day + 1""",
    )
    window_rules = [
        Rule("wau_covers_its_week", "wau >= the dau of each of its 7 days", "wau < max_dau_7d"),
        Rule(
            "wau_at_most_sum_of_week", "wau <= the sum of the dau of its 7 days", "wau > sum_dau_7d"
        ),
        Rule(
            "mau_at_most_sum_of_30_days",
            "mau <= the sum of the dau of its 30 days",
            "mau > sum_dau_30d",
        ),
        Rule(
            "mau_covers_weeks_inside",
            "mau >= the wau of each week inside its 30 days",
            "mau < max_wau_24d",
        ),
    ]
    b.check(
        "windows",
        "wau and mau are consistent with the daily counts (one scan)",
        window_rules,
        flagged_rows(
            f"""(
    select *,
        max(dau) over last_7_days as max_dau_7d,
        sum(dau) over last_7_days as sum_dau_7d,
        sum(dau) over last_30_days as sum_dau_30d,
        max(wau) over last_24_days as max_wau_24d
    from {BATCH}
    window
        last_7_days as (partition by brand_id order by day
                        range between interval '6 days' preceding and current row),
        last_24_days as (partition by brand_id order by day
                         range between interval '23 days' preceding and current row),
        last_30_days as (partition by brand_id order by day
                         range between interval '29 days' preceding and current row)
) as windows""",
            window_rules,
        ),
    )


def _cohort_check(b: Builder, max_offset: int) -> None:
    """Per cohort (type, date, brand): one cohort_size on every row; offsets 0, 1, ..., N
    without a gap; N = least(max_offset, last day - cohort_date). The last day with data is
    max(day) of fct_active_players_daily of the same schema when present (its calendar runs to
    the last day with data), else the latest cohort_date + day_offset of the table itself (all
    cohorts then share one maturity horizon)."""
    calendar = b.table.sibling("fct_active_players_daily")
    horizon = (
        f"select max(day) as last_day from {calendar}"
        if calendar
        else "select max(cohort_date + last_offset) as last_day from cohorts"
    )
    source = "fct_active_players_daily" if calendar else "this table"
    rules = [
        Rule("cohort_size_constant", "cohort_size is the same on every row of a cohort"),
        Rule("offsets_contiguous", "a cohort's day_offsets are 0, 1, ..., N without a gap"),
        Rule(
            "only_mature_offsets",
            f"a cohort's last offset is min({max_offset}, last day with data - cohort_date) "
            f"(last day from {source})",
        ),
    ]
    b.check(
        "cohorts",
        "cohort sizes, offsets and maturity (one scan)",
        rules,
        f"""
with cohorts as (
    select cohort_type, cohort_date, brand_id,
        count(*) as offsets, min(day_offset) as first_offset, max(day_offset) as last_offset,
        min(cohort_size) as min_cohort_size, max(cohort_size) as max_cohort_size
    from {BATCH}
    group by cohort_type, cohort_date, brand_id
),
horizon as ({horizon}),
judged as (
    select cohorts.*, horizon.last_day,
        least({max_offset}, horizon.last_day - cohorts.cohort_date) as expected_last_offset
    from cohorts, horizon
)
select 'cohort_size_constant' as failed_rule, * from judged
where min_cohort_size <> max_cohort_size
union all
select 'offsets_contiguous', * from judged
where first_offset <> 0 or offsets <> last_offset - first_offset + 1
union all
select 'only_mature_offsets', * from judged
where last_offset is distinct from expected_last_offset""",
    )


def _cohort_rules(b: Builder, max_offset: int) -> None:
    b.add(
        one_of("cohort_type", COHORT_TYPES),
        between("day_offset", 0, max_offset),
        at_least("cohort_size", 1, "cohort_size >= 1 (a cohort has members)"),
    )


def fct_retention(b: Builder) -> None:
    """Classic retention, long format, offsets 0..30.

    Decisions: a cohort has members (cohort_size >= 1), so retention_rate is never NULL. Only
    mature offsets, and all of them: see `_cohort_check`."""
    _cohort_rules(b, 30)
    b.add(
        at_least("retained_players", 0),
        holds(
            "retained_le_cohort_size",
            "retained_players <= cohort_size",
            "retained_players <= cohort_size",
        ),
        between("retention_rate", 0, 1),
        ratio(
            "retention_rate_is_retained_over_size",
            "retention_rate = retained_players / cohort_size",
            "retention_rate",
            "retained_players",
            "cohort_size",
        ),
    )
    _cohort_check(b, 30)


def fct_ltv(b: Builder) -> None:
    """Cumulative NGR per cohort member, offsets 0..90.

    Decision on "LTV cumulative never decreasing": NOT asserted. The cumulative is NGR (stake -
    win - bonus - jackpot - fees), and a cohort's NGR on a day is negative whenever its players
    win more than they stake: NGR makes the curve free to fall, so a monotonic rule would
    block correct data. What holds and is checked: ltv_eur_minor = cumulative_ngr_eur_minor /
    cohort_size (both rounded to integers from the same unrounded value, hence within
    0.5 + 0.5 / cohort_size), NULL together; one cohort_size per cohort; offsets 0..N without a
    gap, mature only (see `_cohort_check`); and, when fct_retention is in the same schema, the
    same cohorts with the same sizes there."""
    _cohort_rules(b, 90)
    b.add(
        holds(
            "ltv_null_with_cumulative",
            "ltv_eur_minor and cumulative_ngr_eur_minor are NULL together",
            "(ltv_eur_minor is null) = (cumulative_ngr_eur_minor is null)",
        ),
        holds(
            "ltv_is_cumulative_over_size",
            "ltv_eur_minor = cumulative_ngr_eur_minor / cohort_size (both rounded)",
            "abs(ltv_eur_minor - cumulative_ngr_eur_minor::numeric / nullif(cohort_size, 0)) "
            "<= 0.5 + 0.5 / nullif(cohort_size, 0)",
        ),
    )
    _cohort_check(b, 90)
    retention = b.table.sibling("fct_retention")
    if retention:
        rule = Rule(
            "cohorts_match_retention", "the cohorts and their sizes are those of fct_retention"
        )
        b.check(
            "cohorts_match_retention",
            rule.name,
            [rule],
            f"""
select 'cohorts_match_retention' as failed_rule, cohort_type, cohort_date, brand_id,
    max(ltv_size) as ltv_cohort_size, max(retention_size) as retention_cohort_size
from (
    select distinct cohort_type, cohort_date, brand_id, cohort_size as ltv_size,
        null::bigint as retention_size
    from {BATCH}
    union all
    select distinct cohort_type, cohort_date, brand_id, null::bigint, cohort_size
    from {retention}
) as both_marts
group by cohort_type, cohort_date, brand_id
having max(ltv_size) is distinct from max(retention_size)""",
        )


def fct_sessions_daily(b: Builder) -> None:
    """Sessions per start day and brand.

    Decisions: a row exists only for a day with a started session (sessions_started >= 1,
    players >= 1); completed sessions are started ones (completed <= started), players are
    distinct starters (players <= started); a completed session ends at or after its start, so
    total_session_seconds >= 0, and it is 0 where nothing completed."""
    b.add(
        at_least(
            "sessions_started",
            1,
            "sessions_started >= 1 (a row exists only for a day with sessions)",
        ),
        at_least("players", 1),
        counts_non_negative("sessions_completed", "total_session_seconds"),
        holds(
            "completed_le_started",
            "sessions_completed <= sessions_started",
            "sessions_completed <= sessions_started",
        ),
        holds("players_le_started", "players <= sessions_started", "players <= sessions_started"),
        holds(
            "no_seconds_without_completed",
            "total_session_seconds = 0 where sessions_completed = 0",
            "sessions_completed > 0 or total_session_seconds = 0",
        ),
        ratio(
            "avg_is_total_over_completed",
            "avg_session_seconds = total_session_seconds / sessions_completed",
            "avg_session_seconds",
            "total_session_seconds",
            "sessions_completed",
        ),
        at_least("avg_session_seconds", 0),
    )


BUILDERS = (fct_active_players_daily, fct_retention, fct_ltv, fct_sessions_daily)
