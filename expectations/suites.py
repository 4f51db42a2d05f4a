"""One suite per gold mart: the semantics of docs/metrics.md, docs/points.md and
docs/affinity.md as rules.

Each builder takes the mart as found in the database (`catalog.Table`: its columns, the other
tables of its schema, the affinity seeds) and returns a `MartSuite`:

- the contract columns, which must all be present (a metadata check, no scan);
- the integer columns (money in minor units, counts), which must have integer types (metadata);
- one check with every row-level rule of the mart (one scan);
- the primary key (one query) and each cross-row rule family (one query each).

A rule that reads a contract column the table lacks is not run; it is reported as failed
("not evaluated"), next to the failed contract check. Rules on columns the models add beyond the
contract (e.g. `fct_bets_rollup.day`) and cross-mart reconciliations run only when the column or
the other mart is there. Numeric rules compare within 1e-9 (relative; absolute below 1).

Decisions where the docs leave room are stated in each builder's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from expectations.catalog import Reference, Table
from expectations.checks import (
    BATCH,
    Check,
    Rule,
    at_least,
    between,
    flagged_rows,
    holds,
    lit,
    not_nulls,
    one_of,
    ratio,
    referenced_columns,
    row_rules_check,
    unique_key_check,
)

UTC_ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
GRANULARITIES = {"1m": "1 minute", "5m": "5 minutes", "1h": "1 hour", "1d": "1 day"}
COHORT_TYPES = ("registration", "first_deposit")
LEDGER_OUTCOMES = (
    "applied",
    "noop_no_rule",
    "noop_cooldown",
    "noop_device_unbound",
    "noop_value_boundary",
    "noop_rule_daily_cap",
    "noop_global_daily_cap",
)


@dataclass(frozen=True)
class MartSuite:
    mart: str
    columns: tuple[str, ...]  # the contract: all must be present
    integer_columns: tuple[str, ...]  # must have an integer type
    checks: tuple[Check, ...]
    not_evaluated: tuple[tuple[Rule, frozenset[str]], ...] = ()  # rules missing columns
    description: str = ""


@dataclass
class _Builder:
    """Collects a mart's rules and checks against the table as it is."""

    table: Table
    columns: tuple[str, ...]
    key: tuple[str, ...]
    optional: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    rules: list[Rule] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    blocked: list[tuple[Rule, frozenset[str]]] = field(default_factory=list)

    @property
    def vocabulary(self) -> set[str]:
        return set(self.columns) | set(self.optional)

    def has(self, *columns: str) -> bool:
        return self.table.has(*columns)

    def missing(self, sql: str) -> frozenset[str]:
        needed = referenced_columns(sql, self.vocabulary)
        return frozenset(column for column in needed if column not in self.table.columns)

    def add(self, *rules: Rule | Iterable[Rule]) -> None:
        for item in rules:
            for rule in [item] if isinstance(item, Rule) else item:
                lacking = self.missing(rule.violated)
                if lacking:
                    self.blocked.append((rule, lacking))
                else:
                    self.rules.append(rule)

    def check(self, key: str, description: str, rules: Sequence[Rule], query: str) -> None:
        lacking = self.missing(query)
        if lacking:
            self.blocked.extend((rule, lacking) for rule in rules)
            return
        columns = referenced_columns(query, self.vocabulary)
        self.checks.append(Check(key, description, tuple(rules), query, columns))

    def build(self, description: str) -> MartSuite:
        checks: list[Check] = []
        if self.rules:
            checks.append(row_rules_check(self.rules, self.vocabulary))
        lacking_key = frozenset(c for c in self.key if c not in self.table.columns)
        key_check = unique_key_check(self.key)
        if lacking_key:
            self.blocked.extend((rule, lacking_key) for rule in key_check.rules)
        else:
            checks.append(key_check)
        checks.extend(self.checks)
        return MartSuite(
            mart=self.table.name,
            columns=self.columns,
            integer_columns=tuple(c for c in self.integers if c in self.table.columns),
            checks=tuple(checks),
            not_evaluated=tuple(self.blocked),
            description=" ".join(description.split()),
        )


def _counts_non_negative(*columns: str) -> list[Rule]:
    return [at_least(column, 0) for column in columns]


def _equals(key: str, column: str, expression: str) -> Rule:
    return holds(key, f"{column} = {expression}", f"{column} = {expression}")


# --- revenue --------------------------------------------------------------------------------

ROLLUP_SLICE = ("brand_id", "region", "provider_id", "game_id", "currency")
ROLLUP_MEASURES = ("bets_settled", "stake_minor", "win_minor", "ggr_minor")


def _rollup_consistency_query() -> str:
    dims = ", ".join(ROLLUP_SLICE)
    sums = ",\n        ".join(
        f"coalesce(sum({m}) filter (where granularity = '{g}'), 0) as {m}_{g}"
        for m in ROLLUP_MEASURES
        for g in GRANULARITIES
    )
    resums = ",\n        ".join(
        f"sum({m}_{g}) as {m}_{g}" for m in ROLLUP_MEASURES for g in GRANULARITIES
    )

    def compare(rule: str, level: str, other: str) -> str:
        pairs = ", ".join(f"{m}_1m, {m}_{other} as {m}_other" for m in ROLLUP_MEASURES)
        differs = " or ".join(f"{m}_1m <> {m}_{other}" for m in ROLLUP_MEASURES)
        return (
            f"select '{rule}' as failed_rule, '{other}' as compared_with, bucket, {dims}, "
            f"{pairs}\nfrom {level}\nwhere {differs}"
        )

    return f"""
with by_5m as (
    select
        date_bin(interval '5 minutes', bucket_start::timestamptz, {UTC_ORIGIN}) as bucket,
        {dims},
        {sums}
    from {BATCH}
    group by 1, {dims}
),
by_1h as (
    select date_bin(interval '1 hour', bucket, {UTC_ORIGIN}) as bucket, {dims},
        {resums}
    from by_5m
    group by 1, {dims}
),
by_1d as (
    select date_bin(interval '1 day', bucket, {UTC_ORIGIN}) as bucket, {dims},
        {resums}
    from by_1h
    group by 1, {dims}
)
{compare("rollup_1m_equals_5m", "by_5m", "5m")}
union all
{compare("rollup_1m_equals_1h", "by_1h", "1h")}
union all
{compare("rollup_1m_equals_1d", "by_1d", "1d")}"""


