"""Revenue and payments marts: gold_candidate.fct_bets_rollup, fct_bets_rollup_brand,
fct_revenue_daily, fct_deposit_funnel_daily and fct_latency_daily, over silver int_bets and
int_payments, and the bet money facts that fct_ltv shares with them.

One hand-made data set lands in three batches; the module's database is built incrementally
after each batch (duplicates in the same and in a later batch, an invalid payload, an unknown
type, late events within the lookback, resettlements in a later batch: one later, which
supersedes the first settlement and moves its bet from D3 to D4, one earlier, which is
superseded at once; and a second payment.intent that moves a payment to an earlier day, so D3
is left empty). Every row of every mart is compared with values computed by hand below; a
second database lands the same files and builds once, and must hold identical tables.

Days: D1 = 2026-03-01, D2 = 2026-03-02, D3 = 2026-03-03, D4 = 2026-03-04, and 2028-01-02
(after the last FX date of the seed, 2027-12-31). FX rates of the seed reference.fx_rates_daily
used below (EUR per unit; 2 minor units): BRL 2026-03-01 0.179224, USD 2027-12-31 0.924897, EUR 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.events import at, build, event, land_events, query, table_snapshot

D1, D2, D3, D4 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
D2028 = date(2028, 1, 2)
SELECT = (
    "--select",
    "+fct_bets_rollup",
    "+fct_bets_rollup_brand",
    "+fct_revenue_daily",
    "+fct_deposit_funnel_daily",
    "+fct_latency_daily",
    "+fct_ltv",
    "+dq_superseded_settlements",
)
# dbt unit tests do not depend on the data: they run in the first build only
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
GOLD = (
    "gold_candidate.fct_bets_rollup",
    "gold_candidate.fct_bets_rollup_brand",
    "gold_candidate.fct_revenue_daily",
    "gold_candidate.fct_deposit_funnel_daily",
    "gold_candidate.fct_latency_daily",
    "gold_candidate.fct_ltv",
)
SILVER = ("silver.int_bets", "silver.int_payments", "silver.int_player_revenue_daily")


def ev(
    event_id: str,
    event_type: str,
    when: str,
    *,
    player: str = "p1",
    brand: str = "brand-1",
    region: str = "EU",
    ingested: str | None = None,
    **payload: Any,
) -> dict[str, Any]:
    return event(
        event_type,
        at(when),
        event_id=event_id,
        player=player,
        brand=brand,
        region=region,
        ingested_at=at(ingested) if ingested else None,
        **payload,
    )


def placed(
    event_id: str,
    bet: str,
    when: str,
    stake: int,
    *,
    game: str = "g1",
    provider: str = "pr1",
    currency: str = "EUR",
    **envelope: Any,
) -> dict[str, Any]:
    return ev(
        event_id,
        "bet.placed",
        when,
        bet_id=bet,
        game_id=game,
        provider_id=provider,
        stake_minor=stake,
        currency=currency,
        in_bonus=False,
        **envelope,
    )


def settled(
    event_id: str,
    bet: str,
    when: str,
    stake: int,
    win: int,
    *,
    game: str = "g1",
    provider: str = "pr1",
    currency: str = "EUR",
    **envelope: Any,
) -> dict[str, Any]:
    return ev(
        event_id,
        "bet.settled",
        when,
        bet_id=bet,
        game_id=game,
        provider_id=provider,
        stake_minor=stake,
        win_minor=win,
        currency=currency,
        in_bonus=False,
        **envelope,
    )


def payment(
    event_id: str, step: str, pay: str, when: str, *, method: str = "card", **extra: Any
) -> dict[str, Any]:
    return ev(
        event_id,
        f"payment.{step}",
        when,
        payment_id=pay,
        amount_minor=1000,
        currency="EUR",
        method=method,
        **extra,
    )


def credit(event_id: str, pay: str, when: str, reason: str = "deposit") -> dict[str, Any]:
    return ev(
        event_id,
        "wallet.credit",
        when,
        amount_minor=1000,
        currency="EUR",
        reason=reason,
        reference_id=pay,
    )


S1 = settled("S1", "b1", "2026-03-01 10:00:30", 1000, 0, ingested="2026-03-01 10:00:31")
I1 = payment("I1", "intent", "pay1", "2026-03-01 09:00:00", ingested="2026-03-01 09:00:04")

BATCH_1 = [
    # p1 of brand-1 (every brand-1 event's player) registers and first deposits on D1: both
    # LTV cohorts of D1 hold p1 alone, so their LTV is p1's NGR
    ev("R1", "player.registered", "2026-03-01 08:00:00"),
    placed("P1", "b1", "2026-03-01 10:00:00", 1000, ingested="2026-03-01 10:00:02"),
    S1,
    placed("P2", "b2", "2026-03-01 10:01:00", 500),
    settled("S2", "b2", "2026-03-01 10:02:10", 500, 1500),
    # placed before midnight, settled after: counts on D2 with a 40 s lag
    placed("P3", "b3", "2026-03-01 23:59:40", 200, game="g2"),
    settled("S3", "b3", "2026-03-02 00:00:20", 200, 100, game="g2"),
    # settled without a placed event: counts in revenue and rollups, has no settle lag
    settled("S4", "b4", "2026-03-01 10:03:00", 300, 300),
    placed("P5", "b5", "2026-03-02 09:00:00", 100),  # settled in batch 2
    placed(
        "P6",
        "b6",
        "2026-03-01 12:00:00",
        10000,
        game="g3",
        provider="pr2",
        currency="BRL",
        brand="brand-2",
        region="LATAM",
    ),
    settled(
        "S6",
        "b6",
        "2026-03-01 12:00:10",
        10000,
        2000,
        game="g3",
        provider="pr2",
        currency="BRL",
        brand="brand-2",
        region="LATAM",
        ingested="2026-03-01 12:00:20",
    ),
    # invalid payload (negative stake) and unknown type: in no mart, not even in ingest lags
    settled("X1", "b_bad", "2026-03-01 11:00:00", -5, 0, ingested="2026-03-01 11:01:40"),
    ev("U1", "shop.opened", "2026-03-01 11:00:00", ingested="2026-03-01 11:01:40"),
    S1,  # a duplicate in the same file
    # pay1 reaches every step
    I1,
    payment("A1", "authorized", "pay1", "2026-03-01 09:01:00"),
    payment("C1", "captured", "pay1", "2026-03-01 09:02:00", fee_minor=30),
    credit("W1", "pay1", "2026-03-01 09:03:00"),
    # pay2 is authorized before its intent: stops at step 1 (its fee still counts in NGR)
    payment("I2", "intent", "pay2", "2026-03-01 09:10:00"),
    payment("A2", "authorized", "pay2", "2026-03-01 09:09:00"),
    payment("C2", "captured", "pay2", "2026-03-01 09:12:00", fee_minor=10),
    # pay3 is captured exactly 3600 s after its intent (counted), credited 1 s too late
    payment("I3", "intent", "pay3", "2026-03-01 09:20:00"),
    payment("A3", "authorized", "pay3", "2026-03-01 09:30:00"),
    payment("C3", "captured", "pay3", "2026-03-01 10:20:00"),
    credit("W3", "pay3", "2026-03-01 10:20:01"),
    payment("I4", "intent", "pay4", "2026-03-01 11:00:00", method="pix"),
    ev(
        "F4",
        "payment.failed",
        "2026-03-01 11:01:00",
        payment_id="pay4",
        method="pix",
        error_code="insufficient_funds",
    ),
    ev(
        "BO1",
        "bonus.consumed",
        "2026-03-01 15:00:00",
        bonus_id="bo1",
        amount_minor=50,
        currency="EUR",
    ),
    ev(
        "J1",
        "jackpot.contribution",
        "2026-03-01 15:00:00",
        game_id="g1",
        amount_minor=20,
        currency="EUR",
    ),
]

BATCH_2 = [
    settled("S5", "b5", "2026-03-02 09:00:05", 100, 0),
    S1,  # a duplicate in a later batch
    payment("I5", "intent", "pay5", "2026-03-02 08:00:00", ingested="2026-03-02 08:00:06"),
    payment("A5", "authorized", "pay5", "2026-03-02 08:00:10"),
    payment("C5", "captured", "pay5", "2026-03-02 08:00:20"),  # no fee_minor: 0
    credit("W5", "pay5", "2026-03-02 08:00:30"),
    # late (D1 after D2 was processed), within the lookback
    placed("P7", "b7", "2026-03-01 13:00:00", 400),
    settled("S7", "b7", "2026-03-01 13:00:15", 400, 0, ingested="2026-03-01 13:00:18"),
    # b8 and pay6 are, for now, the only bet and payment of D3
    placed("P8", "b8", "2026-03-02 22:59:00", 700),
    settled("S8", "b8", "2026-03-03 12:00:00", 700, 700),
    payment("I6", "intent", "pay6", "2026-03-03 10:00:00"),
]

BATCH_3 = [
    # resettlements with new event ids, later than the first ones: they supersede them (b2
    # moves from the 10:02 to the 10:04 minute with win 1200, b8 from D3 to D4 with win 350)
    settled("S2b", "b2", "2026-03-01 10:04:30", 500, 1200),
    settled("S8b", "b8", "2026-03-04 08:00:00", 700, 350),
    # a settlement re-sent under a new id, earlier than b5's S5: superseded by S5 at once
    settled("S5b", "b5", "2026-03-02 09:00:01", 100, 50),
    # an earlier second intent moves pay6 from D3 to D1
    payment("I6b", "intent", "pay6", "2026-03-01 20:00:00"),
    payment("A6", "authorized", "pay6", "2026-03-01 20:05:00"),
    I1,  # a duplicate
    # after the seed's last FX date: converted at the 2027-12-31 rate
    settled(
        "S9",
        "b9",
        "2028-01-02 10:00:00",
        1234,
        0,
        game="g4",
        provider="pr3",
        currency="USD",
        brand="brand-3",
        region="NA",
    ),
]

BATCHES = (BATCH_1, BATCH_2, BATCH_3)


@dataclass
class Built:
    url: str  # built incrementally, once after each batch
    full_url: str  # the same files landed, built once
    d3_after_batch_2: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def d3_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        relation: query(url, f"select * from {relation} where day = %s", [D3])
        for relation in (
            "gold_candidate.fct_bets_rollup",
            "gold_candidate.fct_bets_rollup_brand",
            "gold_candidate.fct_revenue_daily",
            "gold_candidate.fct_deposit_funnel_daily",
            "gold_candidate.fct_latency_daily",
        )
    }


@pytest.fixture(scope="module")
def built(
    module_warehouse_url: str, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    files = tmp_path_factory.mktemp("revenue_files")
    result = Built(url=module_warehouse_url, full_url=databases.create())
    paths: list[Path] = []
    with pytest.MonkeyPatch.context() as patch:
        # The 2028 event lies beyond the landing's default window of 1 day into the future.
        patch.setenv("DWH_FUTURE_TOLERANCE", "800d")
        for number, batch in enumerate(BATCHES, start=1):
            path = files / f"revenue-{number}.ndjson"
            land_events(result.url, path, batch)
            paths.append(path)
            build(result.url, *SELECT, *(NO_UNIT_TESTS if number > 1 else ()))
            if number == 2:
                result.d3_after_batch_2 = d3_rows(result.url)
        for path, batch in zip(paths, BATCHES, strict=True):
            land_events(result.full_url, path, batch)  # the same bytes, in the same order
    build(result.full_url, *SELECT, *NO_UNIT_TESTS)
    return result


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Ratios and percentiles compared to 9 decimals (numeric scale / float noise aside)."""
    return tuple(round(float(v), 9) if isinstance(v, Decimal | float) else v for v in row)


