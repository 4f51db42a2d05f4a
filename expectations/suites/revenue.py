"""The revenue marts (models/gold/revenue/): docs/metrics.md, "Revenue", as GX rules.

Columns, types, grain and not-null constraints come from the dbt contract (see `base.py`);
here are the rules beyond it: row rules and the rollup across granularities. Decisions
where the docs leave room are stated in each builder's docstring.
"""

from __future__ import annotations

from expectations.checks import BATCH, Rule, at_least, between, holds, ratio
from expectations.suites.base import UTC_ORIGIN, Builder, counts_non_negative, equals

GRANULARITIES = {"1m": "1 minute", "5m": "5 minutes", "1h": "1 hour", "1d": "1 day"}

ROLLUP_SLICE = ("brand_id", "region", "provider_id", "game_id", "currency")
ROLLUP_MEASURES = ("bets_settled", "stake_minor", "win_minor", "ggr_minor")


def rtp_rules() -> list[Rule]:
    """RTP as both revenue marts define it (macro rtp): win / stake, NULL when stake is 0."""
    return [
        *ratio(
            "rtp_is_win_over_stake",
            "rtp = win_minor / stake_minor",
            "rtp",
            "win_minor",
            "stake_minor",
        ),
        at_least("rtp", 0),
    ]


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


