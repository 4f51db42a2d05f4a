"""The GX suites that gate publication of the gold marts (expectations/), on a real PostgreSQL.

Every mart gets a hand-made table in the schema `gold_candidate`, created with the columns and
types of the mart's contract in the dbt manifest (the suites read the same contract), and
hand-made rows, consistent across marts so that the cross-mart reconciliations hold: the suite
passes on those rows. Then hand-made bad rows are added, each breaking one rule
class, and the suite must fail with exactly the expected expectations, each naming its
offending row in the sample. The PII check, the scan budget, Data Docs and the failure message
are tested on the same database and GX project.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from expectations import MARTS, MartValidation, validate_mart, validate_pii
from expectations.checks import Check, Rule, gx_query
from expectations.contract import load_contracts
from expectations.pii import CONTENT_LITERALS, CONTENT_PATTERNS, NAME_PATTERN
from expectations.runner import mart_contract, validation_session
from expectations.suites import build_suite
from warehouse.dbt import prepare_manifest

SCHEMA = "gold_candidate"
PK = "primary key ({}) is unique"


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


# --- hand-made marts --------------------------------------------------------------------------


def _bets_rollup_rows(
    brand: str,
    bets: list[tuple[str, int | None, int]],
    *,
    game: str = "game-1",
    granularity: str | None = None,
    **changes: object,
) -> str:
    """The 1m, 5m, 1h and 1d rows of one slice holding `bets` (time, stake, win), as VALUES
    tuples; `changes` overrides columns (on every row, or on `granularity` rows only)."""
    starts = {
        "1m": lambda t: t.replace(second=0),
        "5m": lambda t: t.replace(minute=t.minute - t.minute % 5, second=0),
        "1h": lambda t: t.replace(minute=0, second=0),
        "1d": lambda t: t.replace(hour=0, minute=0, second=0),
    }
    rows = []
    for gran, start in starts.items():
        buckets: dict[dt.datetime, list[int | None]] = {}
        for at, stake, win in bets:
            bucket = start(dt.datetime.fromisoformat(at))
            n, s, w = buckets.get(bucket, [0, 0, 0])
            buckets[bucket] = [n + 1, None if stake is None or s is None else s + stake, w + win]
        for bucket, (n, s, w) in buckets.items():
            row: dict[str, object] = {
                "granularity": f"'{gran}'",
                "bucket_start": f"'{bucket.isoformat()}+00'",
                "brand_id": f"'{brand}'",
                "region": "'EU'",
                "provider_id": "'prov-1'",
                "game_id": f"'{game}'",
                "currency": "'EUR'",
                "bets_settled": n,
                "stake_minor": "null" if s is None else s,
                "win_minor": w,
                "ggr_minor": 0 if s is None else s - w,
                "rtp": "null" if not s else f"{w}::numeric / {s}",
                "day": f"'{bucket.date().isoformat()}'",
            }
            if granularity in (None, gran):
                row.update(changes)
            rows.append("(" + ", ".join(str(v) for v in row.values()) + ")")
    return ",\n".join(rows)


ROLLUP_COLUMNS = (
    "granularity, bucket_start, brand_id, region, provider_id, game_id, currency, "
    "bets_settled, stake_minor, win_minor, ggr_minor, rtp, day"
)


def _rollup_insert(values: str) -> str:
    return f"insert into {SCHEMA}.fct_bets_rollup ({ROLLUP_COLUMNS}) values {values};"


@dataclass(frozen=True)
class Case:
    good: str  # VALUES tuples, or full statements when starting with "insert"/"with"
    breaks: str  # SQL statements that break the mart
    expected: dict[str, tuple[str, ...]]  # failed expectation -> markers found in its sample
    extra: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "fct_bets_rollup": Case(
        good=_rollup_insert(
            ",\n".join(
                [
                    _bets_rollup_rows(
                        "brand-1",
                        [("2026-01-01 10:01:10", 100, 50), ("2026-01-01 10:07:30", 200, 0)],
                    ),
                    _bets_rollup_rows("brand-1", [("2026-01-01 11:00:10", 0, 0)], game="game-2"),
                ]
            )
        ),
        breaks="\n".join(
            _rollup_insert(v)
            for v in [
                _bets_rollup_rows("bad-ggr", [("2026-01-01 10:01:00", 100, 40)], ggr_minor=70),
                _bets_rollup_rows("bad-rtp", [("2026-01-01 10:01:00", 100, 40)], rtp=0.5),
                _bets_rollup_rows("bad-rtp-null", [("2026-01-01 10:01:00", 100, 40)], rtp="null"),
                _bets_rollup_rows("bad-zero", [("2026-01-01 10:01:00", 0, 0)], bets_settled=0),
                _bets_rollup_rows("bad-null", [("2026-01-01 10:01:00", None, 0)]),
                _bets_rollup_rows(
                    "bad-align",
                    [("2026-01-01 10:03:00", 10, 0)],
                    granularity="5m",
                    bucket_start="'2026-01-01 10:03:00+00'",
                ),
                _bets_rollup_rows("bad-day", [("2026-01-01 10:03:00", 10, 0)], day="'2026-01-02'"),
                _bets_rollup_rows(
                    "bad-rollup",
                    [("2026-01-01 10:03:00", 90, 40)],
                    granularity="1m",
                    stake_minor=100,
                    ggr_minor=60,
                    rtp="40::numeric / 100",
                ),
                "('2m', '2026-01-01 10:00+00', 'bad-gran', 'EU', 'prov-1', 'game-1', 'EUR', 1, 5, "
                "0, 5, 0, '2026-01-01')",
                _bets_rollup_rows("brand-1", [("2026-01-01 11:00:10", 0, 0)], game="game-2"),
            ]
        ),
        expected={
            "ggr_minor = stake_minor - win_minor": ("bad-ggr",),
            "rtp = win_minor / stake_minor": ("bad-rtp",),
            "rtp is NULL exactly where stake_minor = 0": ("bad-rtp-null",),
            "bets_settled >= 1 (a row exists only for settled bets)": ("bad-zero",),
            "stake_minor is not null": ("bad-null",),
            "bucket_start is the UTC start of a bucket of its granularity": ("bad-align",),
            "day = the UTC date of bucket_start": ("bad-day",),
            "granularity in (1m, 5m, 1h, 1d)": ("bad-gran",),
            "1m sums = 5m sums in every 5-minute bucket of every slice": ("bad-rollup",),
            "1m sums = 1h sums in every hour of every slice": ("bad-rollup",),
            "1m sums = 1d sums on every UTC day of every slice": ("bad-rollup",),
            PK.format(
                "granularity, bucket_start, brand_id, region, provider_id, game_id, currency"
            ): ("game-2",),
        },
    ),
    "fct_revenue_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 'EU', 'EUR', 1000, 900, 100, 10, 5, 1, 84, 0.9, 100, 84),
            ('2026-01-01', 'brand-1', 'EU', 'USD', 0, 0, 0, 0, 0, 0, 0, null, 0, 0),
            ('2026-01-01', 'brand-1', 'LATAM', 'BRL', 500, 600, -100, 50, 0, 3, -153, 1.2,
             -17, -26),
            ('2026-01-02', 'brand-2', 'EU', 'USD', 100, 0, 100, 0, 0, 0, 100, 0, null, null)""",
        breaks=f"""insert into {SCHEMA}.fct_revenue_daily values
            ('2026-01-03', 'bad-ggr', 'EU', 'EUR', 1000, 900, 101, 0, 0, 0, 101, 0.9, 101, 101),
            ('2026-01-03', 'bad-ngr', 'EU', 'EUR', 1000, 900, 100, 5, 0, 0, 90, 0.9, 100, 90),
            ('2026-01-03', 'bad-rtp', 'EU', 'EUR', 1000, 900, 100, 0, 0, 0, 100, 0.8, 100, 100),
            ('2026-01-03', 'bad-rtp-null', 'EU', 'EUR', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            ('2026-01-03', 'bad-eur', 'EU', 'EUR', 1000, 900, 100, 0, 0, 0, 100, 0.9, 95, 95),
            ('2026-01-03', 'bad-sign', 'EU', 'USD', 1000, 900, 100, 0, 0, 0, 100, 0.9, -90, 90),
            ('2026-01-03', 'bad-eur-null', 'EU', 'USD', 1000, 900, 100, 0, 0, 0, 100, 0.9, 90,
             null),
            ('2026-01-03', 'bad-cur', 'EU', 'eur', 1000, 900, 100, 0, 0, 0, 100, 0.9, 100, 100),
            ('2026-01-03', 'bad-stake', 'EU', 'USD', -5, 0, -5, 0, 0, 0, -5, 0, null, null),
            ('2026-01-03', 'bad-null', null, 'USD', 0, 0, 0, 0, 0, 0, 0, null, null, null),
            ('2026-01-01', 'brand-1', 'EU', 'EUR', 1000, 900, 100, 10, 5, 1, 84, 0.9, 100, 84);
        """,
        expected={
            "ggr_minor = stake_minor - win_minor": ("bad-ggr",),
            "ngr_minor = ggr_minor - bonus_cost_minor - jackpot_minor - fees_minor": ("bad-ngr",),
            "rtp = win_minor / stake_minor": ("bad-rtp",),
            "rtp is NULL exactly where stake_minor = 0": ("bad-rtp-null",),
            "in EUR rows, ggr_eur_minor = ggr_minor and ngr_eur_minor = ngr_minor": ("bad-eur",),
            "ggr_eur_minor never has the opposite sign of ggr_minor": ("bad-sign",),
            "ggr_eur_minor and ngr_eur_minor are NULL together": ("bad-eur-null",),
            "currency is an ISO 4217 code": ("bad-cur",),
            "stake_minor >= 0": ("bad-stake",),
            "region is not null": ("bad-null",),
            PK.format("day, brand_id, region, currency"): ("brand-1",),
        },
    ),
    "fct_deposit_funnel_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 'EU', 'card', 10, 8, 7, 6, 0.8, 0.7, 0.6),
            ('2026-01-01', 'brand-1', 'EU', 'pix', 1, 0, 0, 0, 0, 0, 0),
            ('2026-01-02', 'brand-2', 'LATAM', 'pix', 3, 3, 3, 3, 1, 1, 1)""",
        breaks=f"""insert into {SCHEMA}.fct_deposit_funnel_daily values
            ('2026-01-03', 'bad-auth', 'EU', 'card', 5, 6, 0, 0, 1.2, 0, 0),
            ('2026-01-03', 'bad-capt', 'EU', 'card', 10, 5, 6, 0, 0.5, 0.6, 0),
            ('2026-01-03', 'bad-cred', 'EU', 'card', 10, 5, 5, 6, 0.5, 0.5, 0.6),
            ('2026-01-03', 'bad-rate', 'EU', 'card', 10, 5, 5, 5, 0.5, 0.4, 0.5),
            ('2026-01-03', 'bad-zero', 'EU', 'card', 0, 0, 0, 0, null, null, null);""",
        expected={
            "intents >= authorized": ("bad-auth",),
            "authorized_rate within [0, 1]": ("bad-auth",),
            "authorized >= captured": ("bad-capt",),
            "captured >= credited": ("bad-cred",),
            "captured_rate = captured / intents": ("bad-rate",),
            "intents >= 1 (a row exists only for a day with intents)": ("bad-zero",),
        },
    ),
    # fct_bets_rollup's good rows above summed per (granularity, bucket_start, brand_id,
    # currency), by hand: brand-1 has game-1 bets at 10:01:10 (100, 50) and 10:07:30 (200, 0)
    # and a game-2 bet at 11:00:10 (0, 0). 1m and 5m: one bet per bucket; 1h 10:00: 2 bets,
    # stake 100 + 200 = 300, win 50 + 0 = 50, ggr 250; 1d: 3 bets, stake 300, win 50, ggr 250.
    "fct_bets_rollup_brand": Case(
        good="""
            ('1m', '2026-01-01 10:01+00', 'brand-1', 'EUR', 1, 100, 50, 50, 0.5, '2026-01-01'),
            ('1m', '2026-01-01 10:07+00', 'brand-1', 'EUR', 1, 200, 0, 200, 0, '2026-01-01'),
            ('1m', '2026-01-01 11:00+00', 'brand-1', 'EUR', 1, 0, 0, 0, null, '2026-01-01'),
            ('5m', '2026-01-01 10:00+00', 'brand-1', 'EUR', 1, 100, 50, 50, 0.5, '2026-01-01'),
            ('5m', '2026-01-01 10:05+00', 'brand-1', 'EUR', 1, 200, 0, 200, 0, '2026-01-01'),
            ('5m', '2026-01-01 11:00+00', 'brand-1', 'EUR', 1, 0, 0, 0, null, '2026-01-01'),
            ('1h', '2026-01-01 10:00+00', 'brand-1', 'EUR', 2, 300, 50, 250, 50::numeric / 300,
                '2026-01-01'),
            ('1h', '2026-01-01 11:00+00', 'brand-1', 'EUR', 1, 0, 0, 0, null, '2026-01-01'),
            ('1d', '2026-01-01 00:00+00', 'brand-1', 'EUR', 3, 300, 50, 250, 50::numeric / 300,
                '2026-01-01')""",
        breaks=f"""
            insert into {SCHEMA}.fct_bets_rollup_brand values
            ('5m', '2026-01-02 10:00+00', 'bad-sum', 'EUR', 1, 100, 40, 60, 0.4, '2026-01-02'),
            ('1m', '2026-01-03 10:00+00', 'bad-ggr', 'EUR', 1, 100, 40, 70, 0.4, '2026-01-03');
            -- a row the rollup has: the brand mart lacks it
            delete from {SCHEMA}.fct_bets_rollup_brand
            where granularity = '1h' and bucket_start = '2026-01-01 11:00+00';""",
        expected={
            "ggr_minor = stake_minor - win_minor": ("bad-ggr",),
            "bets_settled, stake, win and ggr equal fct_bets_rollup's sums per (granularity, "
            "bucket_start, brand_id, currency)": ("bad-sum", "bad-ggr", "11:00:00"),
        },
    ),
    "fct_latency_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 1.5, 3.0, 0.8, 10, 20),
            ('2026-01-02', 'brand-1', null, null, 2.0, 0, 5),
            ('2026-01-01', 'brand-2', 0, 0, null, 1, 0)""",
        breaks=f"""insert into {SCHEMA}.fct_latency_daily values
            ('2026-01-03', 'bad-p', 5, 3, 1, 2, 2),
            ('2026-01-03', 'bad-neg', 1, 2, -0.5, 1, 1),
            ('2026-01-03', 'bad-half', 1, null, 1, 1, 1),
            ('2026-01-03', 'bad-none', null, null, null, 0, 0),
            ('2026-01-03', 'bad-events', 1, 2, 1, 1, 0);""",
        expected={
            "settle_lag_p50_s <= settle_lag_p95_s": ("bad-p",),
            "ingest_lag_p95_s >= 0": ("bad-neg",),
            "settle_lag_p50_s and settle_lag_p95_s are NULL together": ("bad-half",),
            "settle_lag_bets > 0 exactly where the settle lags are not NULL": ("bad-half",),
            "a row has a settle lag or an ingest lag": ("bad-none",),
            "ingest_lag_events > 0 exactly where ingest_lag_p95_s is not NULL": ("bad-events",),
        },
    ),
    "fct_active_players_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 2, 2, 2), ('2026-01-02', 'brand-1', 1, 2, 2),
            ('2026-01-03', 'brand-1', 2, 3, 3), ('2026-01-01', 'brand-2', 0, 0, 0),
            ('2026-01-02', 'brand-2', 1, 1, 1), ('2026-01-03', 'brand-2', 0, 1, 1)""",
        breaks=f"""insert into {SCHEMA}.fct_active_players_daily values
            ('2026-01-01', 'bad-mau', 2, 2, 1), ('2026-01-02', 'bad-mau', 0, 2, 2),
            ('2026-01-03', 'bad-mau', 0, 2, 2),
            ('2026-01-01', 'bad-sum', 1, 1, 1), ('2026-01-02', 'bad-sum', 1, 3, 3),
            ('2026-01-03', 'bad-sum', 1, 3, 3),
            ('2026-01-02', 'bad-cal', 0, 0, 0),
            ('2026-01-01', 'brand-2', 0, 0, 0);""",
        expected={
            "wau <= mau": ("bad-mau",),
            "mau >= the wau of each week inside its 30 days": ("bad-mau",),
            "wau <= the sum of the dau of its 7 days": ("bad-sum",),
            "mau <= the sum of the dau of its 30 days": ("bad-sum",),
            "every brand has a row for every day from the first to the last day": ("bad-cal",),
            PK.format("day, brand_id"): ("brand-2",),
        },
    ),
    "fct_retention": Case(
        good="""
            ('registration', '2026-01-01', 'brand-1', 0, 4, 4, 1.0),
            ('registration', '2026-01-01', 'brand-1', 1, 4, 2, 0.5),
            ('registration', '2026-01-01', 'brand-1', 2, 4, 1, 0.25),
            ('registration', '2026-01-03', 'brand-1', 0, 1, 0, 0),
            ('first_deposit', '2026-01-02', 'brand-2', 0, 2, 1, 0.5),
            ('first_deposit', '2026-01-02', 'brand-2', 1, 2, 2, 1.0)""",
        breaks=f"""insert into {SCHEMA}.fct_retention values
            ('registration', '2026-01-03', 'bad-ret', 0, 2, 3, 1.5),
            ('registration', '2026-01-03', 'bad-rate', 0, 2, 1, 0.4),
            ('install', '2026-01-03', 'bad-type', 0, 1, 0, 0),
            ('registration', '2026-01-01', 'bad-gap', 0, 1, 0, 0),
            ('registration', '2026-01-01', 'bad-gap', 2, 1, 0, 0),
            ('registration', '2026-01-03', 'bad-late', 0, 1, 0, 0),
            ('registration', '2026-01-03', 'bad-late', 1, 1, 0, 0),
            ('registration', '2026-01-01', 'bad-short', 0, 1, 0, 0),
            ('first_deposit', '2026-01-02', 'bad-size', 0, 2, 1, 0.5),
            ('first_deposit', '2026-01-02', 'bad-size', 1, 4, 1, 0.25),
            ('registration', '2026-01-03', 'brand-1', 0, 1, 0, 0);""",
        expected={
            "retained_players <= cohort_size": ("bad-ret",),
            "retention_rate within [0, 1]": ("bad-ret",),
            "retention_rate = retained_players / cohort_size": ("bad-rate",),
            "cohort_type in (registration, first_deposit)": ("bad-type",),
            "a cohort's day_offsets are 0, 1, ..., N without a gap": ("bad-gap", "brand-1"),
            "a cohort's last offset is min(30, last day with data - cohort_date) (last day "
            "from fct_active_players_daily)": ("bad-late", "bad-short"),
            "cohort_size is the same on every row of a cohort": ("bad-size",),
            PK.format("cohort_type, cohort_date, brand_id, day_offset"): ("brand-1",),
        },
    ),
    "fct_ltv": Case(
        # the cumulative NGR falls from offset 0 to 1: allowed (see the suite's docstring)
        good="""
            ('registration', '2026-01-01', 'brand-1', 0, 4, 1000, 250),
            ('registration', '2026-01-01', 'brand-1', 1, 4, 500, 125),
            ('registration', '2026-01-01', 'brand-1', 2, 4, 700, 175),
            ('registration', '2026-01-03', 'brand-1', 0, 1, -33, -33),
            ('first_deposit', '2026-01-02', 'brand-2', 0, 2, 5, 3),
            ('first_deposit', '2026-01-02', 'brand-2', 1, 2, 7, 4)""",
        breaks=f"""
            update {SCHEMA}.fct_ltv set ltv_eur_minor = 200
            where cohort_type = 'registration' and cohort_date = '2026-01-01' and day_offset = 1;
            update {SCHEMA}.fct_ltv set ltv_eur_minor = null
            where cohort_type = 'first_deposit' and day_offset = 1;
            insert into {SCHEMA}.fct_ltv values
            ('registration', '2026-01-02', 'bad-cohort', 0, 1, 0, 0),
            ('registration', '2026-01-02', 'bad-cohort', 1, 1, 0, 0),
            ('registration', '2026-01-01', 'brand-1', 3, 4, 800, 200);""",
        expected={
            "ltv_eur_minor = cumulative_ngr_eur_minor / cohort_size (both rounded)": (
                '"ltv_eur_minor": 200',
            ),
            "ltv_eur_minor and cumulative_ngr_eur_minor are NULL together": (
                '"ltv_eur_minor": null',
            ),
            "the cohorts and their sizes are those of fct_retention": ("bad-cohort",),
            "a cohort's last offset is min(90, last day with data - cohort_date) (last day "
            "from fct_active_players_daily)": ('"last_offset": 3',),
        },
    ),
    "fct_sessions_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 3, 2, 2, 600, 300),
            ('2026-01-02', 'brand-1', 1, 0, 1, 0, null)""",
        breaks=f"""insert into {SCHEMA}.fct_sessions_daily values
            ('2026-01-03', 'bad-avg', 2, 2, 1, 600, 200),
            ('2026-01-03', 'bad-done', 1, 2, 1, 600, 300),
            ('2026-01-03', 'bad-players', 1, 0, 2, 0, null),
            ('2026-01-03', 'bad-secs', 1, 0, 1, 50, null),
            ('2026-01-03', 'bad-empty', 0, 0, 0, 0, null);""",
        expected={
            "avg_session_seconds = total_session_seconds / sessions_completed": ("bad-avg",),
            "sessions_completed <= sessions_started": ("bad-done",),
            "players <= sessions_started": ("bad-players",),
            "total_session_seconds = 0 where sessions_completed = 0": ("bad-secs",),
            "sessions_started >= 1 (a row exists only for a day with sessions)": ("bad-empty",),
            "players >= 1": ("bad-empty",),
        },
    ),
    "fct_economy_daily": Case(
        good="""
            ('2026-01-01', 'brand-1', 3, 100, 40, 10, 5, 20, 499, 2, 1, 4, 0, 1),
            ('2026-01-02', 'brand-1', 0, 0, 0, 0, 0, 0, null, 0, 0, 0, 0, 0)""",
        breaks=f"""insert into {SCHEMA}.fct_economy_daily values
            ('2026-01-03', 'bad-neg', 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            ('2026-01-03', 'bad-null', 0, 0, 0, 0, 0, 0, 0, 0, 0, null, 0, 0),
            ('2026-01-03', 'bad-rev', 0, 0, 0, 0, 0, 0, -5, 0, 0, 0, 0, 0);""",
        expected={
            "credits_spent >= 0": ("bad-neg",),
            "pvp_battles is not null": ("bad-null",),
            "purchase_revenue_eur_minor >= 0": ("bad-rev",),
        },
    ),
    # points: p1 awarded on g1/t1 at 10:00, 10:10, 10:40 (5 points; minutes 10, 0, 20) and on
    # g1/t2 at 11:00 (2 points; 4 minutes); p2 on g1/t1 at 10:05 (3 points; 0 minutes)
    "fct_points_user_task": Case(
        good="""
            ('brand-1', 'g1', 't1', 'p1', 3, 15, '2026-01-01 10:00+00', '2026-01-01 10:40+00',
             1200, 1800),
            ('brand-1', 'g1', 't1', 'p2', 1, 3, '2026-01-01 10:05+00', '2026-01-01 10:05+00',
             -1, 0),
            ('brand-1', 'g1', 't2', 'p1', 1, 2, '2026-01-01 11:00+00', '2026-01-01 11:00+00',
             -1, 0)""",
        breaks=f"""insert into {SCHEMA}.fct_points_user_task values
            ('brand-1', 'g1', 't1', 'bad-sentinel', 1, 5, '2026-01-01 10:00+00',
             '2026-01-01 10:00+00', 0, 0),
            ('brand-1', 'g1', 't1', 'bad-window', 1, 5, '2026-01-01 10:00+00',
             '2026-01-01 10:00+00', -1, 5),
            ('brand-1', 'g1', 't1', 'bad-avg', 3, 5, '2026-01-01 10:00+00',
             '2026-01-01 10:40+00', 1000, 100),
            ('brand-1', 'g1', 't1', 'bad-one', 1, 5, '2026-01-01 10:00+00',
             '2026-01-01 10:00:01+00', -1, 0),
            ('brand-1', 'g1', 't2', 'p1', 1, 2, '2026-01-01 11:00+00', '2026-01-01 11:00+00',
             -1, 0);""",
        expected={
            "avg_seconds_between_awards = -1 exactly where awards < 2": ("bad-sentinel",),
            "last_window_seconds = 0 where awards < 2": ("bad-window",),
            "0 <= last_window_seconds <= last_award_at - first_award_at": ("bad-window",),
            "avg_seconds_between_awards = (last_award_at - first_award_at) / (awards - 1)": (
                "bad-avg",
            ),
            "first_award_at = last_award_at where awards = 1": ("bad-one",),
            PK.format("brand_id, game_id, task_id, player_id"): ('"task_id": "t2"',),
        },
    ),
    "fct_points_task": Case(
        good="""('brand-1', 'g1', 't1', 4, 2, 18, 800), ('brand-1', 'g1', 't2', 1, 1, 2, -1)""",
        breaks=f"""
            update {SCHEMA}.fct_points_task set players = 3, avg_seconds_between_awards = 700
            where task_id = 't1';
            update {SCHEMA}.fct_points_task set avg_seconds_between_awards = 0
            where task_id = 't2';
            insert into {SCHEMA}.fct_points_task values ('brand-1', 'g1', 't-bad', 1, 1, 1, -1);
        """,
        expected={
            "players = the number of fct_points_user_task rows of the task": (
                '"task_id": "t1"',
                "t-bad",
            ),
            "avg_seconds_between_awards = (latest last_award_at - earliest first_award_at) / "
            "(awards - 1)": ('"task_id": "t1"',),
            "avg_seconds_between_awards = -1 exactly where awards < 2": ('"task_id": "t2"',),
            "awards = the sum of fct_points_user_task.awards of the task (same tasks)": ("t-bad",),
            "total_points = the sum of fct_points_user_task.total_points of the task": ("t-bad",),
        },
    ),
    "fct_points_user_game": Case(
        good="""('brand-1', 'g1', 'p1', 4, 17, 34.0 / 3), ('brand-1', 'g1', 'p2', 1, 3, null)""",
        breaks=f"""
            update {SCHEMA}.fct_points_user_game set awards = 5 where player_id = 'p1';
            update {SCHEMA}.fct_points_user_game set avg_minutes = 0 where player_id = 'p2';""",
        expected={
            "awards = the sum of fct_points_user_task.awards over the player's tasks of the game": (
                '"player_id": "p1"',
            ),
            "avg_minutes is NULL or > 0 (a mean of non-zero minutes, minutes >= 0)": (
                '"player_id": "p2"',
            ),
        },
    ),
    "fct_points_game": Case(
        good="('brand-1', 'g1', 5, 2, 20, 34.0 / 3)",
        breaks=f"""
            update {SCHEMA}.fct_points_game set avg_minutes = 12, players = 6;
            insert into {SCHEMA}.fct_points_game values ('brand-2', 'g-bad', 1, 1, 0, null);""",
        expected={
            "avg_minutes lies between the players' smallest and largest avg_minutes, NULL "
            "exactly where all of theirs are": ('"game_id": "g1"',),
            "players <= awards": ('"game_id": "g1"',),
            "players = the number of fct_points_user_game rows of the game": ("g1", "g-bad"),
            "awards = the sum of fct_points_user_game.awards of the game (same games)": ("g-bad",),
            "total_points = the sum of fct_points_user_game.total_points of the game": ("g-bad",),
        },
    ),
    # affinity: dev-1 (player p1) chats (+3), is admin-adjusted to level 1, gets a gift, decays,
    # meets an unknown rule, then is adjusted to the maximum (level 5); dev-2 is unbound
    "fct_affinity_ledger": Case(
        good="""
            ('e1', '2026-01-01 01:00+00', 'brand-1', 'p1', 'dev-1', 'chat', 'app', 'applied',
             3, 3, 0, 3, 0, 0, 'affinity.triggered', '2026-01-01', null, null),
            ('e2', '2026-01-01 01:00:30+00', 'brand-1', 'p1', 'dev-1', 'chat', 'app',
             'noop_cooldown', 3, 0, 3, 3, 0, 0, 'affinity.triggered', '2026-01-01', null, null),
            ('e3', '2026-01-01 02:00+00', 'brand-1', 'p1', 'dev-1', 'admin', null, 'applied',
             200, 200, 3, 203, 0, 1, 'affinity.admin_adjust', '2026-01-01', 'op-1',
             'goodwill after outage 2026-01-01T01:59:00+08:00, ticket '
             || '5f0c1e9a-3b7d-4c1a-9e2f-123456789012, client 1.0.0'),
            ('e4', '2026-01-01 03:00+00', 'brand-1', 'p1', 'dev-1', 'gift', 'shop', 'applied',
             10, 10, 203, 213, 1, 1, 'affinity.triggered', '2026-01-01', null, null),
            ('e5', '2026-01-01 04:00+00', 'brand-1', 'p1', 'dev-1', 'decay', 'cron', 'applied',
             -5, -5, 213, 208, 1, 1, 'affinity.triggered', '2026-01-01', null, null),
            ('e6', '2026-01-01 05:00+00', 'brand-1', 'p1', 'dev-1', 'dance', 'app',
             'noop_no_rule', 2, 0, 208, 208, 1, 1, 'affinity.triggered', '2026-01-01', null,
             null),
            ('e7', '2026-01-01 06:00+00', 'brand-1', 'p1', 'dev-1', 'admin', null, 'applied',
             900, 792, 208, 1000, 1, 5, 'affinity.admin_adjust', '2026-01-01', 'op-1',
             'event prize 10:00:00'),
            ('e8', '2026-01-01 01:00+00', 'brand-1', 'p2', 'dev-2', 'play', 'app',
             'noop_device_unbound', 4, 0, 0, 0, 0, 0, 'affinity.triggered', '2026-01-01', null,
             null)""",
        breaks=f"""insert into {SCHEMA}.fct_affinity_ledger values
            ('bad-chain', '2026-01-01 07:00+00', 'brand-1', 'p2', 'dev-2', 'chat', 'app',
             'applied', 3, 3, 10, 13, 0, 0, 'affinity.triggered', '2026-01-01', null, null),
            ('bad-range', '2026-01-01 08:00+00', 'brand-1', 'p4', 'dev-4', 'admin', null,
             'applied', 2000, 1500, 0, 1500, 0, 5, 'affinity.admin_adjust', '2026-01-01', 'op-1',
             null),
            ('bad-noop', '2026-01-01 08:00+00', 'brand-1', 'p5', 'dev-5', 'chat', 'app',
             'noop_cooldown', 3, 3, 0, 3, 0, 0, 'affinity.triggered', '2026-01-01', null, null),
            ('bad-cap-1', '2026-01-02 01:00+00', 'brand-1', 'p6', 'dev-6', 'gift', 'shop',
             'applied', 10, 10, 0, 10, 0, 0, 'affinity.triggered', '2026-01-02', null, null),
            ('bad-cap-2', '2026-01-02 02:00+00', 'brand-1', 'p6', 'dev-6', 'gift', 'shop',
             'applied', 10, 10, 10, 20, 0, 0, 'affinity.triggered', '2026-01-02', null, null),
            ('bad-cap-3', '2026-01-02 03:00+00', 'brand-1', 'p6', 'dev-6', 'gift', 'shop',
             'applied', 10, 10, 20, 30, 0, 0, 'affinity.triggered', '2026-01-02', null, null),
            ('bad-cap-4', '2026-01-02 04:00+00', 'brand-1', 'p6', 'dev-6', 'gift', 'shop',
             'applied', 10, 10, 30, 40, 0, 0, 'affinity.triggered', '2026-01-02', null, null),
            ('e6', '2026-01-01 09:00+00', 'brand-1', 'p7', 'dev-7', 'dance', 'app',
             'noop_no_rule', 2, 0, 0, 0, 0, 0, 'affinity.triggered', '2026-01-01', null, null),
            ('bad-level', '2026-01-01 09:00+00', 'brand-1', 'p8', 'dev-8', 'chat', 'app',
             'applied', 3, 3, 0, 3, 0, 1, 'affinity.triggered', '2026-01-01', null, null),
            ('bad-outcome', '2026-01-01 09:00+00', 'brand-1', 'p9', 'dev-9', 'chat', 'app',
             'noop_magic', 3, 0, 0, 0, 0, 0, 'affinity.triggered', '2026-01-01', null, null);""",
        expected={
            "per device, before_value = the previous row's after_value (0 for its first row)": (
                "bad-chain",
            ),
            "after_value within [0, 1000]": ("bad-range",),
            "applied_change = 0 for every non-applied outcome": ("bad-noop",),
            "per device, rule and local day, the absolute applied sum <= the rule's daily_cap "
            "(local day in Asia/Shanghai)": ("dev-6",),
            PK.format("event_id"): ('"event_id": "e6"',),
            "new_level is the level of after_value (0 from 0, 1 from 100, 2 from 250, 3 from "
            "450, 4 from 700, 5 from 1000)": ("bad-level",),
            "outcome in (applied, noop_no_rule, noop_cooldown, noop_device_unbound, "
            "noop_value_boundary, noop_rule_daily_cap, noop_global_daily_cap)": ("bad-outcome",),
        },
    ),
    "dim_affinity_device": Case(
        good="""
            ('brand-1', 'p1', 'dev-1', 1000, 5, '2026-01-01 06:00+00', true, 5),
            ('brand-1', 'p2', 'dev-2', 0, 0, null, false, 0),
            ('brand-1', 'p3', 'dev-3', 0, 0, null, true, 0)""",
        breaks=f"""
            insert into {SCHEMA}.dim_affinity_device values
            ('brand-1', 'p9', 'bad-fav', 1200, 5, '2026-01-01 07:00+00', true, 5),
            ('brand-1', null, 'bad-zero', 5, 0, null, false, 0);
            update {SCHEMA}.dim_affinity_device set favorability = 990, level = 4
            where device_id = 'dev-1';
            delete from {SCHEMA}.dim_affinity_device where device_id = 'dev-2';""",
        expected={
            "favorability within [0, 1000]": ("bad-fav",),
            "a device without an applied change is at favorability 0, level 0": ("bad-zero",),
            "favorability = the after_value of the device's last ledger row": ("dev-1",),
            "every device of the ledger has a row": ("dev-2",),
        },
    ),
    "fct_affinity_rewards": Case(
        good="""
            ('brand-1', 'p1', 'dev-1', 1, 'coins', 100, '2026-01-01 02:00+00', 'e3'),
            ('brand-1', 'p1', 'dev-1', 2, 'coins', 200, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 2, 'frame_bronze', 1, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 3, 'coins', 300, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 3, 'emote_pack', 1, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 4, 'coins', 500, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 4, 'frame_silver', 1, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 5, 'coins', 1000, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 5, 'frame_gold', 1, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-1', 5, 'title_soulmate', 1, '2026-01-01 06:00+00', 'e7')""",
        breaks=f"""
            insert into {SCHEMA}.fct_affinity_rewards values
            ('brand-1', 'p1', 'dev-1', 1, 'coins', 100, '2026-01-01 02:00+00', 'e3'),
            ('brand-1', 'p2', 'dev-2', 1, 'coins', 100, '2026-01-01 01:00+00', 'e8'),
            ('brand-1', 'p3', 'dev-3', 2, 'coins', 200, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p3', 'dev-3', 2, 'frame_bronze', 1, '2026-01-01 06:00+00', 'e7'),
            ('brand-1', 'p1', 'dev-q', 1, 'coins', 99, '2026-01-01 02:00+00', 'e3');
            update {SCHEMA}.fct_affinity_rewards set event_id = 'e4',
                granted_at = '2026-01-01 03:00+00'
            where device_id = 'dev-1' and level = 3 and reward_code = 'emote_pack';""",
        expected={
            PK.format("brand_id, device_id, level, reward_code"): ("dev-1",),
            "a granted level is granted with all its reward codes of affinity_level_rewards": (
                "dev-1",
            ),
            "each grant's event is an applied ledger row of the device, at granted_at, that "
            "raised the level to at least the granted level from below it": (
                "dev-2",
                "dev-3",
                "dev-q",
                "emote_pack",
            ),
            "a device is granted every reward level up to its highest granted level": ("dev-3",),
            "(level, reward_code, quantity) is a row of affinity_level_rewards": ("dev-q",),
            "a device's level is granted by one event, once": ('"level": 3',),
        },
    ),
}