def fct_bets_rollup(t: Table) -> MartSuite:
    """Settled bets in UTC buckets of 1m, 5m, 1h and 1d.

    Decisions: a row exists only for settled bets, so bets_settled >= 1; stake and win are
    money (>= 0). The rollup rule is checked at every level, not only per day: in each 5-minute
    bucket the 1m sums equal the 5m row, in each hour the 1m sums equal the 1h row, in each UTC
    day the 1d row, for every slice (brand, region, provider, game, currency) and each of
    bets_settled, stake, win and ggr; a slice missing at one granularity counts as 0 there. One
    scan, aggregated three times."""
    grain = ("granularity", "bucket_start", *ROLLUP_SLICE)
    b = _Builder(
        t, (*grain, *ROLLUP_MEASURES, "rtp"), grain, optional=("day",), integers=ROLLUP_MEASURES
    )
    strides = " ".join(f"when '{g}' then interval '{s}'" for g, s in GRANULARITIES.items())
    b.add(
        not_nulls(*grain, *ROLLUP_MEASURES),
        one_of("granularity", tuple(GRANULARITIES)),
        holds(
            "bucket_start_aligned",
            "bucket_start is the UTC start of a bucket of its granularity",
            f"bucket_start::timestamptz = date_bin(case granularity {strides} end, "
            f"bucket_start::timestamptz, {UTC_ORIGIN})",
        ),
        at_least("bets_settled", 1, "bets_settled >= 1 (a row exists only for settled bets)"),
        _counts_non_negative("stake_minor", "win_minor"),
        _equals("ggr_is_stake_minus_win", "ggr_minor", "stake_minor - win_minor"),
        ratio(
            "rtp_is_win_over_stake",
            "rtp = win_minor / stake_minor",
            "rtp",
            "win_minor",
            "stake_minor",
        ),
        at_least("rtp", 0),
    )
    if b.has("day"):
        b.add(
            holds(
                "day_is_utc_day_of_bucket",
                "day = the UTC date of bucket_start",
                "day = (bucket_start::timestamptz at time zone 'UTC')::date",
            )
        )
    b.check(
        "rollup",
        "the 1m sums equal the 5m, 1h and 1d sums of every slice (one scan)",
        [
            Rule(
                "rollup_1m_equals_5m", "1m sums = 5m sums in every 5-minute bucket of every slice"
            ),
            Rule("rollup_1m_equals_1h", "1m sums = 1h sums in every hour of every slice"),
            Rule("rollup_1m_equals_1d", "1m sums = 1d sums on every UTC day of every slice"),
        ],
        _rollup_consistency_query(),
    )
    return b.build(fct_bets_rollup.__doc__ or "")


def fct_revenue_daily(t: Table) -> MartSuite:
    """Revenue per day, brand, region and currency.

    Decisions: the EUR columns may be NULL (a currency without an FX rate on or before the day)
    but then both are; an FX rate is positive, so an EUR amount never has the opposite sign of
    its amount in the row's currency, and in EUR rows it equals it. `currency` is an ISO 4217
    code (three capital letters)."""
    grain = ("day", "brand_id", "region", "currency")
    money = (
        "stake_minor",
        "win_minor",
        "ggr_minor",
        "bonus_cost_minor",
        "jackpot_minor",
        "fees_minor",
        "ngr_minor",
    )
    b = _Builder(
        t,
        (*grain, *money, "rtp", "ggr_eur_minor", "ngr_eur_minor"),
        grain,
        integers=(*money, "ggr_eur_minor", "ngr_eur_minor"),
    )
    b.add(
        not_nulls(*grain, *money),
        holds("currency_is_iso_code", "currency is an ISO 4217 code", "currency ~ '^[A-Z]{3}$'"),
        _counts_non_negative(
            "stake_minor", "win_minor", "bonus_cost_minor", "jackpot_minor", "fees_minor"
        ),
        _equals("ggr_is_stake_minus_win", "ggr_minor", "stake_minor - win_minor"),
        _equals(
            "ngr_formula", "ngr_minor", "ggr_minor - bonus_cost_minor - jackpot_minor - fees_minor"
        ),
        ratio(
            "rtp_is_win_over_stake",
            "rtp = win_minor / stake_minor",
            "rtp",
            "win_minor",
            "stake_minor",
        ),
        at_least("rtp", 0),
        holds(
            "eur_columns_null_together",
            "ggr_eur_minor and ngr_eur_minor are NULL together",
            "(ggr_eur_minor is null) = (ngr_eur_minor is null)",
        ),
        holds(
            "ggr_eur_has_sign_of_ggr",
            "ggr_eur_minor never has the opposite sign of ggr_minor",
            "sign(ggr_eur_minor) * sign(ggr_minor) >= 0",
        ),
        holds(
            "ngr_eur_has_sign_of_ngr",
            "ngr_eur_minor never has the opposite sign of ngr_minor",
            "sign(ngr_eur_minor) * sign(ngr_minor) >= 0",
        ),
        holds(
            "eur_rows_convert_at_par",
            "in EUR rows, ggr_eur_minor = ggr_minor and ngr_eur_minor = ngr_minor",
            "currency <> 'EUR' or (ggr_eur_minor = ggr_minor and ngr_eur_minor = ngr_minor)",
        ),
    )
    return b.build(fct_revenue_daily.__doc__ or "")