def rows(url: str, relation: str, columns: str, order_by: str) -> list[tuple[Any, ...]]:
    return [rounded(r) for r in query(url, f"select {columns} from {relation} order by {order_by}")]


def all_granularities(
    start: str, day: date, slice_: tuple[str, ...], facts: tuple[int, int, int]
) -> list[tuple[Any, ...]]:
    """The rows of one bet alone in its minute, 5 minutes, hour and day (of its slice)."""
    bets, stake, win = facts
    starts = {
        "1m": start,
        "5m": start,
        "1h": start[:14] + "00:00",
        "1d": start[:11] + "00:00:00",
    }
    return [
        (g, ts(s), *slice_, bets, stake, win, stake - win, round(win / stake, 9), day)
        for g, s in starts.items()
    ]


def test_bets_rollup(built: Built) -> None:
    eur_g1 = ("brand-1", "EU", "pr1", "g1", "EUR")
    eur_g2 = ("brand-1", "EU", "pr1", "g2", "EUR")
    expected = [
        # brand-1 g1 on D1: b1 10:00:30, b4 10:03:00 (no placed event), b2 10:04:30 (its
        # resettlement S2b, win 1200; S2 at 10:02:10 is superseded), b7 13:00:15 (late)
        ("1m", ts("2026-03-01 10:00"), *eur_g1, 1, 1000, 0, 1000, 0.0, D1),
        ("1m", ts("2026-03-01 10:03"), *eur_g1, 1, 300, 300, 0, 1.0, D1),
        ("1m", ts("2026-03-01 10:04"), *eur_g1, 1, 500, 1200, -700, 2.4, D1),
        ("1m", ts("2026-03-01 13:00"), *eur_g1, 1, 400, 0, 400, 0.0, D1),
        ("5m", ts("2026-03-01 10:00"), *eur_g1, 3, 1800, 1500, 300, round(1500 / 1800, 9), D1),
        ("5m", ts("2026-03-01 13:00"), *eur_g1, 1, 400, 0, 400, 0.0, D1),
        ("1h", ts("2026-03-01 10:00"), *eur_g1, 3, 1800, 1500, 300, round(1500 / 1800, 9), D1),
        ("1h", ts("2026-03-01 13:00"), *eur_g1, 1, 400, 0, 400, 0.0, D1),
        ("1d", ts("2026-03-01 00:00"), *eur_g1, 4, 2200, 1500, 700, round(1500 / 2200, 9), D1),
        # brand-1 g1 on D2: b5 09:00:05 (S5, not the earlier re-sent S5b with win 50)
        *all_granularities("2026-03-02 09:00:00", D2, eur_g1, (1, 100, 0)),
        # on D4: b8 08:00:00, its resettlement S8b (moved from D3), win 350
        *all_granularities("2026-03-04 08:00:00", D4, eur_g1, (1, 700, 350)),
        # b3: placed on D1, settled 00:00:20 on D2
        *all_granularities("2026-03-02 00:00:00", D2, eur_g2, (1, 200, 100)),
        *all_granularities(
            "2026-03-01 12:00:00", D1, ("brand-2", "LATAM", "pr2", "g3", "BRL"), (1, 10000, 2000)
        ),
        *all_granularities(
            "2028-01-02 10:00:00", D2028, ("brand-3", "NA", "pr3", "g4", "USD"), (1, 1234, 0)
        ),
    ]
    order = "brand_id, game_id, day, granularity, bucket_start"
    actual = rows(
        built.url,
        "gold_candidate.fct_bets_rollup",
        "granularity, bucket_start, brand_id, region, provider_id, game_id, currency, "
        "bets_settled, stake_minor, win_minor, ggr_minor, rtp, day",
        order,
    )
    # the same order as `order`: brand_id, game_id, day, granularity, bucket_start
    assert actual == sorted(expected, key=lambda r: (r[2], r[5], r[12], r[0], r[1]))