REFERENCE = """
create schema reference;
create table reference.affinity_settings (global_daily_cap integer, max_affinity integer,
    timezone text);
insert into reference.affinity_settings values (50, 1000, 'Asia/Shanghai');
create table reference.affinity_levels (level integer, min_value integer);
insert into reference.affinity_levels values (0, 0), (1, 100), (2, 250), (3, 450), (4, 700),
    (5, 1000);
create table reference.affinity_rules (rule_key text, min_change integer, max_change integer,
    single_cap integer, daily_cap integer, cooldown_seconds integer, is_enabled boolean);
insert into reference.affinity_rules values ('chat', 1, 3, 5, 20, 60, true),
    ('gift', 5, 10, 10, 30, 300, true), ('play', 2, 4, 5, 15, 120, true),
    ('decay', -5, -1, 5, 20, 0, true);
create table reference.affinity_level_rewards (level integer, reward_code text,
    quantity integer);
insert into reference.affinity_level_rewards values (1, 'coins', 100), (2, 'coins', 200),
    (2, 'frame_bronze', 1), (3, 'coins', 300), (3, 'emote_pack', 1), (4, 'coins', 500),
    (4, 'frame_silver', 1), (5, 'coins', 1000), (5, 'frame_gold', 1),
    (5, 'title_soulmate', 1);
"""