def fct_deposit_funnel_daily(t: Table) -> MartSuite:
    """The deposit funnel per intent day, brand, region and method.

    Decisions: a row exists only for a day with intents (the grain's day is the intent's), so
    intents >= 1 and the rates are never NULL; each rate is its count over intents."""
    grain = ("day", "brand_id", "region", "method")
    counts = ("intents", "authorized", "captured", "credited")
    rates = ("authorized_rate", "captured_rate", "credited_rate")
    b = _Builder(t, (*grain, *counts, *rates), grain, integers=counts)
    b.add(
        not_nulls(*grain, *counts),
        at_least("intents", 1, "intents >= 1 (a row exists only for a day with intents)"),
        _counts_non_negative("authorized", "captured", "credited"),
        holds("funnel_intents_ge_authorized", "intents >= authorized", "intents >= authorized"),
        holds("funnel_authorized_ge_captured", "authorized >= captured", "authorized >= captured"),
        holds("funnel_captured_ge_credited", "captured >= credited", "captured >= credited"),
    )
    for rate in rates:
        count = rate.removesuffix("_rate")
        b.add(
            between(rate, 0, 1),
            ratio(
                f"{rate}_is_{count}_over_intents",
                f"{rate} = {count} / intents",
                rate,
                count,
                "intents",
            ),
        )
    return b.build(fct_deposit_funnel_daily.__doc__ or "")


def fct_latency_daily(t: Table) -> MartSuite:
    """Settlement and ingestion lags per day and brand.

    Decisions: lags are >= 0 and p50 <= p95; both settle percentiles come from the same bets,
    so they are NULL together, and a row has at least one lag (it exists because of a
    settlement or an ingested event). The model's bet and event counts, when present, are
    > 0 exactly where their percentiles are not NULL."""
    grain = ("day", "brand_id")
    lags = ("settle_lag_p50_s", "settle_lag_p95_s", "ingest_lag_p95_s")
    b = _Builder(
        t,
        (*grain, *lags),
        grain,
        optional=("settle_lag_bets", "ingest_lag_events"),
        integers=("settle_lag_bets", "ingest_lag_events"),
    )
    b.add(
        not_nulls(*grain),
        _counts_non_negative(*lags),
        holds(
            "settle_p50_le_p95",
            "settle_lag_p50_s <= settle_lag_p95_s",
            "settle_lag_p50_s <= settle_lag_p95_s",
        ),
        holds(
            "settle_percentiles_null_together",
            "settle_lag_p50_s and settle_lag_p95_s are NULL together",
            "(settle_lag_p50_s is null) = (settle_lag_p95_s is null)",
        ),
        holds(
            "row_has_a_lag",
            "a row has a settle lag or an ingest lag",
            "settle_lag_p95_s is not null or ingest_lag_p95_s is not null",
        ),
    )
    if b.has("settle_lag_bets"):
        b.add(
            holds(
                "settle_lag_bets_match",
                "settle_lag_bets > 0 exactly where the settle lags are not NULL",
                "(settle_lag_bets > 0) = (settle_lag_p95_s is not null)",
            )
        )
    if b.has("ingest_lag_events"):
        b.add(
            holds(
                "ingest_lag_events_match",
                "ingest_lag_events > 0 exactly where ingest_lag_p95_s is not NULL",
                "(ingest_lag_events > 0) = (ingest_lag_p95_s is not null)",
            )
        )
    return b.build(fct_latency_daily.__doc__ or "")


# --- players --------------------------------------------------------------------------------