def test_bets_rollup_sums_agree_across_granularities(built: Built) -> None:
    sums = query(
        built.url,
        """
        select brand_id, region, provider_id, game_id, currency, granularity,
               sum(bets_settled), sum(stake_minor), sum(win_minor), sum(ggr_minor)
        from gold_candidate.fct_bets_rollup group by 1, 2, 3, 4, 5, 6""",
    )
    by_slice: dict[tuple[Any, ...], dict[str, tuple[Any, ...]]] = {}
    for *slice_, granularity, b, s, w, g in sums:
        by_slice.setdefault(tuple(slice_), {})[granularity] = (b, s, w, g)
    assert len(by_slice) == 4
    for slice_, per_granularity in by_slice.items():
        assert set(per_granularity) == {"1m", "5m", "1h", "1d"}, slice_
        assert len(set(per_granularity.values())) == 1, (slice_, per_granularity)


def test_bets_rollup_brand(built: Built) -> None:
    """test_bets_rollup's rows summed by hand over region, provider and game per
    (granularity, bucket_start, brand_id, currency)."""

    b1 = ("brand-1", "EUR")
    expected = [
        # D1: only g1 bets (b1, b4, b2, b7), so the rows of test_bets_rollup's g1 slice
        ("1m", ts("2026-03-01 10:00"), *b1, 1, 1000, 0, 1000, 0.0, D1),
        ("1m", ts("2026-03-01 10:03"), *b1, 1, 300, 300, 0, 1.0, D1),
        ("1m", ts("2026-03-01 10:04"), *b1, 1, 500, 1200, -700, 2.4, D1),
        ("1m", ts("2026-03-01 13:00"), *b1, 1, 400, 0, 400, 0.0, D1),
        ("5m", ts("2026-03-01 10:00"), *b1, 3, 1800, 1500, 300, round(1500 / 1800, 9), D1),
        ("5m", ts("2026-03-01 13:00"), *b1, 1, 400, 0, 400, 0.0, D1),
        ("1h", ts("2026-03-01 10:00"), *b1, 3, 1800, 1500, 300, round(1500 / 1800, 9), D1),
        ("1h", ts("2026-03-01 13:00"), *b1, 1, 400, 0, 400, 0.0, D1),
        ("1d", ts("2026-03-01 00:00"), *b1, 4, 2200, 1500, 700, round(1500 / 2200, 9), D1),
        # D2: b3 (g2) at 00:00:20 (200, 100) and b5 (g1) at 09:00:05 (100, 0) are in different
        # minutes, 5 minutes and hours; the day sums them: 2 bets, stake 200 + 100 = 300, win
        # 100 + 0 = 100, ggr 200, rtp 100 / 300
        ("1m", ts("2026-03-02 00:00"), *b1, 1, 200, 100, 100, 0.5, D2),
        ("1m", ts("2026-03-02 09:00"), *b1, 1, 100, 0, 100, 0.0, D2),
        ("5m", ts("2026-03-02 00:00"), *b1, 1, 200, 100, 100, 0.5, D2),
        ("5m", ts("2026-03-02 09:00"), *b1, 1, 100, 0, 100, 0.0, D2),
        ("1h", ts("2026-03-02 00:00"), *b1, 1, 200, 100, 100, 0.5, D2),
        ("1h", ts("2026-03-02 09:00"), *b1, 1, 100, 0, 100, 0.0, D2),
        ("1d", ts("2026-03-02 00:00"), *b1, 2, 300, 100, 200, round(100 / 300, 9), D2),
        # D4: b8's resettlement S8b at 08:00:00
        *all_granularities("2026-03-04 08:00:00", D4, b1, (1, 700, 350)),
        *all_granularities("2026-03-01 12:00:00", D1, ("brand-2", "BRL"), (1, 10000, 2000)),
        *all_granularities("2028-01-02 10:00:00", D2028, ("brand-3", "USD"), (1, 1234, 0)),
    ]
    actual = rows(
        built.url,
        "gold_candidate.fct_bets_rollup_brand",
        "granularity, bucket_start, brand_id, currency, bets_settled, stake_minor, win_minor, "
        "ggr_minor, rtp, day",
        "brand_id, day, granularity, bucket_start",
    )
    assert actual == sorted(expected, key=lambda r: (r[2], r[9], r[0], r[1]))