def ddl(mart: str) -> str:
    """The mart's column definitions, from its contract in the dbt manifest."""
    contract = mart_contract(mart)  # the manifest of the `manifest` fixture
    assert contract is not None, f"no contract for {mart} in the dbt manifest"
    return contract.ddl()


def build_mart(url: str, mart: str) -> None:
    case = CASES[mart]
    good = case.good.strip()
    insert = (
        good if good.lower().startswith("insert") else f"insert into {SCHEMA}.{mart} values {good};"
    )
    execute(
        url,
        f"drop table if exists {SCHEMA}.{mart};"
        f"create table {SCHEMA}.{mart} ({ddl(mart)}); {insert}",
    )


@pytest.fixture(scope="module")
def manifest(module_warehouse_url: str) -> Path:
    """The dbt manifest of the project as it is (the suites and the tables read it)."""
    return prepare_manifest(module_warehouse_url)


@pytest.fixture(scope="module")
def gold(module_warehouse_url: str, manifest: Path) -> str:
    """The test database with the reference seeds and every mart in `gold_candidate`."""
    execute(module_warehouse_url, REFERENCE + f"create schema {SCHEMA};")
    for mart in CASES:
        build_mart(module_warehouse_url, mart)
    return module_warehouse_url


@pytest.fixture(scope="module")
def gx_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dwh_home") / "gx"