def fct_active_players_daily(t: Table) -> MartSuite:
    """dau / wau / mau per day and brand.

    Decisions beyond 0 <= dau <= wau <= mau: the calendar is complete (every brand has a row for
    every day from the first to the last day of the table); and the windows are consistent
    with the daily counts: wau >= every dau of its 7 days and <= their sum; mau <= the sum of
    the dau of its 30 days and >= every wau whose week lies inside its 30 days (which, with the
    wau rule, makes it >= every dau of its 30 days: that window is not computed twice)."""
    grain = ("day", "brand_id")
    b = _Builder(t, (*grain, "dau", "wau", "mau"), grain, integers=("dau", "wau", "mau"))
    b.add(
        not_nulls(*grain, "dau", "wau", "mau"),
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
    return b.build(fct_active_players_daily.__doc__ or "")


def _cohort_check(b: _Builder, max_offset: int) -> None:
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


def _cohort_rules(b: _Builder, max_offset: int) -> None:
    b.add(
        not_nulls("cohort_type", "cohort_date", "brand_id", "day_offset", "cohort_size"),
        one_of("cohort_type", COHORT_TYPES),
        between("day_offset", 0, max_offset),
        at_least("cohort_size", 1, "cohort_size >= 1 (a cohort has members)"),
    )


def fct_retention(t: Table) -> MartSuite:
    """Classic retention, long format, offsets 0..30.

    Decisions: a cohort has members (cohort_size >= 1), so retention_rate is never NULL. Only
    mature offsets, and all of them: see `_cohort_check`."""
    grain = ("cohort_type", "cohort_date", "brand_id", "day_offset")
    b = _Builder(
        t,
        (*grain, "cohort_size", "retained_players", "retention_rate"),
        grain,
        integers=("day_offset", "cohort_size", "retained_players"),
    )
    _cohort_rules(b, 30)
    b.add(
        not_nulls("retained_players"),
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
    return b.build(fct_retention.__doc__ or "")


def fct_ltv(t: Table) -> MartSuite:
    """Cumulative NGR per cohort member, offsets 0..90.

    Decision on "LTV cumulative never decreasing": NOT asserted. The cumulative is NGR (stake -
    win - bonus - jackpot - fees), and a cohort's NGR on a day is negative whenever its players
    win more than they stake: NGR makes the curve free to fall, so a monotonic rule would
    block correct data. What holds and is checked: ltv_eur_minor = cumulative_ngr_eur_minor /
    cohort_size (both rounded to integers from the same unrounded value, hence within
    0.5 + 0.5 / cohort_size), NULL together; one cohort_size per cohort; offsets 0..N without a
    gap, mature only (see `_cohort_check`); and, when fct_retention is in the same schema, the
    same cohorts with the same sizes there."""
    grain = ("cohort_type", "cohort_date", "brand_id", "day_offset")
    b = _Builder(
        t,
        (*grain, "cohort_size", "cumulative_ngr_eur_minor", "ltv_eur_minor"),
        grain,
        integers=("day_offset", "cohort_size", "cumulative_ngr_eur_minor", "ltv_eur_minor"),
    )
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
    retention = t.sibling("fct_retention")
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
    return b.build(fct_ltv.__doc__ or "")


def fct_sessions_daily(t: Table) -> MartSuite:
    """Sessions per start day and brand.

    Decisions: a row exists only for a day with a started session (sessions_started >= 1,
    players >= 1); completed sessions are started ones (completed <= started), players are
    distinct starters (players <= started); a completed session ends at or after its start, so
    total_session_seconds >= 0, and it is 0 where nothing completed."""
    grain = ("day", "brand_id")
    counts = ("sessions_started", "sessions_completed", "players")
    b = _Builder(
        t, (*grain, *counts, "total_session_seconds", "avg_session_seconds"), grain, integers=counts
    )
    b.add(
        not_nulls(*grain, *counts, "total_session_seconds"),
        at_least(
            "sessions_started",
            1,
            "sessions_started >= 1 (a row exists only for a day with sessions)",
        ),
        at_least("players", 1),
        _counts_non_negative("sessions_completed", "total_session_seconds"),
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
    return b.build(fct_sessions_daily.__doc__ or "")


def fct_economy_daily(t: Table) -> MartSuite:
    """Game-economy counters per day and brand.

    Decisions: every counter is a non-negative integer (the payload amounts are counts);
    purchase_revenue_eur_minor may be NULL (a purchase currency without an FX rate) and is
    otherwise >= 0."""
    grain = ("day", "brand_id")
    counters = (
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
    b = _Builder(
        t,
        (*grain, *counters[:6], "purchase_revenue_eur_minor", *counters[6:]),
        grain,
        integers=(*counters, "purchase_revenue_eur_minor"),
    )
    b.add(
        not_nulls(*grain, *counters),
        _counts_non_negative(*counters, "purchase_revenue_eur_minor"),
    )
    return b.build(fct_economy_daily.__doc__ or "")


# --- points ---------------------------------------------------------------------------------


def _gap_rules(table: str) -> list[Rule]:
    return [
        holds(
            f"{table}_avg_sentinel",
            "avg_seconds_between_awards = -1 exactly where awards < 2",
            "(avg_seconds_between_awards = -1) = (awards < 2)",
        ),
        holds(
            f"{table}_avg_non_negative",
            "avg_seconds_between_awards >= 0 where awards >= 2",
            "awards < 2 or avg_seconds_between_awards >= 0",
        ),
    ]


def fct_points_user_task(t: Table) -> MartSuite:
    """Per player and task: awards, points, first/last award, mean gap, last window.

    Decisions: the mean of the gaps between consecutive awards telescopes to (last_award_at -
    first_award_at) / (awards - 1), checked within a microsecond; the sentinel -1 holds exactly
    where awards < 2. last_window_seconds is 0 where awards < 2 (not "exactly where": two
    awards at the same instant have a gap of 0) and otherwise lies in [0, last - first]."""
    grain = ("brand_id", "game_id", "task_id", "player_id")
    b = _Builder(
        t,
        (
            *grain,
            "awards",
            "total_points",
            "first_award_at",
            "last_award_at",
            "avg_seconds_between_awards",
            "last_window_seconds",
        ),
        grain,
        integers=("awards", "total_points"),
    )
    span = "extract(epoch from last_award_at - first_award_at)"
    b.add(
        not_nulls(
            *grain,
            "awards",
            "total_points",
            "first_award_at",
            "last_award_at",
            "avg_seconds_between_awards",
            "last_window_seconds",
        ),
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        holds(
            "first_le_last", "first_award_at <= last_award_at", "first_award_at <= last_award_at"
        ),
        holds(
            "single_award_first_is_last",
            "first_award_at = last_award_at where awards = 1",
            "awards <> 1 or first_award_at = last_award_at",
        ),
        _gap_rules("user_task"),
        holds(
            "avg_is_span_over_gaps",
            "avg_seconds_between_awards = (last_award_at - first_award_at) / (awards - 1)",
            f"awards < 2 or abs(avg_seconds_between_awards - {span} / nullif(awards - 1, 0)) "
            "<= 1e-6",
        ),
        holds(
            "last_window_sentinel",
            "last_window_seconds = 0 where awards < 2",
            "awards >= 2 or last_window_seconds = 0",
        ),
        holds(
            "last_window_within_span",
            "0 <= last_window_seconds <= last_award_at - first_award_at",
            f"last_window_seconds >= 0 and last_window_seconds <= {span} + 1e-6",
        ),
    )
    return b.build(fct_points_user_task.__doc__ or "")


def fct_points_task(t: Table) -> MartSuite:
    """Per task, all players: awards, players, points, mean gap of the merged timeline.

    Decisions: players <= awards. When fct_points_user_task is in the same schema, the task row
    reconciles with it: same tasks; awards, players and points are its sums and count; the
    mean gap of the merged timeline is (latest award - earliest award) / (awards - 1)."""
    grain = ("brand_id", "game_id", "task_id")
    b = _Builder(
        t,
        (*grain, "awards", "players", "total_points", "avg_seconds_between_awards"),
        grain,
        integers=("awards", "players", "total_points"),
    )
    b.add(
        not_nulls(*grain, "awards", "players", "total_points", "avg_seconds_between_awards"),
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        at_least("players", 1),
        holds("players_le_awards", "players <= awards", "players <= awards"),
        _gap_rules("task"),
    )
    per_user = t.sibling("fct_points_user_task")
    if per_user:
        rules = [
            Rule(
                "task_awards_match_user_task",
                "awards = the sum of fct_points_user_task.awards of the task (same tasks)",
            ),
            Rule(
                "task_players_match_user_task",
                "players = the number of fct_points_user_task rows of the task",
            ),
            Rule(
                "task_points_match_user_task",
                "total_points = the sum of fct_points_user_task.total_points of the task",
            ),
            Rule(
                "task_avg_matches_timeline",
                "avg_seconds_between_awards = (latest "
                "last_award_at - earliest first_award_at) / (awards - 1)",
            ),
        ]
        b.check(
            "reconcile_user_task",
            "fct_points_task reconciles with fct_points_user_task",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id, task_id,
        max(task_awards) as awards, max(user_awards) as user_awards,
        max(task_players) as players, max(user_rows) as user_rows,
        max(task_points) as total_points, max(user_points) as user_points,
        max(task_avg) as avg_seconds_between_awards,
        max(user_span) / nullif(max(task_awards) - 1, 0) as timeline_avg
    from (
        select brand_id, game_id, task_id, awards as task_awards, null::numeric as user_awards,
            players as task_players, null::numeric as user_rows,
            total_points as task_points, null::numeric as user_points,
            avg_seconds_between_awards as task_avg, null::numeric as user_span
        from {BATCH}
        union all
        select brand_id, game_id, task_id, null, sum(awards), null, count(*),
            null, sum(total_points), null,
            extract(epoch from max(last_award_at) - min(first_award_at))
        from {per_user}
        group by brand_id, game_id, task_id
    ) as unioned
    group by brand_id, game_id, task_id
)
select 'task_awards_match_user_task' as failed_rule, * from both_marts
where awards is distinct from user_awards
union all
select 'task_players_match_user_task', * from both_marts
where players is distinct from user_rows
union all
select 'task_points_match_user_task', * from both_marts
where total_points is distinct from user_points
union all
select 'task_avg_matches_timeline', * from both_marts
where awards >= 2 and abs(avg_seconds_between_awards - timeline_avg) > 1e-6""",
        )
    return b.build(fct_points_task.__doc__ or "")


def _avg_minutes_rule() -> Rule:
    return holds(
        "avg_minutes_positive",
        "avg_minutes is NULL or > 0 (a mean of non-zero minutes, minutes >= 0)",
        "avg_minutes > 0",
    )


def fct_points_user_game(t: Table) -> MartSuite:
    """Per player and game: awards, points, mean non-zero minutes.

    Decisions: avg_minutes is a mean of non-zero minutes, which are >= 0, so it is NULL or > 0.
    When fct_points_user_task is in the same schema, awards and points are the sums over the
    player's tasks of the game (same players and games)."""
    grain = ("brand_id", "game_id", "player_id")
    b = _Builder(
        t,
        (*grain, "awards", "total_points", "avg_minutes"),
        grain,
        integers=("awards", "total_points"),
    )
    b.add(
        not_nulls(*grain, "awards", "total_points"),
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        _avg_minutes_rule(),
    )
    per_task = t.sibling("fct_points_user_task")
    if per_task:
        rules = [
            Rule(
                "user_game_awards_match_user_task",
                "awards = the sum of "
                "fct_points_user_task.awards over the player's tasks of the game",
            ),
            Rule(
                "user_game_points_match_user_task",
                "total_points = the sum of "
                "fct_points_user_task.total_points over the player's tasks of the game",
            ),
        ]
        b.check(
            "reconcile_user_task",
            "fct_points_user_game reconciles with fct_points_user_task",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id, player_id,
        max(game_awards) as awards, max(task_awards) as user_task_awards,
        max(game_points) as total_points, max(task_points) as user_task_points
    from (
        select brand_id, game_id, player_id, awards as game_awards,
            null::numeric as task_awards, total_points as game_points,
            null::numeric as task_points
        from {BATCH}
        union all
        select brand_id, game_id, player_id, null, sum(awards), null, sum(total_points)
        from {per_task}
        group by brand_id, game_id, player_id
    ) as unioned
    group by brand_id, game_id, player_id
)
select 'user_game_awards_match_user_task' as failed_rule, * from both_marts
where awards is distinct from user_task_awards
union all
select 'user_game_points_match_user_task', * from both_marts
where total_points is distinct from user_task_points""",
        )
    return b.build(fct_points_user_game.__doc__ or "")


def fct_points_game(t: Table) -> MartSuite:
    """Per game, all players: awards, players, points, mean non-zero minutes.

    Decisions: players <= awards; avg_minutes NULL or > 0. When fct_points_user_game is in the
    same schema: same games; awards, players, points are its sums and count; the game's mean
    lies between the smallest and the largest of its players' means (a weighted mean of them),
    and is NULL exactly where all of them are."""
    grain = ("brand_id", "game_id")
    b = _Builder(
        t,
        (*grain, "awards", "players", "total_points", "avg_minutes"),
        grain,
        integers=("awards", "players", "total_points"),
    )
    b.add(
        not_nulls(*grain, "awards", "players", "total_points"),
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        at_least("players", 1),
        holds("players_le_awards", "players <= awards", "players <= awards"),
        _avg_minutes_rule(),
    )
    per_user = t.sibling("fct_points_user_game")
    if per_user:
        rules = [
            Rule(
                "game_awards_match_user_game",
                "awards = the sum of fct_points_user_game.awards of the game (same games)",
            ),
            Rule(
                "game_players_match_user_game",
                "players = the number of fct_points_user_game rows of the game",
            ),
            Rule(
                "game_points_match_user_game",
                "total_points = the sum of fct_points_user_game.total_points of the game",
            ),
            Rule(
                "game_avg_within_player_avgs",
                "avg_minutes lies between the players' "
                "smallest and largest avg_minutes, NULL exactly where all of theirs are",
            ),
        ]
        b.check(
            "reconcile_user_game",
            "fct_points_game reconciles with fct_points_user_game",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id,
        max(game_awards) as awards, max(user_awards) as user_awards,
        max(game_players) as players, max(user_rows) as user_rows,
        max(game_points) as total_points, max(user_points) as user_points,
        max(game_avg) as avg_minutes, min(user_min_avg) as user_min_avg,
        max(user_max_avg) as user_max_avg
    from (
        select brand_id, game_id, awards as game_awards, null::numeric as user_awards,
            players as game_players, null::numeric as user_rows,
            total_points as game_points, null::numeric as user_points,
            avg_minutes as game_avg, null::numeric as user_min_avg,
            null::numeric as user_max_avg
        from {BATCH}
        union all
        select brand_id, game_id, null, sum(awards), null, count(*), null, sum(total_points),
            null, min(avg_minutes), max(avg_minutes)
        from {per_user}
        group by brand_id, game_id
    ) as unioned
    group by brand_id, game_id
)
select 'game_awards_match_user_game' as failed_rule, * from both_marts
where awards is distinct from user_awards
union all
select 'game_players_match_user_game', * from both_marts
where players is distinct from user_rows
union all
select 'game_points_match_user_game', * from both_marts
where total_points is distinct from user_points
union all
select 'game_avg_within_player_avgs', * from both_marts
where (avg_minutes is null) <> (user_max_avg is null)
    or avg_minutes < user_min_avg - 1e-9 or avg_minutes > user_max_avg + 1e-9""",
        )
    return b.build(fct_points_game.__doc__ or "")


# --- affinity -------------------------------------------------------------------------------


def _level_of(value: str, ref: Reference) -> str:
    """SQL: the level of a favorability value under the levels seed."""
    cases = " ".join(
        f"when {value} >= {minimum} then {level}"
        for level, minimum in sorted(ref.levels, key=lambda lm: -lm[1])
    )
    return f"(case {cases} end)"


def _levels_text(ref: Reference) -> str:
    return ", ".join(f"{level} from {minimum}" for level, minimum in ref.levels)


def fct_affinity_ledger(t: Table) -> MartSuite:
    """The affinity ledger: one row per affinity event.

    Decisions: the device is (brand_id, device_id); the replay order is (occurred_at,
    event_id); a device starts at 0, level 0, so its first row has before_value = 0 and
    old_level = 0. Clamping never reverses nor enlarges a change, so applied_change has the
    sign of requested_change (or is 0) and no larger magnitude. An applied outcome changes the
    value (step 7); an admin adjustment is applied or noop_value_boundary. With the seeds of
    the `reference` schema: levels follow the level thresholds, a rule's applied change is
    within its single_cap, noop_no_rule is exactly the rule-driven rows whose rule is missing
    or disabled, and the daily caps hold per device, rule and local day (rule daily_cap) and
    per device and local day (global_daily_cap on positive rule changes), the local day in the
    configured timezone."""
    ref = t.reference
    top = ref.max_affinity
    columns = (
        "event_id",
        "occurred_at",
        "brand_id",
        "player_id",
        "device_id",
        "rule_key",
        "source",
        "outcome",
        "requested_change",
        "applied_change",
        "before_value",
        "after_value",
        "old_level",
        "new_level",
    )
    b = _Builder(
        t,
        columns,
        ("event_id",),
        optional=("event_type",),
        integers=(
            "requested_change",
            "applied_change",
            "before_value",
            "after_value",
            "old_level",
            "new_level",
        ),
    )
    b.add(
        not_nulls(*(c for c in columns if c != "source")),
        one_of("outcome", LEDGER_OUTCOMES),
        between("before_value", 0, top),
        between("after_value", 0, top),
        _equals("applied_is_after_minus_before", "applied_change", "after_value - before_value"),
        holds(
            "noop_applies_nothing",
            "applied_change = 0 for every non-applied outcome",
            "outcome = 'applied' or applied_change = 0",
        ),
        holds(
            "applied_changes_value",
            "applied_change <> 0 for the applied outcome",
            "outcome <> 'applied' or applied_change <> 0",
        ),
        holds(
            "applied_within_requested",
            "applied_change has the sign of requested_change and no larger magnitude",
            "sign(applied_change) * sign(requested_change) >= 0 "
            "and abs(applied_change) <= abs(requested_change)",
        ),
        holds(
            "admin_outcomes",
            "an admin adjustment is applied or noop_value_boundary",
            "rule_key <> 'admin' or outcome in ('applied', 'noop_value_boundary')",
        ),
        at_least("old_level", 0),
        at_least("new_level", 0),
        holds(
            "level_moves_only_when_applied",
            "new_level = old_level unless applied",
            "outcome = 'applied' or new_level = old_level",
        ),
    )
    if b.has("event_type"):
        b.add(
            holds(
                "admin_rows_are_admin_adjust",
                "rule_key = 'admin' exactly for affinity.admin_adjust events",
                "(rule_key = 'admin') = (event_type = 'affinity.admin_adjust')",
            )
        )
    if ref.levels:
        b.add(
            holds(
                "new_level_matches_value",
                f"new_level is the level of after_value ({_levels_text(ref)})",
                f"new_level = {_level_of('after_value', ref)}",
            ),
            holds(
                "old_level_matches_value",
                "old_level is the level of before_value",
                f"old_level = {_level_of('before_value', ref)}",
            ),
        )
    if ref.rules:
        enabled = ", ".join(lit(r.rule_key) for r in ref.rules if r.is_enabled) or "null"
        caps = " ".join(f"when {lit(r.rule_key)} then {r.single_cap}" for r in ref.rules)
        b.add(
            holds(
                "no_rule_outcome_matches_seed",
                "noop_no_rule exactly where the rule is missing or disabled in affinity_rules",
                f"rule_key = 'admin' or (outcome = 'noop_no_rule') = (rule_key not in ({enabled}))",
            ),
            holds(
                "within_single_cap",
                "abs(applied_change) <= the rule's single_cap",
                f"abs(applied_change) <= coalesce(case rule_key {caps} end, abs(applied_change))",
            ),
        )
    chain_rules = [
        Rule(
            "before_is_previous_after",
            "per device, before_value = the previous row's after_value (0 for its first row)",
            "before_value is distinct from coalesce(previous_after_value, 0)",
        ),
        Rule(
            "old_level_is_previous_new_level",
            "per device, old_level = the previous row's new_level (0 for its first row)",
            "old_level is distinct from coalesce(previous_new_level, 0)",
        ),
    ]
    b.check(
        "chain",
        "the ledger is chained per device in (occurred_at, event_id) order (one scan)",
        chain_rules,
        flagged_rows(
            f"""(
    select *,
        lag(after_value) over device_order as previous_after_value,
        lag(new_level) over device_order as previous_new_level
    from {BATCH}
    window device_order as (partition by brand_id, device_id order by occurred_at, event_id)
) as chained""",
            chain_rules,
        ),
    )
    if ref.rules and ref.timezone and ref.global_daily_cap:
        daily = " ".join(f"when {lit(r.rule_key)} then {r.daily_cap}" for r in ref.rules)
        tz = lit(ref.timezone)
        cap_rules = [
            Rule(
                "within_rule_daily_cap",
                "per device, rule and local day, the absolute "
                f"applied sum <= the rule's daily_cap (local day in {ref.timezone})",
            ),
            Rule(
                "within_global_daily_cap",
                "per device and local day, the positive applied "
                f"rule changes sum to <= global_daily_cap ({ref.global_daily_cap})",
            ),
        ]
        b.check(
            "daily_caps",
            "the daily caps hold (one scan)",
            cap_rules,
            f"""
with per_rule as (
    select brand_id, device_id, rule_key,
        (occurred_at at time zone {tz})::date as local_day,
        sum(abs(applied_change)) as absolute_applied,
        coalesce(sum(applied_change) filter (where applied_change > 0), 0) as positive_applied
    from {BATCH}
    where outcome = 'applied' and rule_key <> 'admin'
    group by brand_id, device_id, rule_key, (occurred_at at time zone {tz})::date
)
select 'within_rule_daily_cap' as failed_rule, brand_id, device_id, rule_key, local_day,
    absolute_applied as applied_sum, case rule_key {daily} end as cap
from per_rule
where absolute_applied > case rule_key {daily} end
union all
select 'within_global_daily_cap', brand_id, device_id, null, local_day,
    sum(positive_applied), {ref.global_daily_cap}
from per_rule
group by brand_id, device_id, local_day
having sum(positive_applied) > {ref.global_daily_cap}""",
        )
    return b.build(fct_affinity_ledger.__doc__ or "")


def dim_affinity_device(t: Table) -> MartSuite:
    """One row per device (brand_id, device_id): favorability, level, last applied change.

    Decisions: the key is (brand_id, device_id), the device identity of the ledger. A device
    without an applied change (last_applied_at NULL) is still at 0, level 0. player_id may be
    NULL (a device that was never bound). With the levels seed, level is the level of
    favorability. When fct_affinity_ledger is in the same schema: every ledger device has a
    row, whose favorability is the after_value of its last ledger row and whose
    last_applied_at is its last applied change."""
    ref = t.reference
    grain = ("brand_id", "device_id")
    b = _Builder(
        t,
        ("brand_id", "player_id", "device_id", "favorability", "level", "last_applied_at"),
        grain,
        optional=("max_level_reached",),
        integers=("favorability", "level"),
    )
    b.add(
        not_nulls(*grain, "favorability", "level"),
        between("favorability", 0, ref.max_affinity),
        at_least("level", 0),
        holds(
            "unchanged_device_at_zero",
            "a device without an applied change is at favorability 0, level 0",
            "last_applied_at is not null or (favorability = 0 and level = 0)",
        ),
    )
    if ref.levels:
        b.add(
            holds(
                "level_matches_favorability",
                f"level is the level of favorability ({_levels_text(ref)})",
                f"level = {_level_of('favorability', ref)}",
            )
        )
    if b.has("max_level_reached"):
        b.add(
            holds(
                "max_level_reached_ge_level",
                "max_level_reached >= level",
                "max_level_reached >= level",
            )
        )
    ledger = t.sibling("fct_affinity_ledger")
    if ledger:
        rules = [
            Rule("ledger_devices_have_a_row", "every device of the ledger has a row"),
            Rule(
                "favorability_is_last_after_value",
                "favorability = the after_value of the device's last ledger row",
            ),
            Rule(
                "last_applied_at_matches_ledger",
                "last_applied_at = the device's last applied change in the ledger",
            ),
        ]
        b.check(
            "reconcile_ledger",
            "dim_affinity_device reconciles with fct_affinity_ledger",
            rules,
            f"""
with both_marts as (
    select brand_id, device_id,
        max(in_dim) as in_dim, max(dim_favorability) as favorability,
        max(ledger_after_value) as ledger_after_value,
        max(dim_last_applied_at) as last_applied_at,
        max(ledger_last_applied_at) as ledger_last_applied_at
    from (
        select brand_id, device_id, 1 as in_dim, favorability as dim_favorability,
            null::integer as ledger_after_value, last_applied_at as dim_last_applied_at,
            null::timestamptz as ledger_last_applied_at
        from {BATCH}
        union all
        select brand_id, device_id, 0, null,
            (array_agg(after_value order by occurred_at desc, event_id desc))[1], null,
            max(occurred_at) filter (where outcome = 'applied')
        from {ledger}
        group by brand_id, device_id
    ) as unioned
    group by brand_id, device_id
)
select 'ledger_devices_have_a_row' as failed_rule, * from both_marts
where in_dim = 0
union all
select 'favorability_is_last_after_value', * from both_marts
where in_dim = 1 and ledger_after_value is not null
    and favorability is distinct from ledger_after_value
union all
select 'last_applied_at_matches_ledger', * from both_marts
where in_dim = 1 and ledger_after_value is not null
    and last_applied_at is distinct from ledger_last_applied_at""",
        )
    return b.build(dim_affinity_device.__doc__ or "")


def fct_affinity_rewards(t: Table) -> MartSuite:
    """One row per reward grant.

    Decisions: the key is (brand_id, device_id, level, reward_code); "no (device, level)
    granted twice" also means one granting event per device and level. With the level-rewards
    seed: each grant is a seed row (level, reward_code, quantity), a granted level is granted
    with all its reward codes, and a device's granted levels have no gap (levels are reached
    one after the other from 0). When fct_affinity_ledger is in the same schema: each grant's
    event is an applied ledger row of the same device, at granted_at, that raised the level
    from below to at least the granted level."""
    ref = t.reference
    grain = ("brand_id", "device_id", "level", "reward_code")
    columns = (
        "brand_id",
        "player_id",
        "device_id",
        "level",
        "reward_code",
        "quantity",
        "granted_at",
        "event_id",
    )
    b = _Builder(t, columns, grain, integers=("level", "quantity"))
    b.add(
        not_nulls(*columns),
        at_least("level", 1, "level >= 1 (level 0 has no rewards)"),
        at_least("quantity", 1),
    )
    once_rules = [Rule("level_granted_once", "a device's level is granted by one event, once")]
    codes_per_level: dict[int, int] = {}
    for level, _code, _quantity in ref.level_rewards:
        codes_per_level[level] = codes_per_level.get(level, 0) + 1
    extra = ""
    if ref.level_rewards:
        rows = ", ".join(
            f"({level}, {lit(code)}, {quantity})" for level, code, quantity in ref.level_rewards
        )
        b.add(
            holds(
                "grant_is_a_seed_reward",
                "(level, reward_code, quantity) is a row of affinity_level_rewards",
                f"(level, reward_code, quantity) in ({rows})",
            )
        )
        expected = " ".join(f"when {level} then {n}" for level, n in codes_per_level.items())
        reward_levels = sorted(codes_per_level)
        levels_up_to = " ".join(
            f"when max(level) >= {level} then {i + 1}"
            for i, level in reversed(list(enumerate(reward_levels)))
        )
        once_rules += [
            Rule(
                "level_granted_in_full",
                "a granted level is granted with all its reward codes of affinity_level_rewards",
            ),
            Rule(
                "levels_granted_without_gaps",
                "a device is granted every reward level up to its highest granted level",
            ),
        ]
        extra = f"""
union all
select 'level_granted_in_full', brand_id, device_id, level, grants, first_event_id,
    last_event_id, case level {expected} else 0 end
from per_level
where grants <> case level {expected} else 0 end
union all
select 'levels_granted_without_gaps', brand_id, device_id, max(level), count(*), null, null,
    case {levels_up_to} else 0 end
from per_level
group by brand_id, device_id
having count(*) <> case {levels_up_to} else 0 end"""
    b.check(
        "grants",
        "each device level is granted once and in full (one scan)",
        once_rules,
        f"""
with per_level as (
    -- min/max rather than count(distinct): a hash aggregate, no sort
    select brand_id, device_id, level, count(*) as grants,
        min(event_id) as first_event_id, max(event_id) as last_event_id,
        min(granted_at) as first_granted_at, max(granted_at) as last_granted_at
    from {BATCH}
    group by brand_id, device_id, level
)
select 'level_granted_once' as failed_rule, brand_id, device_id, level, grants,
    first_event_id, last_event_id, null::bigint as expected
from per_level
where first_event_id <> last_event_id or first_granted_at <> last_granted_at{extra}""",
    )
    ledger = t.sibling("fct_affinity_ledger")
    if ledger:
        rule = Rule(
            "granted_by_a_level_up",
            "each grant's event is an applied ledger row of "
            "the device, at granted_at, that raised the level to at least the granted "
            "level from below it",
        )
        b.check(
            "reconcile_ledger",
            rule.name,
            [rule],
            f"""
with grants as (select * from {BATCH})
select 'granted_by_a_level_up' as failed_rule, grants.*
from grants
where not exists (
    select 1
    from {ledger} as ledger
    where ledger.event_id = grants.event_id
        and ledger.brand_id = grants.brand_id
        and ledger.device_id = grants.device_id
        and ledger.outcome = 'applied'
        and ledger.occurred_at = grants.granted_at
        and ledger.old_level < grants.level
        and ledger.new_level >= grants.level
)""",
        )
    return b.build(fct_affinity_rewards.__doc__ or "")


SUITES: dict[str, Callable[[Table], MartSuite]] = {
    builder.__name__: builder
    for builder in (
        fct_bets_rollup,
        fct_revenue_daily,
        fct_deposit_funnel_daily,
        fct_latency_daily,
        fct_active_players_daily,
        fct_retention,
        fct_ltv,
        fct_sessions_daily,
        fct_economy_daily,
        fct_points_user_task,
        fct_points_task,
        fct_points_user_game,
        fct_points_game,
        fct_affinity_ledger,
        dim_affinity_device,
        fct_affinity_rewards,
    )
}
MARTS: tuple[str, ...] = tuple(SUITES)


def build_suite(table: Table) -> MartSuite:
    try:
        builder = SUITES[table.name]
    except KeyError:
        raise ValueError(f"no suite for {table.name!r}; marts with suites: {MARTS}") from None
    return builder(table)