def test_revenue_daily(built: Built) -> None:
    # Each bet once, with its last settlement, as in the rollup: S2, S5b and S8 count nowhere.
    assert rows(built.url, "gold_candidate.fct_revenue_daily", "*", "day, brand_id") == [
        # stake b1 1000 + b2 500 + b4 300 + b7 400, win 0 + 1200 + 300 + 0; bonus 50,
        # jackpot 20, fees 30 (pay1) + 10 (pay2) + 0 (pay3); NGR = 700 - 50 - 20 - 40
        (
            D1,
            "brand-1",
            "EU",
            "EUR",
            2200,
            1500,
            700,
            50,
            20,
            40,
            590,
            round(1500 / 2200, 9),
            700,
            590,
        ),
        # 8000 BRL x 0.179224 = 1433.792 -> 1434
        (D1, "brand-2", "LATAM", "BRL", 10000, 2000, 8000, 0, 0, 0, 8000, 0.2, 1434, 1434),
        # S3 (200/100), S5 (100/0); pay5's capture has no fee
        (D2, "brand-1", "EU", "EUR", 300, 100, 200, 0, 0, 0, 200, round(1 / 3, 9), 200, 200),
        # D3 has no row: S8 is superseded by S8b (700/350) on D4
        (D4, "brand-1", "EU", "EUR", 700, 350, 350, 0, 0, 0, 350, 0.5, 350, 350),
        # 1234 USD x 0.924897 (2027-12-31, the latest rate on or before) = 1141.322898 -> 1141
        (D2028, "brand-3", "NA", "USD", 1234, 0, 1234, 0, 0, 0, 1234, 0.0, 1141, 1141),
    ]