def failed(validation: MartValidation) -> dict[str, str]:
    """Failed expectation -> its sample as JSON text."""
    return {o.expectation: json.dumps(o.sample) for o in validation.failures}


# --- the suites -------------------------------------------------------------------------------


def test_every_gold_mart_has_a_suite_and_a_test_case(manifest: Path) -> None:
    assert set(MARTS) == set(CASES)
    assert len(MARTS) == 17
    assert set(load_contracts(manifest)) == set(MARTS)  # the gold models of the dbt project


def test_the_contract_is_read_from_the_dbt_manifest(manifest: Path) -> None:
    contracts = load_contracts(manifest)
    # stated in dbt_project/models/gold/*/_*.yml
    ledger = contracts["fct_affinity_ledger"]
    assert ledger.domain == "affinity"
    assert ledger.grain == ("event_id",)  # a `unique` data test
    assert ledger.accepted_values == (
        (
            "outcome",
            (
                "applied",
                "noop_no_rule",
                "noop_cooldown",
                "noop_device_unbound",
                "noop_value_boundary",
                "noop_rule_daily_cap",
                "noop_global_daily_cap",
            ),
        ),
    )
    revenue = contracts["fct_revenue_daily"]
    assert revenue.grain == ("day", "brand_id", "region", "currency")  # unique_combination
    # every column but rtp and the EUR amounts (NULL without an FX rate)
    assert revenue.not_null == (
        "day",
        "brand_id",
        "region",
        "currency",
        "stake_minor",
        "win_minor",
        "ggr_minor",
        "bonus_cost_minor",
        "jackpot_minor",
        "fees_minor",
        "ngr_minor",
    )
    assert revenue.column_names[:5] == ("day", "brand_id", "region", "currency", "stake_minor")
    latency = contracts["fct_latency_daily"]
    assert latency.integer_columns == ("settle_lag_bets", "ingest_lag_events")
    assert dict(latency.columns)["settle_lag_p50_s"] == "double precision"
    assert "settle_lag_p50_s double precision" in latency.ddl()