def fct_bets_rollup(b: Builder) -> None:
    """Settled bets in UTC buckets of 1m, 5m, 1h and 1d.

    Decisions: a row exists only for settled bets, so bets_settled >= 1; stake and win are
    money (>= 0). The rollup rule is checked at every level, not only per day: in each 5-minute
    bucket the 1m sums equal the 5m row, in each hour the 1m sums equal the 1h row, in each UTC
    day the 1d row, for every slice (brand, region, provider, game, currency) and each of
    bets_settled, stake, win and ggr; a slice missing at one granularity counts as 0 there. One
    scan, aggregated three times."""
    strides = " ".join(f"when '{g}' then interval '{s}'" for g, s in GRANULARITIES.items())
    b.add(
        holds(
            "bucket_start_aligned",
            "bucket_start is the UTC start of a bucket of its granularity",
            f"bucket_start::timestamptz = date_bin(case granularity {strides} end, "
            f"bucket_start::timestamptz, {UTC_ORIGIN})",
        ),
        *_bucket_row_rules(),
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


def fct_revenue_daily(b: Builder) -> None:
    """Revenue per day, brand, region and currency.

    Decisions: the EUR columns may be NULL (a currency without an FX rate on or before the day)
    but then both are; an FX rate is positive, so an EUR amount never has the opposite sign of
    its amount in the row's currency, and in EUR rows it equals it. `currency` is an ISO 4217
    code (three capital letters)."""
    b.add(
        holds("currency_is_iso_code", "currency is an ISO 4217 code", "currency ~ '^[A-Z]{3}$'"),
        counts_non_negative(
            "stake_minor", "win_minor", "bonus_cost_minor", "jackpot_minor", "fees_minor"
        ),
        equals("ggr_is_stake_minus_win", "ggr_minor", "stake_minor - win_minor"),
        equals(
            "ngr_formula", "ngr_minor", "ggr_minor - bonus_cost_minor - jackpot_minor - fees_minor"
        ),
        rtp_rules(),
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


def fct_deposit_funnel_daily(b: Builder) -> None:
    """The deposit funnel per intent day, brand, region and method.

    Decisions: a row exists only for a day with intents (the grain's day is the intent's), so
    intents >= 1 and the rates are never NULL; each rate is its count over intents."""
    rates = ("authorized_rate", "captured_rate", "credited_rate")
    b.add(
        at_least("intents", 1, "intents >= 1 (a row exists only for a day with intents)"),
        counts_non_negative("authorized", "captured", "credited"),
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


def fct_latency_daily(b: Builder) -> None:
    """Settlement and ingestion lags per day and brand.

    Decisions: lags are >= 0 and p50 <= p95; both settle percentiles come from the same bets,
    so they are NULL together, and a row has at least one lag (it exists because of a
    settlement or an ingested event). The model's bet and event counts are > 0 exactly
    where their percentiles are not NULL."""
    lags = ("settle_lag_p50_s", "settle_lag_p95_s", "ingest_lag_p95_s")
    b.add(
        counts_non_negative(*lags),
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
        holds(
            "settle_lag_bets_match",
            "settle_lag_bets > 0 exactly where the settle lags are not NULL",
            "(settle_lag_bets > 0) = (settle_lag_p95_s is not null)",
        ),
        holds(
            "ingest_lag_events_match",
            "ingest_lag_events > 0 exactly where ingest_lag_p95_s is not NULL",
            "(ingest_lag_events > 0) = (ingest_lag_p95_s is not null)",
        ),
    )


BRAND_SLICE = ("granularity", "bucket_start", "brand_id", "currency")


def fct_bets_rollup_brand(b: Builder) -> None:
    """fct_bets_rollup summed over region, provider and game.

    Decisions: the row rules of fct_bets_rollup (a row exists only for settled bets, money
    >= 0, ggr = stake - win, rtp = win / stake, day = UTC day of the bucket; alignment follows
    from the rollup's). And, when fct_bets_rollup is in the same schema, every (granularity,
    bucket_start, brand_id, currency) has the rollup's sums of bets_settled, stake, win and ggr:
    a key present in one mart only counts as a mismatch (its missing sums are NULL)."""
    b.add(
        *_bucket_row_rules(),
    )
    rollup = b.table.sibling("fct_bets_rollup")
    if not rollup:
        return
    rule = Rule(
        "sums_equal_bets_rollup",
        "bets_settled, stake, win and ggr equal fct_bets_rollup's sums per (granularity, "
        "bucket_start, brand_id, currency)",
    )
    keys = ", ".join(BRAND_SLICE)
    # both marts stacked and grouped by the brand slice (the checks are written without JOIN)
    mine = ", ".join(f"{m} as brand_{m}, null::numeric as rollup_{m}" for m in ROLLUP_MEASURES)
    theirs = ", ".join(f"null::numeric, sum({m})" for m in ROLLUP_MEASURES)
    pairs = ", ".join(
        f"max(brand_{m}) as brand_{m}, max(rollup_{m}) as rollup_{m}" for m in ROLLUP_MEASURES
    )
    differs = " or ".join(
        f"max(brand_{m}) is distinct from max(rollup_{m})" for m in ROLLUP_MEASURES
    )
    b.check(
        "sums_equal_bets_rollup",
        rule.name,
        [rule],
        f"""
select 'sums_equal_bets_rollup' as failed_rule, {keys}, {pairs}
from (
    select {keys}, {mine}
    from {BATCH}
    union all
    select {keys}, {theirs}
    from {rollup}
    group by {keys}
) as both_marts
group by {keys}
having {differs}""",
    )


BUILDERS = (
    fct_bets_rollup,
    fct_bets_rollup_brand,
    fct_revenue_daily,
    fct_deposit_funnel_daily,
    fct_latency_daily,
)


def _bucket_row_rules() -> tuple[Rule | list[Rule], ...]:
    """The row rules of a bets rollup, at any grain: a row exists only for settled bets,
    money >= 0, ggr = stake - win, rtp = win / stake, day = the UTC day of the bucket."""
    return (
        at_least("bets_settled", 1, "bets_settled >= 1 (a row exists only for settled bets)"),
        counts_non_negative("stake_minor", "win_minor"),
        equals("ggr_is_stake_minus_win", "ggr_minor", "stake_minor - win_minor"),
        rtp_rules(),
        holds(
            "day_is_utc_day_of_bucket",
            "day = the UTC date of bucket_start",
            "day = (bucket_start::timestamptz at time zone 'UTC')::date",
        ),
    )
