"""Player marts (docs/metrics.md, "Players"): fct_active_players_daily, fct_sessions_daily,
fct_retention, fct_ltv and their silver models, on a small hand-made event set.

The events land in three batches, with an incremental build after each: late events within
the 3-day lookback (batch 2) and far beyond it (batch 3), byte-identical duplicates in later
batches, a session whose end lands a batch before its start, a player who registers twice.
Every expected value below was computed by hand from the events; the last test rebuilds
everything once in a fresh database and requires the same tables.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.events import at, build, event, land_events, query, table_snapshot
from warehouse.dbt import run_dbt

GOLD = ["fct_active_players_daily", "fct_sessions_daily", "fct_retention", "fct_ltv"]
SILVER = [
    "int_event_days",
    "int_sessions",
    "int_players",
    "int_player_activity_daily",
    "int_player_revenue_daily",
]
SELECT = ["--select", *(f"+{model}" for model in GOLD)]

D = dt.date


def bet_placed(when: str, bet_id: str, stake: int, currency: str = "EUR", **kw: Any) -> dict:
    return event(
        "bet.placed",
        at(when),
        bet_id=bet_id,
        game_id="g_1",
        provider_id="prov_1",
        stake_minor=stake,
        currency=currency,
        in_bonus=False,
        **kw,
    )


def bet_settled(
    when: str, bet_id: str, stake: int, win: int, currency: str = "EUR", **kw: Any
) -> dict:
    return event(
        "bet.settled",
        at(when),
        bet_id=bet_id,
        game_id="g_1",
        provider_id="prov_1",
        stake_minor=stake,
        win_minor=win,
        currency=currency,
        in_bonus=False,
        **kw,
    )


def captured(when: str, payment_id: str, amount: int, fee: int, currency: str, **kw: Any) -> dict:
    return event(
        "payment.captured",
        at(when),
        payment_id=payment_id,
        amount_minor=amount,
        currency=currency,
        method="card",
        fee_minor=fee,
        **kw,
    )


def session(kind: str, when: str, session_id: str, **kw: Any) -> dict:
    return event(f"session.{kind}", at(when), session_id=session_id, **kw)


B1 = {"brand": "brand-1"}
P1 = {**B1, "player": "p_1", "region": "EU"}
P2 = {**B1, "player": "p_2", "region": "LATAM"}
P3 = {**B1, "player": "p_3", "region": "EU"}
P4 = {**B1, "player": "p_4", "region": "EU"}
P5 = {**B1, "player": "p_5", "region": "EU"}
Q1 = {"brand": "brand-2", "player": "p_1", "region": "APAC"}  # another player than brand-1 p_1

p2_settled = bet_settled("2026-01-02 00:00:30", "b2", 200, 500, "USD", **P2)
p1_placed = bet_placed("2026-01-01 09:20", "b1", 1000, **P1)
q1_placed = bet_placed("2026-01-02 07:30", "b20", 300, **Q1)

BATCH_1 = [
    event("player.registered", at("2026-01-01 09:00"), **P1),
    p1_placed,
    bet_settled("2026-01-01 09:21", "b1", 1000, 300, **P1),
    captured("2026-01-02 10:00", "pay1", 5000, 150, "EUR", **P1),
    event(
        "wallet.credit",
        at("2026-01-02 10:00:05"),
        amount_minor=5000,
        currency="EUR",
        reason="deposit",
        reference_id="pay1",
        **P1,
    ),
    event("player.registered", at("2026-01-01 23:50"), **P2),
    session("started", "2026-01-01 23:59:00", "s2", **P2),
    p2_settled,
    captured("2026-01-01 23:55", "pay2", 2000, 50, "USD", **P2),
    event("player.registered", at("2026-01-02 07:00"), **Q1),
    q1_placed,
]

# newest occurred_at before this batch: 2026-01-02 10:00:05
BATCH_2 = [
    session("ended", "2026-01-02 00:00:01", "s2", **P2),  # late; s2 lasted 61 s
    bet_placed("2026-01-01 23:59:30", "b2", 200, "USD", **P2),  # late: p_2 active on 01-01
    event("player.registered", at("2026-01-02 08:00"), **P1),  # registers a second time
    event(
        "jackpot.contribution",
        at("2026-01-02 00:00:40"),
        game_id="g_1",
        amount_minor=10,
        currency="USD",
        **P2,
    ),
    p2_settled,  # duplicate
    p1_placed,  # duplicate
    event(
        "bonus.consumed",
        at("2026-01-03 12:00"),
        bonus_id="bo1",
        amount_minor=200,
        currency="EUR",
        **P1,
    ),
    event("player.registered", at("2026-01-04 09:00"), **P4),
    session("started", "2026-01-04 12:00:00", "s1", **P5),
    session("ended", "2026-01-04 12:00:59.999", "s1", **P5),  # 59.999 s: not active
    session("ended", "2026-01-05 10:01:00", "s3", **P3),  # its start lands in batch 3
    session("ended", "2026-01-06 08:00", "s4", **P3),  # never started
    session("started", "2026-01-06 10:00", "s5", **P3),
    session("ended", "2026-01-06 09:59", "s5", **P3),  # ends before it starts
    session("started", "2026-01-06 11:00", "s6", **P3),  # never ends
    bet_placed("2026-01-03 07:30", "b21", 100, **Q1),
    bet_settled("2026-01-03 07:31", "b21", 100, 0, **Q1),
    bet_placed("2026-01-31 12:00", "b9", 500, **P1),
    bet_settled("2026-01-31 12:01", "b9", 500, 0, **P1),
]

# newest occurred_at before this batch: 2026-01-31 12:01, so these are later than the 3-day
# lookback: the incremental run must still recompute every day they change (p_3's 01-05
# activity raises mau up to 01-31, days published by the previous run).
BATCH_3 = [
    session("started", "2026-01-05 10:00:00", "s3", **P3),  # s3 lasted exactly 60 s
    event("player.registered", at("2026-01-03 15:00"), **P4),  # earlier than p_4's 01-04
    bet_placed("2026-01-07 10:00", "b3", -5, **P3),  # invalid payload
    event(
        "wallet.credit",
        at("2026-01-07 10:05"),
        amount_minor=100,
        currency="EUR",
        reason="win",
        reference_id="b0",
        **P3,
    ),  # not a deposit
    q1_placed,  # duplicate
    # not an activity, but the last day with data: retention stops at N = 30, LTV goes on
    event("rg.reality_check", at("2026-02-01 08:00"), **Q1),
]

BATCHES = [BATCH_1, BATCH_2, BATCH_3]


def _land_and_build(url: str, files: list[Path], *, incremental: bool) -> dict[str, Any]:
    """Land the batches; build after each (incremental) or once after all (a full build).
    To save time, only the last incremental build runs the data and unit tests."""
    seen: dict[str, Any] = {}
    no_tests = ["--exclude", "resource_type:test", "resource_type:unit_test"]
    for number, (path, events) in enumerate(zip(files, BATCHES, strict=True), start=1):
        land_events(url, path, events)
        if incremental:
            if number == 1:
                build(url, *SELECT, *no_tests)
            elif number < len(BATCHES):
                run_dbt(["run", *SELECT], url)
            else:
                build(url, *SELECT, "--exclude", "resource_type:seed")
            seen[f"active_after_{number}"] = _rows(url, "gold_candidate.fct_active_players_daily")
            seen[f"sessions_after_{number}"] = _rows(url, "gold_candidate.fct_sessions_daily")
    if not incremental:
        build(url, *SELECT, *no_tests)
    return seen


@pytest.fixture(scope="module")
def batch_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("player_events")
    return [base / f"events-{n}.ndjson" for n in (1, 2, 3)]


@pytest.fixture(scope="module")
def warehouse(module_warehouse_url: str, batch_files: list[Path]) -> dict[str, Any]:
    """The three batches landed and built incrementally, one build after each."""
    seen = _land_and_build(module_warehouse_url, batch_files, incremental=True)
    return {"url": module_warehouse_url, **seen}


def _rows(url: str, relation: str) -> list[tuple[Any, ...]]:
    return query(url, f"select * from {relation} order by 1, 2, 3, 4")


def _days(first: str, last: str) -> list[dt.date]:
    start, end = D.fromisoformat(first), D.fromisoformat(last)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _active(runs: list[tuple[str, str, str, int, int, int]]) -> list[tuple[Any, ...]]:
    """(brand, first day, last day, dau, wau, mau) runs -> rows (day, brand, dau, wau, mau)."""
    rows = [
        (day, brand, dau, wau, mau)
        for brand, first, last, dau, wau, mau in runs
        for day in _days(first, last)
    ]
    return sorted(rows)


def test_active_players_daily(warehouse: dict[str, Any]) -> None:
    # brand-1 active days: p_1 01-01 (bet), 01-02 (deposit credit), 01-31 (bet); p_2 01-01
    # (61 s session and a bet); p_3 01-05 (a session of exactly 60 s). Not active: p_5's
    # 59.999 s session (01-04), p_3's unfinished / backwards sessions (01-06), invalid bet and
    # win credit (01-07). brand-2 p_1: 01-02, 01-03. Calendar 01-01..02-01 for both brands.
    expected = _active(
        [
            ("brand-1", "2026-01-01", "2026-01-01", 2, 2, 2),
            ("brand-1", "2026-01-02", "2026-01-02", 1, 2, 2),
            ("brand-1", "2026-01-03", "2026-01-04", 0, 2, 2),
            ("brand-1", "2026-01-05", "2026-01-05", 1, 3, 3),
            ("brand-1", "2026-01-06", "2026-01-07", 0, 3, 3),
            ("brand-1", "2026-01-08", "2026-01-08", 0, 2, 3),  # p_2 (01-01) left the 7 days
            ("brand-1", "2026-01-09", "2026-01-11", 0, 1, 3),
            ("brand-1", "2026-01-12", "2026-01-30", 0, 0, 3),
            ("brand-1", "2026-01-31", "2026-01-31", 1, 1, 2),  # p_2 left the 30 days
            ("brand-1", "2026-02-01", "2026-02-01", 0, 1, 2),
            ("brand-2", "2026-01-01", "2026-01-01", 0, 0, 0),
            ("brand-2", "2026-01-02", "2026-01-03", 1, 1, 1),
            ("brand-2", "2026-01-04", "2026-01-09", 0, 1, 1),
            ("brand-2", "2026-01-10", "2026-02-01", 0, 0, 1),
        ]
    )
    assert len(expected) == 64
    assert sorted(_rows(warehouse["url"], "gold_candidate.fct_active_players_daily")) == expected


def test_active_players_after_first_batch(warehouse: dict[str, Any]) -> None:
    # After batch 1 p_2 is not active yet (session open, bet not landed); batch 2 then
    # changes the published 01-01 (dau 2 above).
    assert warehouse["active_after_1"] == [
        (D(2026, 1, 1), "brand-1", 1, 1, 1),
        (D(2026, 1, 1), "brand-2", 0, 0, 0),
        (D(2026, 1, 2), "brand-1", 1, 1, 1),
        (D(2026, 1, 2), "brand-2", 1, 1, 1),
    ]


def test_sessions_daily(warehouse: dict[str, Any]) -> None:
    # s2 (01-01 23:59:00 -> 01-02 00:00:01) counts on its start day; s4 (end only) nowhere;
    # s5 (end before start) and s6 (no end) are started, not completed.
    assert _rows(warehouse["url"], "gold_candidate.fct_sessions_daily") == [
        (D(2026, 1, 1), "brand-1", 1, 1, 1, Decimal("61"), Decimal("61")),
        (D(2026, 1, 4), "brand-1", 1, 1, 1, Decimal("59.999"), Decimal("59.999")),
        (D(2026, 1, 5), "brand-1", 1, 1, 1, Decimal("60"), Decimal("60")),
        (D(2026, 1, 6), "brand-1", 2, 0, 1, Decimal("0"), None),
    ]
    # after batch 1 s2 had no end yet
    assert warehouse["sessions_after_1"] == [
        (D(2026, 1, 1), "brand-1", 1, 0, 1, Decimal("0"), None),
    ]


def test_int_sessions(warehouse: dict[str, Any]) -> None:
    rows = query(
        warehouse["url"],
        """
        select session_id, player_id, started_at, ended_at, is_completed, duration_seconds
        from silver.int_sessions order by session_id""",
    )
    assert rows == [
        (
            "s1",
            "p_5",
            at("2026-01-04 12:00"),
            at("2026-01-04 12:00:59.999"),
            True,
            Decimal("59.999"),
        ),
        ("s2", "p_2", at("2026-01-01 23:59"), at("2026-01-02 00:00:01"), True, Decimal("61")),
        ("s3", "p_3", at("2026-01-05 10:00"), at("2026-01-05 10:01"), True, Decimal("60")),
        ("s4", "p_3", None, at("2026-01-06 08:00"), False, None),
        ("s5", "p_3", at("2026-01-06 10:00"), at("2026-01-06 09:59"), False, None),
        ("s6", "p_3", at("2026-01-06 11:00"), None, False, None),
    ]


def test_int_players(warehouse: dict[str, Any]) -> None:
    rows = query(
        warehouse["url"],
        """
        select brand_id, player_id, region, registered_at, registration_count, first_deposit_at
        from silver.int_players order by brand_id, player_id""",
    )
    assert rows == [
        ("brand-1", "p_1", "EU", at("2026-01-01 09:00"), 2, at("2026-01-02 10:00")),
        ("brand-1", "p_2", "LATAM", at("2026-01-01 23:50"), 1, at("2026-01-01 23:55")),
        ("brand-1", "p_4", "EU", at("2026-01-03 15:00"), 2, None),
        ("brand-2", "p_1", "APAC", at("2026-01-02 07:00"), 1, None),
    ]


# (cohort_type, cohort_date, brand) -> (cohort_size, last mature offset, {offset: (retained,
# rate)}); every other mature offset retained 0, rate 0. Last day with data: 2026-02-01, so
# the 01-01 cohorts stop at N = 30, not 31.
RETENTION = {
    ("registration", D(2026, 1, 1), "brand-1"): (2, 30, {0: (2, "1"), 30: (1, "0.5")}),
    ("registration", D(2026, 1, 3), "brand-1"): (1, 29, {}),
    ("registration", D(2026, 1, 2), "brand-2"): (1, 30, {0: (1, "1"), 1: (1, "1")}),
    ("first_deposit", D(2026, 1, 1), "brand-1"): (1, 30, {0: (1, "1")}),
    ("first_deposit", D(2026, 1, 2), "brand-1"): (1, 30, {29: (1, "1")}),
}


def test_retention(warehouse: dict[str, Any]) -> None:
    expected = sorted(
        (
            cohort_type,
            cohort_date,
            brand,
            offset,
            size,
            retained.get(offset, (0, "0"))[0],
            Decimal(retained.get(offset, (0, "0"))[1]),
        )
        for (cohort_type, cohort_date, brand), (size, last, retained) in RETENTION.items()
        for offset in range(last + 1)
    )
    assert len(expected) == 31 + 30 + 31 + 31 + 31
    assert _rows(warehouse["url"], "gold_candidate.fct_retention") == expected


# (cohort_type, cohort_date, brand) -> (cohort_size, [(first offset, last offset, cumulative,
# ltv)]). Per player-day NGR in EUR cents (USD at the seed's 0.928516 on 01-01 and 0.927930 on
# 01-02): brand-1 p_1 01-01 +700 (1000 - 300), 01-02 -150 (fee), 01-03 -200 (bonus), 01-31
# +500; p_2 01-01 -50 USD fee = -46.4258, 01-02 (200 - 500 - 10 jackpot) USD = -287.6583;
# brand-2 p_1 01-03 +100. E.g. registration 01-01: 653.5742 -> 654, ltv 326.7871 -> 327.
LTV = {
    ("registration", D(2026, 1, 1), "brand-1"): (
        2,
        [(0, 0, 654, 327), (1, 1, 216, 108), (2, 29, 16, 8), (30, 31, 516, 258)],
    ),
    ("registration", D(2026, 1, 3), "brand-1"): (1, [(0, 29, 0, 0)]),
    ("registration", D(2026, 1, 2), "brand-2"): (1, [(0, 0, 0, 0), (1, 30, 100, 100)]),
    ("first_deposit", D(2026, 1, 1), "brand-1"): (1, [(0, 0, -46, -46), (1, 31, -334, -334)]),
    ("first_deposit", D(2026, 1, 2), "brand-1"): (
        1,
        [(0, 0, -150, -150), (1, 28, -350, -350), (29, 30, 150, 150)],
    ),
}


def test_ltv(warehouse: dict[str, Any]) -> None:
    expected = sorted(
        (cohort_type, cohort_date, brand, offset, size, cumulative, ltv)
        for (cohort_type, cohort_date, brand), (size, runs) in LTV.items()
        for first, last, cumulative, ltv in runs
        for offset in range(first, last + 1)
    )
    assert len(expected) == 32 + 30 + 31 + 32 + 31
    assert _rows(warehouse["url"], "gold_candidate.fct_ltv") == expected


def test_incremental_equals_full_build(
    warehouse: dict[str, Any], batch_files: list[Path], databases: Any
) -> None:
    fresh = databases.create()
    _land_and_build(fresh, batch_files, incremental=False)
    for relation in [f"gold_candidate.{m}" for m in GOLD] + [f"silver.{m}" for m in SILVER]:
        incremental = table_snapshot(warehouse["url"], relation)
        assert incremental, relation
        assert incremental == table_snapshot(fresh, relation), relation