def test_the_suite_follows_a_changed_contract(
    gold: str, gx_home: Path, manifest: Path, tmp_path: Path
) -> None:
    """A not-null constraint, a check constraint, a column and a grain changed in the manifest
    change the suite."""
    document = json.loads(manifest.read_text())
    node = document["nodes"]["model.gaming_dwh.fct_sessions_daily"]
    node["columns"]["avg_session_seconds"]["constraints"] = [{"type": "not_null"}]
    node["constraints"] = [
        {"type": "check", "name": "Started_LE_players", "expression": "sessions_started <= players"}
    ]
    node["columns"]["max_session_seconds"] = {"name": "max_session_seconds", "data_type": "bigint"}
    test = next(
        n
        for n in document["nodes"].values()
        if n.get("attached_node") == node["unique_id"]
        and n.get("test_metadata", {}).get("name") == "unique_combination"
    )
    test["test_metadata"]["kwargs"]["columns"] = ["brand_id"]
    changed = tmp_path / "manifest.json"
    changed.write_text(json.dumps(document))

    validation = validate_mart(
        gold, "fct_sessions_daily", schema=SCHEMA, gx_home=gx_home, manifest_path=changed
    )
    failures = failed(validation)
    # the good rows: 2026-01-02 has no completed session (avg NULL); brand-1 has two days;
    # 2026-01-01 has 3 sessions started by 2 players; a missing column has no type to check
    assert set(failures) == {
        "avg_session_seconds is not null",
        "sessions_started <= players (Started_LE_players)",
        "primary key (brand_id) is unique",
        next(name for name in failures if name.startswith("contract columns present")),
    }, validation.failure_message()
    assert "2026-01-02" in failures["avg_session_seconds is not null"]
    started = failures["sessions_started <= players (Started_LE_players)"]
    assert "2026-01-01" in started and "2026-01-02" not in started
    assert '"rows_with_this_key": 2' in failures["primary key (brand_id) is unique"]
    contract = next(name for name in failures if name.startswith("contract columns present"))
    assert '"missing_column": "max_session_seconds"' in failures[contract]