def test_deposit_funnel_daily(built: Built) -> None:
    assert rows(built.url, "gold_candidate.fct_deposit_funnel_daily", "*", "day, method") == [
        # pay1 all steps; pay2 authorized before its intent; pay3 captured at the window's
        # end, credited after it; pay6 (moved from D3 by its earlier intent) authorized
        (D1, "brand-1", "EU", "card", 4, 3, 2, 1, 0.75, 0.5, 0.25),
        (D1, "brand-1", "EU", "pix", 1, 0, 0, 0, 0.0, 0.0, 0.0),
        (D2, "brand-1", "EU", "card", 1, 1, 1, 1, 1.0, 1.0, 1.0),
    ]


def test_latency_daily(built: Built) -> None:
    assert rows(built.url, "gold_candidate.fct_latency_daily", "*", "day, brand_id") == [
        # settle lags b7 15, b1 30, b2 210 (S2b 10:04:30 - P2 10:01:00): p50 30,
        # p95 = 30 + 0.9 x 180 = 192; ingest lags S1 1, P1 2, S7 3, I1 4 (X1 invalid and U1
        # unknown left out): p95 = 3 + 0.85 x 1 = 3.85
        (D1, "brand-1", 30.0, 192.0, 3.85, 3, 4),
        (D1, "brand-2", 10.0, 10.0, 10.0, 1, 1),
        # b5 5 (S5; S5b is superseded), b3 40 (across midnight): p50 22.5,
        # p95 = 5 + 0.95 x 35 = 38.25
        (D2, "brand-1", 22.5, 38.25, 6.0, 2, 1),
        # b8: S8b 03-04 08:00 - P8 03-02 22:59 = 33 h 1 min = 118860 s
        (D4, "brand-1", 118860.0, 118860.0, None, 1, 0),
    ]


