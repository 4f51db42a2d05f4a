"""Deduplication and late events through real dbt: first landed copy wins, conflicts are
recorded, a late event within the lookback changes the mart, a duplicate does not, and an
incremental run equals a build over all the data at once."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from tests.events import build, event, land_events, query, table_snapshot
from warehouse.settings import DBT_PROJECT_DIR


def settled(
    event_id: str, when: str, stake: int, win: int, currency: str = "EUR", **kw: object
) -> dict[str, object]:
    return event(
        "bet.settled",
        when,
        event_id=event_id,
        bet_id=f"b-{event_id}",
        game_id="g1",
        provider_id="pv1",
        stake_minor=stake,
        win_minor=win,
        currency=currency,
        in_bonus=False,
        **kw,
    )


E1 = settled("e1", "2026-01-05 10:00:00", 1000, 400)
BATCH_1 = [
    E1,
    settled("e2", "2026-01-05 11:00:00", 500, 0),
    E1,  # exact duplicate in the same file
    settled("e3", "2026-01-06 09:00:00", 200, 300, currency="USD"),
]
BATCH_2 = [
    {**E1, "payload": {**E1["payload"], "stake_minor": 9999}},  # conflicting redelivery
    settled("e2", "2026-01-05 11:00:00", 500, 0),  # exact duplicate in a later file
    settled("e4", "2026-01-04 23:00:00", 700, 100),  # 34 h late: within the 3-day lookback
    event(
        "bonus.consumed",
        "2026-01-05 12:00:00",
        event_id="e5",
        bonus_id="bn1",
        amount_minor=50,
        currency="EUR",
    ),
    event(
        "payment.captured",
        "2026-01-05 13:00:00",
        event_id="e6",
        payment_id="pay1",
        amount_minor=5000,
        currency="EUR",
        method="card",
        fee_minor=20,
    ),
]
BATCH_3 = [
    settled("e7", "2025-12-20 08:00:00", 100, 0),  # 17 days late: beyond the lookback
    settled("e8", "2026-01-06 10:00:00", -5, 0),  # invalid payload: negative stake
    event("promo.viewed", "2026-01-06 10:00:00", event_id="e9", promo="x"),  # unknown type
]

# What these tests assert on, and everything upstream of it.
SELECT = ("--select", "+fct_revenue_daily", "+path:models/audit")

REVENUE = (
    "select day::text, currency, stake_minor, win_minor, ggr_minor, bonus_cost_minor, "
    "jackpot_minor, fees_minor, ngr_minor, round(rtp, 10), ggr_eur_minor, ngr_eur_minor "
    "from gold_candidate.fct_revenue_daily order by day, currency"
)


def usd_rate(day: str) -> Decimal:
    with (DBT_PROJECT_DIR / "seeds" / "fx_rates_daily.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["rate_date"] == day and row["currency"] == "USD":
                return Decimal(row["eur_per_unit"])
    raise AssertionError("no USD rate in the seed")


def test_dedup_conflicts_and_late_events_through_incremental_runs(
    warehouse_url: str, tmp_path: Path
) -> None:
    usd = usd_rate("2026-01-06")
    usd_ggr_eur = int((Decimal(-100) * usd).to_integral_value())  # ggr = 200 - 300

    land_events(warehouse_url, tmp_path / "b1.ndjson", BATCH_1)
    build(warehouse_url, *SELECT)
    assert query(warehouse_url, REVENUE) == [
        ("2026-01-05", "EUR", 1500, 400, 1100, 0, 0, 0, 1100, Decimal("0.2666666667"), 1100, 1100),
        (
            "2026-01-06",
            "USD",
            200,
            300,
            -100,
            0,
            0,
            0,
            -100,
            Decimal("1.5000000000"),
            usd_ggr_eur,
            usd_ggr_eur,
        ),
    ]
    assert query(
        warehouse_url, "select event_id, batch_id, line_no from silver.int_events order by 1"
    ) == [("e1", 1, 1), ("e2", 1, 2), ("e3", 1, 4)]

    land_events(warehouse_url, tmp_path / "b2.ndjson", BATCH_2)
    build(warehouse_url, *SELECT)
    assert query(warehouse_url, REVENUE) == [
        ("2026-01-04", "EUR", 700, 100, 600, 0, 0, 0, 600, Decimal("0.1428571429"), 600, 600),
        # the conflicting copy of e1 (stake 9999) and the duplicate e2 change nothing
        (
            "2026-01-05",
            "EUR",
            1500,
            400,
            1100,
            50,
            0,
            20,
            1030,
            Decimal("0.2666666667"),
            1100,
            1030,
        ),
        (
            "2026-01-06",
            "USD",
            200,
            300,
            -100,
            0,
            0,
            0,
            -100,
            Decimal("1.5000000000"),
            usd_ggr_eur,
            usd_ggr_eur,
        ),
    ]
    # lateness is measured on the data: the newest occurred_at before batch 2 is e3's
    # 01-06 09:00, so e4 (01-04 23:00) is 34 h late, e5 (01-05 12:00) 21 h, e6 (13:00) 20 h
    assert query(
        warehouse_url,
        "select event_id, lateness_seconds from silver.int_events where batch_id = 2 order by 1",
    ) == [("e4", 34 * 3600), ("e5", 21 * 3600), ("e6", 20 * 3600)]
    assert query(
        warehouse_url,
        "select event_id, batch_id, line_no, first_batch_id, "
        "first_line_no, differing_fields from "
        "audit.dq_duplicate_conflicts",
    ) == [("e1", 2, 1, 1, 1, ["payload"])]
    assert query(
        warehouse_url,
        "select batch_id, first_copies, duplicate_copies, is_balanced "
        "from audit.dq_batch_accounting order by 1",
    ) == [(1, 3, 1, True), (2, 3, 2, True)]

    land_events(warehouse_url, tmp_path / "b3.ndjson", BATCH_3)
    build(warehouse_url, *SELECT)
    rows = query(warehouse_url, REVENUE)
    assert rows[0] == ("2025-12-20", "EUR", 100, 0, 100, 0, 0, 0, 100, Decimal("0E-10"), 100, 100)
    assert len(rows) == 4
    assert query(warehouse_url, "select event_id, lateness_days from audit.dq_late_events") == [
        ("e7", Decimal("17.04"))
    ]  # 2025-12-20 08:00 -> 2026-01-06 09:00: 17 d 1 h
    [(event_id, reason)] = query(
        warehouse_url, "select event_id, invalid_reason from audit.dq_invalid_payloads"
    )
    assert event_id == "e8"
    assert reason == "stake_minor must be a non-negative integer in minor units, got -5"
    assert query(warehouse_url, "select event_type, events from audit.dq_unknown_event_types") == [
        ("promo.viewed", 1)
    ]


SILVER_COLUMNS = (
    "select event_id, event_type, occurred_at, brand_id, payload, batch_id, "
    "line_no, invalid_reason, lateness_seconds from silver.int_events"
)


@pytest.mark.slow  # many batches; the test above runs dedup across incremental runs by default
def test_incremental_runs_equal_one_build_over_all_batches(
    warehouse_url: str,
    databases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    for i, batch in enumerate([BATCH_1, BATCH_2, BATCH_3], start=1):
        land_events(warehouse_url, tmp_path / f"inc{i}.ndjson", batch)
        build(warehouse_url, *SELECT)

    once = databases.create()
    for i, batch in enumerate([BATCH_1, BATCH_2, BATCH_3], start=1):
        land_events(once, tmp_path / f"once{i}.ndjson", batch)
    build(once, *SELECT)

    assert table_snapshot(warehouse_url, "gold_candidate.fct_revenue_daily") == table_snapshot(
        once, "gold_candidate.fct_revenue_daily"
    )
    assert sorted(query(warehouse_url, SILVER_COLUMNS)) == sorted(query(once, SILVER_COLUMNS))
    build(warehouse_url, *SELECT, "--full-refresh")
    assert table_snapshot(warehouse_url, "gold_candidate.fct_revenue_daily") == table_snapshot(
        once, "gold_candidate.fct_revenue_daily"
    )