@pytest.mark.parametrize("mart", list(CASES))
def test_suite_passes_on_good_rows(gold: str, gx_home: Path, mart: str) -> None:
    validation = validate_mart(gold, mart, schema=SCHEMA, gx_home=gx_home)
    assert validation.success, validation.failure_message()
    assert validation.mart == mart and validation.schema == SCHEMA
    names = [o.expectation for o in validation.outcomes]
    # every expectation this test expects to fail later is evaluated (and passes) here
    assert set(CASES[mart].expected) <= set(names)
    assert len(names) == len(set(names)), "outcome names are unique"
    assert all(o.unexpected_count == 0 and o.sample == [] for o in validation.outcomes)


@pytest.mark.parametrize("mart", list(CASES))
def test_suite_fails_naming_each_broken_rule_and_its_rows(
    gold: str, gx_home: Path, mart: str
) -> None:
    case = CASES[mart]
    try:
        execute(gold, case.breaks)
        validation = validate_mart(gold, mart, schema=SCHEMA, gx_home=gx_home)
    finally:
        build_mart(gold, mart)
    assert not validation.success
    failures = failed(validation)
    assert set(failures) == set(case.expected), validation.failure_message()
    for name, markers in case.expected.items():
        for marker in markers:
            assert marker in failures[name], (name, marker, failures[name])
    message = validation.failure_message()
    assert f"{SCHEMA}.{mart}" in message
    for name in case.expected:
        assert name in message


# --- schema drift, missing tables -------------------------------------------------------------


def test_a_missing_contract_column_fails_and_blocks_only_the_rules_reading_it(
    gold: str, gx_home: Path
) -> None:
    try:
        execute(gold, f"alter table {SCHEMA}.fct_sessions_daily drop column players")
        validation = validate_mart(gold, "fct_sessions_daily", schema=SCHEMA, gx_home=gx_home)
    finally:
        build_mart(gold, "fct_sessions_daily")
    failures = failed(validation)
    contract = next(name for name in failures if name.startswith("contract columns present"))
    assert '"missing_column": "players"' in failures[contract]
    assert "missing column(s): players" in failures["players <= sessions_started"]
    assert "missing column(s): players" in failures["players >= 1"]
    assert "players is not null" in failures
    # the other rules of the row-level check still ran, and passed
    passed = {o.expectation for o in validation.outcomes if o.success}
    assert "sessions_completed <= sessions_started" in passed
    assert PK.format("day, brand_id") in passed


def test_a_non_integer_money_column_fails_its_type_expectation(gold: str, gx_home: Path) -> None:
    try:
        execute(
            gold, f"alter table {SCHEMA}.fct_revenue_daily alter column fees_minor type numeric"
        )
        validation = validate_mart(gold, "fct_revenue_daily", schema=SCHEMA, gx_home=gx_home)
    finally:
        build_mart(gold, "fct_revenue_daily")
    assert set(failed(validation)) == {"fees_minor has an integer type"}


def test_a_missing_mart_fails_without_error(
    gold: str, gx_home: Path, manifest: Path, tmp_path: Path
) -> None:
    validation = validate_mart(gold, "fct_ltv", schema="no_such_schema", gx_home=gx_home)
    assert not validation.success
    assert [o.expectation for o in validation.outcomes] == ["table no_such_schema.fct_ltv exists"]
    # a mart the dbt project no longer declares: no contract, no suite
    document = json.loads(manifest.read_text())
    del document["nodes"]["model.gaming_dwh.fct_ltv"]
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    orphan = validate_mart(
        gold, "fct_ltv", schema=SCHEMA, gx_home=gx_home, manifest_path=tmp_path / "manifest.json"
    )
    assert not orphan.success
    assert [o.expectation for o in orphan.outcomes] == [
        f"the dbt manifest {tmp_path / 'manifest.json'} has a contract for fct_ltv"
    ]
    with pytest.raises(ValueError, match="no suite"):
        validate_mart(gold, "fct_nothing", schema=SCHEMA, gx_home=gx_home)


def test_a_failing_query_fails_its_rules_and_spares_the_others(
    gold: str, gx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import expectations.runner as runner

    def with_a_broken_check(table, contract):  # type: ignore[no-untyped-def]
        suite = build_suite(table, contract)
        broken = Check(
            "broken",
            "broken",
            (Rule("broken_rule", "a rule whose query fails"),),
            "select 'broken_rule' as failed_rule from \x00batch\x00 where no_such_column > 0",
        )
        return dataclasses.replace(suite, checks=(*suite.checks, broken))

    monkeypatch.setattr(runner, "build_suite", with_a_broken_check)
    validation = validate_mart(gold, "fct_sessions_daily", schema=SCHEMA, gx_home=gx_home)
    failures = failed(validation)
    assert set(failures) == {"a rule whose query fails"}
    assert "no_such_column" in failures["a rule whose query fails"]
    assert validation.failures[0].unexpected_count is None


def test_max_affinity_comes_from_the_settings_seed_or_the_argument(
    gold: str, gx_home: Path
) -> None:
    execute(gold, "update reference.affinity_settings set max_affinity = 900")
    try:
        seeded = validate_mart(gold, "dim_affinity_device", schema=SCHEMA, gx_home=gx_home)
        argued = validate_mart(
            gold, "dim_affinity_device", schema=SCHEMA, gx_home=gx_home, max_affinity=1000
        )
    finally:
        execute(gold, "update reference.affinity_settings set max_affinity = 1000")
    assert "favorability within [0, 900]" in failed(seeded)
    assert argued.success, argued.failure_message()


# --- Data Docs, scan budget -------------------------------------------------------------------


def test_each_validation_has_its_data_docs_page_under_gx_home(gold: str, gx_home: Path) -> None:
    first, second, third = (
        validate_mart(gold, "fct_economy_daily", schema=SCHEMA, gx_home=gx_home, keep_results=2)
        for _ in range(3)
    )
    for validation in (second, third):
        assert validation.docs_path is not None and validation.docs_path.is_file()
        assert validation.docs_path.suffix == ".html"
        assert gx_home.resolve() in validation.docs_path.resolve().parents
        assert validation.seconds > 0
    assert len({first.docs_path, second.docs_path, third.docs_path}) == 3
    # retention: the oldest result of the suite is gone, with its page
    assert first.docs_path is not None and not first.docs_path.exists()
    results = gx_home / "gx" / "uncommitted" / "validations"
    kept = [p for p in results.rglob("*.json") if "fct_economy_daily" in str(p)]
    assert len(kept) == 2
    page = third.docs_path.read_text()  # type: ignore[union-attr]
    assert "gold_candidate.fct_economy_daily" in page
    assert "credits_spent &gt;= 0" in page or "credits_spent >= 0" in page
    index = gx_home / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.is_file()
    # the URL reaches GX through its runtime environment, not through this process's
    assert not any(name.startswith("DWH_GX_URL_") for name in os.environ)
    # the database password never lands in the GX project files
    password = psycopg.conninfo.conninfo_to_dict(gold).get("password")
    if password:
        for path in gx_home.rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".json", ".html"):
                assert str(password) not in path.read_text(errors="ignore"), path