def test_moved_bet_and_payment_leave_no_stale_day(built: Built) -> None:
    # after batch 2, D3 held b8 (settled 12:00, 46860 s after being placed) and pay6
    before = {
        relation: [rounded(r) for r in found] for relation, found in built.d3_after_batch_2.items()
    }
    assert before["gold_candidate.fct_bets_rollup"] == [
        (g, ts(s), "brand-1", "EU", "pr1", "g1", "EUR", 1, 700, 700, 0, 1.0, D3)
        for g, s in (
            ("1m", "2026-03-03 12:00"),
            ("5m", "2026-03-03 12:00"),
            ("1h", "2026-03-03 12:00"),
            ("1d", "2026-03-03 00:00"),
        )
    ]
    # d3_rows reads without an order: compare sorted
    assert sorted(before["gold_candidate.fct_bets_rollup_brand"]) == [
        (g, ts(s), "brand-1", "EUR", 1, 700, 700, 0, 1.0, D3)
        for g, s in (
            ("1d", "2026-03-03 00:00"),
            ("1h", "2026-03-03 12:00"),
            ("1m", "2026-03-03 12:00"),
            ("5m", "2026-03-03 12:00"),
        )
    ]
    assert before["gold_candidate.fct_revenue_daily"] == [
        (D3, "brand-1", "EU", "EUR", 700, 700, 0, 0, 0, 0, 0, 1.0, 0, 0)
    ]
    assert before["gold_candidate.fct_deposit_funnel_daily"] == [
        (D3, "brand-1", "EU", "card", 1, 0, 0, 0, 0.0, 0.0, 0.0)
    ]
    assert before["gold_candidate.fct_latency_daily"] == [
        (D3, "brand-1", 46860.0, 46860.0, None, 1, 0)
    ]
    assert d3_rows(built.url) == {relation: [] for relation in before}


def test_superseded_settlements_are_listed_in_audit(built: Built) -> None:
    assert query(
        built.url,
        "select event_id, bet_id, occurred_at, stake_minor, win_minor, superseded_by_event_id "
        "from audit.dq_superseded_settlements order by event_id",
    ) == [
        ("S2", "b2", ts("2026-03-01 10:02:10"), 500, 1500, "S2b"),
        ("S5b", "b5", ts("2026-03-02 09:00:01"), 100, 50, "S5"),
        ("S8", "b8", ts("2026-03-03 12:00:00"), 700, 700, "S8b"),
    ]