def test_a_validation_session_prunes_old_results_once_for_all_its_suites(
    gold: str, gx_home: Path
) -> None:
    with validation_session(gx_home):
        runs = [
            validate_mart(gold, "fct_points_game", schema=SCHEMA, gx_home=gx_home, keep_results=1)
            for _ in range(3)
        ]
    # the pages are built on leaving the session: only the newest result is kept, and its page
    assert [run.docs_path is not None and run.docs_path.is_file() for run in runs] == [
        False,
        False,
        True,
    ]
    results = gx_home / "gx" / "uncommitted" / "validations"
    assert len([p for p in results.rglob("*.json") if "fct_points_game" in str(p)]) == 1


def test_the_gx_config_variables_file_keeps_its_settings_without_the_comments(
    gold: str, gx_home: Path
) -> None:
    validate_mart(gold, "fct_points_game", schema=SCHEMA, gx_home=gx_home)
    lines = (gx_home / "gx" / "uncommitted" / "config_variables.yml").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["instance_id"]


@pytest.fixture
def statements() -> Iterator[list[str]]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("mart", "queries"),
    [
        ("fct_bets_rollup", 3),  # row rules, primary key, rollup
        ("fct_affinity_ledger", 4),  # row rules, primary key, chain, daily caps
        ("fct_economy_daily", 2),  # row rules, primary key
    ],
)
def test_each_check_reads_the_mart_once(
    gold: str, gx_home: Path, statements: list[str], mart: str, queries: int
) -> None:
    validate_mart(gold, mart, schema=SCHEMA, gx_home=gx_home)
    reading = [s for s in statements if f"{SCHEMA}.{mart}" in s]
    assert len(reading) == queries, reading
    assert all(s.count(f"FROM {SCHEMA}.{mart}") == 1 for s in reading)
    # GX's UnexpectedRowsExpectation would run each query a second time to count its rows
    assert not any("unexpected_row_count" in s for s in statements)


def test_rule_queries_escape_braces_and_refuse_joins() -> None:
    check = Check(
        "row_rules",
        "x",
        (Rule("iso", "iso"),),
        "select 'iso' as failed_rule from \x00batch\x00 where c !~ '^[A-Z]{3}$'",
    )
    query = gx_query(check)
    assert "{batch}" in query and "{{3}}" in query
    assert query.format(batch="t").count("{3}") == 1
    joined = Check(
        "x",
        "x",
        (Rule("x", "x"),),
        "select 'x' as failed_rule from \x00batch\x00 as b join t on true",
    )
    with pytest.raises(ValueError, match="JOIN"):
        gx_query(joined)


# --- PII --------------------------------------------------------------------------------------


def test_the_gold_marts_pass_the_pii_check(gold: str, gx_home: Path) -> None:
    validation = validate_pii(gold, schema=SCHEMA, gx_home=gx_home)
    assert validation.success, validation.failure_message()
    names = [o.expectation for o in validation.outcomes]
    # one content rule per table with text columns: every one of the 17 marts has some
    assert sum(name.startswith("no e-mail, phone or IP address") for name in names) == 17
    assert validation.docs_path is not None and validation.docs_path.is_file()


def test_pii_column_names_types_and_contents_fail(gold: str, gx_home: Path) -> None:
    execute(
        gold,
        """
        create schema pii_probe;
        create table pii_probe.players (
            brand_id text, player_id text, email text, client_ip text, first_name text,
            last_name text, name text, file_name text, game_name text, vip_tier text,
            zip_code text, first_award_at timestamptz, peer inet);
        create table pii_probe.notes (id integer, note text, contact varchar(200),
            server text, peer_v6 text, payload jsonb, fine text);
        insert into pii_probe.notes values
            (1, 'please write to someone@example.com', 'call +44 20 7946 0958', 'from 10.0.0.1',
             'via 2001:db8::1', '{"mail": "x.y@mail.example.org"}', 'nothing here'),
            (2, 'ok', '(202) 555-0143', 'ok', 'fe80::1ff:fe23:4567:890a', '{}', 'still fine');
        create table pii_probe.clean (id text, note text);
        insert into pii_probe.clean values
            ('5f0c1e9a-3b7d-4c1a-9e2f-123456789012', '2026-01-01 10:00:00+00 v1.2.3 10:00:00'),
            ('p_19f3', 'brand-7 e-00000001 4915112345678 x::date 12:30 1.0.0');
    """,
    )
    validation = validate_pii(gold, schema="pii_probe", gx_home=gx_home)
    failures = failed(validation)
    names = failures[
        "no column name looks like personal data (e-mail, phone, IP address, "
        "a person's name, birth date, postal address)"
    ]
    for column in ("email", "client_ip", "first_name", "last_name", '"name"'):
        assert (
            f'"column_name": {column if column.startswith(chr(34)) else json.dumps(column)}'
            in names
        )
    for column in (
        "brand_id",
        "player_id",
        "file_name",
        "game_name",
        "vip_tier",
        "zip_code",
        "first_award_at",
    ):
        assert json.dumps(column) not in names
    assert '"peer"' in failures["no column has a network-address type (inet, cidr, macaddr)"]
    notes = next(v for k, v in failures.items() if "pii_probe.notes" in k)
    found = {(row["column_name"], row["pattern"]) for row in json.loads(notes)}
    assert found == {
        ("note", "e-mail"),
        ("contact", "phone"),
        ("server", "IPv4"),
        ("peer_v6", "IPv6"),
        ("payload", "e-mail"),
    }
    assert "someone@example.com" not in notes  # values are reported masked
    assert not any("pii_probe.clean" in name for name in failures)
    assert not any("pii_probe.players" in name for name in failures)  # no text content


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("someone@example.com", "e-mail"),
        ("Mail: A.B+c@sub.example.co.uk.", "e-mail"),
        ("+1-202-555-0143", "phone"),
        ("+4915112345678", "phone"),
        ("tel (202) 555-0143", "phone"),
        ("192.168.1.20", "IPv4"),
        ("ip=8.8.8.8;", "IPv4"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "IPv6"),
        ("::1", "IPv6"),
        ("2001:db8::", "IPv6"),
    ],
)
def test_pii_patterns_match(gold: str, value: str, pattern: str) -> None:
    with psycopg.connect(gold) as conn:
        matches = {
            label
            for label, regex in CONTENT_PATTERNS.items()
            if conn.execute("select %s ~ %s", [value, regex]).fetchone()[0]
        }  # type: ignore[index]
        # the check tests the pattern's literal first: a value that matches must hold it
        literal = CONTENT_LITERALS[pattern]
        holds = literal is None or conn.execute(
            f"select {literal.format(value='v')} from (select %s::text as v) as t", [value]
        ).fetchone() == (True,)
    assert matches == {pattern}
    assert holds


@pytest.mark.parametrize(
    "value",
    [
        "5f0c1e9a-3b7d-4c1a-9e2f-123456789012",
        "2026-01-01 10:00:00+00",
        "2026-01-01T10:00:00Z",
        "10:00:00",
        "1.0.0",
        "v1.2.3",
        "brand-7",
        "p_19f3",
        "e-00000001",
        "4915112345678",
        "x::date",
        "12:30",
        "3.14159",
        "EUR 1000.50",
        "+08:00",
        "a@b",
        "1.2.3.400",
    ],
)
def test_pii_patterns_leave_ordinary_values_alone(gold: str, value: str) -> None:
    with psycopg.connect(gold) as conn:
        matches = {
            label
            for label, regex in CONTENT_PATTERNS.items()
            if conn.execute("select %s ~ %s", [value, regex]).fetchone()[0]
        }  # type: ignore[index]
    assert matches == set()


@pytest.mark.parametrize(
    ("column", "personal"),
    [
        ("email", True),
        ("e_mail", True),
        ("user_email", True),
        ("phone", True),
        ("phone_number", True),
        ("msisdn", True),
        ("ip", True),
        ("ip_address", True),
        ("client_ip", True),
        ("ipv6", True),
        ("first_name", True),
        ("last_name", True),
        ("full_name", True),
        ("name", True),
        ("player_name", True),
        ("username", True),
        ("date_of_birth", True),
        ("Email", True),
        ("brand_id", False),
        ("game_id", False),
        ("file_name", False),
        ("game_name", False),
        ("provider_name", False),
        ("vip_tier", False),
        ("zip_code", False),
        ("shipping", False),
        ("first_award_at", False),
        ("last_window_seconds", False),
        ("reward_code", False),
        ("operator_admin_id", False),
        ("description", False),
    ],
)
def test_pii_column_name_pattern(gold: str, column: str, personal: bool) -> None:
    with psycopg.connect(gold) as conn:
        row = conn.execute("select %s ~* %s", [column, NAME_PATTERN]).fetchone()
    assert row is not None and row[0] is personal


# --- scale: ~1M rows per mart (run with `make test-slow`) -------------------------------------

# Synthetic valid marts built with generate_series, one schema per mart (no cross-mart rules).
MILLION: dict[str, str] = {
    "fct_bets_rollup": """
        create temporary table minutes as
        select 'brand-' || (s % 20) as brand_id, 'EU' as region, 'prov-' || (s % 7) as provider_id,
            'game-' || s as game_id, 'EUR' as currency,
            timestamptz '2026-01-01 00:00+00' + make_interval(mins => m) as bucket_start,
            1 + m % 3 as bets_settled, (s * 7 + m * 13) % 1000 as stake_minor,
            (s * 3 + m * 5) % 900 as win_minor
        from generate_series(1, 600) as s, generate_series(0, 1439) as m;
        insert into {t}
        select g.granularity, date_bin(g.stride, bucket_start, timestamptz '2000-01-01 00:00+00'),
            brand_id, region, provider_id, game_id, currency, sum(bets_settled),
            sum(stake_minor), sum(win_minor), sum(stake_minor) - sum(win_minor),
            sum(win_minor)::numeric / nullif(sum(stake_minor), 0),
            (date_bin(g.stride, bucket_start, timestamptz '2000-01-01 00:00+00')
                at time zone 'UTC')::date
        from minutes, (values ('1m', interval '1 minute'), ('5m', interval '5 minutes'),
            ('1h', interval '1 hour'), ('1d', interval '1 day')) as g (granularity, stride)
        group by 1, 2, 3, 4, 5, 6, 7""",
    "fct_revenue_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, 'EU', 'EUR', s, w, s - w,
            b, 1, 2, s - w - b - 3, w::numeric / nullif(s, 0), s - w, s - w - b - 3
        from generate_series(0, 999999) as i,
            lateral (select (i * 37) % 5000 as s, (i * 11) % 4000 as w, i % 7 as b) as v""",
    "fct_deposit_funnel_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, 'EU', 'card', n, n - 1, n - 2,
            n - 3, (n - 1)::numeric / n, (n - 2)::numeric / n, (n - 3)::numeric / n
        from generate_series(0, 999999) as i, lateral (select 3 + i % 50 as n) as v""",
    "fct_latency_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, p, p * 2, p / 3, 1, 1
        from generate_series(0, 999999) as i, lateral (select (i % 97) / 7.0 as p) as v""",
    "fct_active_players_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, c, c, c
        from generate_series(0, 999999) as i, lateral (select (i % 1000) % 13 as c) as v""",
    "fct_retention": """
        insert into {t}
        select ct, date '2020-01-01' + d, 'brand-' || b, o, 100 + b, (100 + b) * (o % 5) / 10,
            ((100 + b) * (o % 5) / 10)::numeric / (100 + b)
        from unnest(array['registration', 'first_deposit']) as ct, generate_series(0, 160) as d,
            generate_series(0, 99) as b, generate_series(0, 30) as o""",
    "fct_ltv": """
        insert into {t}
        select ct, date '2020-01-01' + d, 'brand-' || b, o, 10 + b, c, round(c::numeric / (10 + b))
        from unnest(array['registration', 'first_deposit']) as ct, generate_series(0, 54) as d,
            generate_series(0, 99) as b, generate_series(0, 90) as o,
            lateral (select (o * 37 - d * 11 + b) % 5000 as c) as v""",
    "fct_sessions_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, 10 + i % 5, 10, 3, 600 + i % 9,
            (600 + i % 9)::numeric / 10
        from generate_series(0, 999999) as i""",
    "fct_economy_daily": """
        insert into {t}
        select date '2020-01-01' + i / 1000, 'brand-' || i % 1000, i % 3, i % 100, i % 50, i % 7,
            i % 5, i % 11, i % 999, i % 2, i % 3, i % 4, i % 5, i % 6
        from generate_series(0, 999999) as i""",
    "fct_points_user_task": """
        insert into {t}
        select 'brand-1', 'g' || i % 100, 't' || i % 7, 'p' || i / 7, n, n * 5, f,
            f + make_interval(secs => (n - 1) * 60), case when n < 2 then -1 else 60 end,
            case when n < 2 then 0 else 60 end
        from generate_series(0, 999999) as i,
            lateral (select 1 + i % 4 as n,
                     timestamptz '2026-01-01 00:00+00' + make_interval(secs => i % 86400) as f) as v
        """,
    "fct_points_task": """
        insert into {t}
        select 'brand-' || i % 10, 'g' || i / 10 % 1000, 't' || i / 10000, n, 1 + n / 2, n * 3,
            case when n < 2 then -1 else 12.5 end
        from generate_series(0, 999999) as i, lateral (select 1 + i % 9 as n) as v""",
    "fct_points_user_game": """
        insert into {t}
        select 'brand-1', 'g' || i % 1000, 'p' || i / 1000, 1 + i % 9, i % 50,
            case when i % 3 = 0 then null else 1 + i % 17 / 3.0 end
        from generate_series(0, 999999) as i""",
    "fct_points_game": """
        insert into {t}
        select 'brand-' || i % 10, 'g' || i / 10, 10 + i % 9, 1 + i % 9, i % 50,
            case when i % 3 = 0 then null else 1 + i % 17 / 3.0 end
        from generate_series(0, 999999) as i""",
    # 10,000 devices x 100 events, every 6 hours: chat +3 three times, then an admin reset
    "fct_affinity_ledger": """
        insert into {t}
        select 'e-' || d || '-' || k, timestamptz '2026-01-01 00:00+00'
                + make_interval(hours => 6 * k),
            'brand-1', 'p' || d, 'dev-' || d,
            case when k % 4 = 3 then 'admin' else 'chat' end,
            case when k % 4 = 3 then null else 'app' end, 'applied',
            case when k % 4 = 3 then -9 else 3 end, case when k % 4 = 3 then -9 else 3 end,
            3 * (k % 4), case when k % 4 = 3 then 0 else 3 * (k % 4) + 3 end, 0, 0,
            case when k % 4 = 3 then 'affinity.admin_adjust' else 'affinity.triggered' end,
            ((timestamptz '2026-01-01 00:00+00' + make_interval(hours => 6 * k))
                at time zone 'Asia/Shanghai')::date
        from generate_series(1, 10000) as d, generate_series(0, 99) as k""",
    "dim_affinity_device": """
        insert into {t}
        select 'brand-1', 'p' || i, 'dev-' || i, f,
            case when f >= 1000 then 5 when f >= 700 then 4 when f >= 450 then 3
                 when f >= 250 then 2 when f >= 100 then 1 else 0 end,
            timestamptz '2026-01-01 00:00+00', true, 5
        from generate_series(1, 1000000) as i, lateral (select 1 + i % 1000 as f) as v""",
    "fct_affinity_rewards": """
        insert into {t}
        select 'brand-1', 'p' || d, 'dev-' || d, r.level, r.reward_code, r.quantity,
            timestamptz '2026-01-01 00:00+00', 'e-' || d
        from generate_series(1, 100000) as d, reference.affinity_level_rewards as r""",
}


@pytest.mark.slow
@pytest.mark.parametrize("mart", list(MILLION))
def test_validation_time_on_a_million_rows(
    gold: str, gx_home: Path, mart: str, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("scale test (minutes): run with -m slow")
    schema = f"scale_{mart}"
    table = f"{schema}.{mart}"
    execute(
        gold,
        f"drop schema if exists {schema} cascade; create schema {schema};"
        f"create table {table} ({ddl(mart)});"
        + MILLION[mart].format(t=table)
        + f"; analyze {table};",
    )
    rows = psycopg.connect(gold).execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
    validate_mart(gold, mart, schema=schema, gx_home=gx_home)  # warm the cache once
    started = time.perf_counter()
    validation = validate_mart(gold, mart, schema=schema, gx_home=gx_home)
    seconds = time.perf_counter() - started
    print(f"\n{mart}: {rows} rows validated in {seconds:.2f} s")
    assert validation.success, validation.failure_message()
    assert rows >= 950_000
    assert seconds < 60