def test_ltv_counts_each_bet_once_like_revenue(built: Built) -> None:
    # p1 is both D1 cohorts of brand-1 alone; its NGR per day (EUR) is fct_revenue_daily's:
    # D1 590, D2 200, D3 0, D4 350, nothing later (brand-3's 2028 bet is another brand's)
    cumulative = {0: 590, 1: 790, 2: 790, 3: 1140, 4: 1140, 90: 1140}
    for cohort_type in ("first_deposit", "registration"):
        found = dict(
            query(
                built.url,
                "select day_offset, cumulative_ngr_eur_minor from gold_candidate.fct_ltv "
                "where cohort_type = %s and cohort_date = %s and brand_id = 'brand-1' "
                "and day_offset in (0, 1, 2, 3, 4, 90)",
                [cohort_type, D1],
            )
        )
        assert found == cumulative, cohort_type
    # and the three marts agree day by day on what they share
    agreement = query(
        built.url,
        """
        select revenue.day, revenue.ggr_minor, rollup.ggr_minor, revenue.ngr_minor,
               ltv.ngr_minor
        from gold_candidate.fct_revenue_daily as revenue
        left join (
            select day, sum(ggr_minor) as ggr_minor from gold_candidate.fct_bets_rollup
            where granularity = '1d' and brand_id = 'brand-1' group by day
        ) as rollup on rollup.day = revenue.day
        left join (
            select cohort_date + day_offset as day,
                   cumulative_ngr_eur_minor - coalesce(lag(cumulative_ngr_eur_minor) over (
                       order by day_offset), 0) as ngr_minor
            from gold_candidate.fct_ltv
            where cohort_type = 'registration' and cohort_date = %s and brand_id = 'brand-1'
        ) as ltv on ltv.day = revenue.day
        where revenue.brand_id = 'brand-1' order by revenue.day""",
        [D1],
    )
    assert agreement == [
        (D1, 700, 700, 590, 590),
        (D2, 200, 200, 200, 200),
        (D4, 350, 350, 350, 350),
    ]


def test_silver_bets_and_payments(built: Built) -> None:
    assert query(
        built.url,
        """
        select bet_id, placed_event_id, settled_event_id, settled_date, first_settlement_date,
               settle_lag_seconds, stake_minor, win_minor, placed_events, settled_events
        from silver.int_bets where bet_id in ('b2', 'b4', 'b5', 'b8') order by bet_id""",
    ) == [
        ("b2", "P2", "S2b", D1, D1, Decimal(210), 500, 1200, 1, 2),
        ("b4", None, "S4", D1, D1, None, 300, 300, 0, 1),
        ("b5", "P5", "S5", D2, D2, Decimal(5), 100, 0, 1, 2),
        ("b8", "P8", "S8b", D4, D3, Decimal(118860), 700, 350, 1, 2),
    ]
    assert query(built.url, "select count(*) from silver.int_bets") == [(9,)]
    assert query(
        built.url,
        """
        select payment_id, intent_event_id, intent_date, latest_intent_date, method,
               authorized_at, captured_at, credited_at, intent_events
        from silver.int_payments where payment_id in ('pay1', 'pay6') order by payment_id""",
    ) == [
        (
            "pay1",
            "I1",
            D1,
            D1,
            "card",
            ts("2026-03-01 09:01"),
            ts("2026-03-01 09:02"),
            ts("2026-03-01 09:03"),
            1,
        ),
        ("pay6", "I6b", D1, D3, "card", ts("2026-03-01 20:05"), None, None, 2),
    ]


def test_incremental_runs_equal_one_full_build(built: Built) -> None:
    for relation in GOLD + SILVER:
        incremental = table_snapshot(built.url, relation)
        assert incremental, relation
        assert incremental == table_snapshot(built.full_url, relation), relation


def test_incremental_lookups_are_indexed(built: Built) -> None:
    indexes = {
        (table, definition.split(" USING ")[1])
        for table, definition in query(
            built.url,
            "select tablename, indexdef from pg_indexes where schemaname = 'silver' "
            "and tablename in ('int_bets', 'int_payments')",
        )
    }
    assert indexes >= {
        ("int_bets", "btree (bet_id)"),
        ("int_bets", "btree (batch_id)"),
        ("int_bets", "btree (settled_date)"),
        ("int_payments", "btree (payment_id)"),
        ("int_payments", "btree (batch_id)"),
        ("int_payments", "btree (intent_date)"),
    }
