"""Game-server marts: gold_candidate.fct_economy_daily and the points marts of docs/points.md.

One hand-made data set lands in three batches; the module's database is built incrementally
after each batch (late events within the lookback, duplicates in the same and in a later
batch, invalid payloads). Every row of every mart is compared with values computed by hand
below; a second database lands the same files and builds once, and must hold identical
tables.

Days: D1 = 2026-03-01, D2 = 2026-03-02, D3 = 2026-03-03. FX rates of the seed
reference.fx_rates_daily used below (EUR per unit; all these currencies have 2 minor units):
USD 2026-03-01 0.896814, GBP 2026-03-01 1.138046, BRL 2026-03-03 0.179462, EUR 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.events import at, build, event, land_events, query, table_snapshot

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
SELECT = (
    "--select",
    "+fct_economy_daily",
    "+fct_points_task",
    "+fct_points_user_game",
    "+fct_points_game",
)
GOLD = (
    "gold_candidate.fct_economy_daily",
    "gold_candidate.fct_points_user_task",
    "gold_candidate.fct_points_task",
    "gold_candidate.fct_points_user_game",
    "gold_candidate.fct_points_game",
)


def award(
    event_id: str,
    when: str,
    player: str,
    task: str,
    points: int,
    minutes: float,
    *,
    game: str = "g1",
    brand: str = "brand-1",
    **extra: Any,
) -> dict[str, Any]:
    return event(
        "points.awarded",
        at(when),
        event_id=event_id,
        player=player,
        brand=brand,
        game_id=game,
        task_id=task,
        points=points,
        minutes=minutes,
        **extra,
    )


def ev(
    event_id: str,
    event_type: str,
    when: str,
    player: str,
    *,
    brand: str = "brand-1",
    **payload: Any,
) -> dict[str, Any]:
    return event(event_type, at(when), event_id=event_id, player=player, brand=brand, **payload)


E1 = ev("E1", "credits.earn", "2026-03-01 10:00", "p1", amount=120)
E7 = ev("E7", "gems.purchase", "2026-03-01 13:00", "p1", gems=500, amount_minor=500, currency="USD")
A2 = award("A2", "2026-03-01 10:00:00", "p1", "t1", 20, 12)

BATCH_1 = [
    # registrations: p1 on D2 (an earlier one arrives late in batch 2), p2 twice, and p1 of
    # brand-2 (another player: brands never mix)
    ev("R1", "player.registered", "2026-03-02 09:00", "p1"),
    ev("R2", "player.registered", "2026-03-01 08:00", "p2", channel="organic"),
    ev("R3", "player.registered", "2026-03-02 10:00", "p2"),
    ev("R4", "player.registered", "2026-03-01 12:00", "p1", brand="brand-2"),
    E1,
    ev("E2", "credits.spend", "2026-03-01 10:05", "p1", amount=45),
    ev("E3", "gems.earn", "2026-03-01 11:00", "p2", amount=7),
    ev("E4", "gems.spend", "2026-03-01 11:05", "p2", amount=4),
    ev("E5", "pvp.battle", "2026-03-01 12:00", "p1", result="win"),
    ev("E6", "pvp.ranked.battle", "2026-03-01 12:10", "p2", rating_delta=-3),
    E7,
    ev("E7b", "gems.purchase", "2026-03-01 13:30", "p2", gems=20, amount_minor=1, currency="GBP"),
    ev("E8", "dungeon.complete", "2026-03-02 09:30", "p1"),
    ev("E9", "craft.complete", "2026-03-02 09:40", "p1"),
    ev("E10", "raid.complete", "2026-03-01 13:00", "p1", brand="brand-2"),
    ev("E11", "market.sale", "2026-03-01 13:10", "p1", brand="brand-2"),
    E1,  # a duplicate in the same file
    # invalid payload: never reaches the marts
    ev("X1", "gems.purchase", "2026-03-01 14:00", "p1", gems=10, amount_minor=-5, currency="USD"),
    award("A1", "2026-03-01 10:00:00", "p1", "t1", 10, 0),
    A2,  # tied with A1
    award("A3", "2026-03-01 10:01:40", "p1", "t1", 5, 3.5),
    award("A4", "2026-03-01 10:00:30", "p2", "t1", 50, 0),
    award("A5", "2026-03-01 11:00:00", "p1", "t2", 7, 0),
    award("A6", "2026-03-01 10:00:00", "p1", "t1", 100, 30, brand="brand-2"),
    award("X2", "2026-03-01 10:30:00", "p1", "t1", 1000, -1),  # invalid: minutes < 0
]

BATCH_2 = [
    # late (D1): p1's first registration moves from D2 to D1
    ev("R5", "player.registered", "2026-03-01 07:00", "p1"),
    ev("E12", "pvp.ranked.battle", "2026-03-01 15:00", "p1"),  # late
    ev("E13", "pvp.battle", "2026-03-03 10:00", "p1"),
    ev(
        "E14",
        "gems.purchase",
        "2026-03-03 10:30",
        "p2",
        gems=100,
        amount_minor=1000,
        currency="BRL",
    ),
    ev("E15", "credits.earn", "2026-03-03 11:00", "p2", amount=30),
    E7,  # a duplicate of a batch-1 event
    award("A7", "2026-03-01 10:00:50", "p1", "t1", 1, 0),  # late, inside p1's timeline
    award("A8", "2026-03-03 09:00:04", "p1", "t1", 2, 8.5),
    award("A9", "2026-03-03 09:00:04", "p2", "t1", 3, 0),  # tied with A8 on the task
    A2,  # a duplicate of a batch-1 award
]

BATCH_3 = [
    ev(
        "E16",
        "gems.purchase",
        "2026-03-02 08:00",
        "p1",
        brand="brand-2",
        gems=10,
        amount_minor=250,
        currency="EUR",
    ),  # late
    ev("R6", "player.registered", "2026-03-03 12:00", "p3"),
    ev("R7", "player.registered", "2026-03-03 13:00", "p1"),  # p1's third registration
    award("A10", "2026-03-02 12:00:00", "p3", "t1", 4, 1.5),  # late: a new player on t1
    award("A11", "2026-03-03 14:00:00", "p1", "t1", 8, 0, game="g2"),
]

BATCHES = (BATCH_1, BATCH_2, BATCH_3)


@dataclass
class Built:
    url: str  # built incrementally, once after each batch
    full_url: str  # the same files landed, built once
    new_players_after: list[dict[tuple[date, str], int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def built(
    module_warehouse_url: str, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    files = tmp_path_factory.mktemp("game_files")
    result = Built(url=module_warehouse_url, full_url=databases.create())
    paths: list[Path] = []
    for number, batch in enumerate(BATCHES, start=1):
        path = files / f"game-{number}.ndjson"
        land_events(result.url, path, batch)
        paths.append(path)
        # dbt unit tests run once, in the full build below
        build(result.url, *SELECT, "--exclude-resource-type", "unit_test")
        result.new_players_after.append(
            {
                (day, brand): n
                for day, brand, n in query(
                    result.url,
                    "select day, brand_id, new_players from gold_candidate.fct_economy_daily",
                )
            }
        )
    for path, batch in zip(paths, BATCHES, strict=True):
        land_events(result.full_url, path, batch)  # the same bytes, in the same order
    build(result.full_url, *SELECT)
    return result


def rows(url: str, relation: str, order_by: str) -> list[tuple[Any, ...]]:
    return query(url, f"select * from {relation} order by {order_by}")


def test_economy_daily(built: Built) -> None:
    # day, brand, new_players, credits_earned, credits_spent, gems_earned, gems_spent,
    # gems_purchased, purchase_revenue_eur_minor, dungeons_run, crafts_completed, pvp_battles,
    # raid_battles, market_sales
    assert rows(built.url, "gold_candidate.fct_economy_daily", "day, brand_id") == [
        # new: p2 (R2) and p1 (R5, late); E1 once; X1 invalid; pvp E5 + ranked E6, E12;
        # purchases 500 USD x 0.896814 + 1 GBP x 1.138046 = 448.407 + 1.138046 = 449.545046
        # -> 450 (rounding each purchase would give 448 + 1 = 449)
        (D1, "brand-1", 2, 120, 45, 7, 4, 520, 450, 0, 0, 3, 0, 0),
        (D1, "brand-2", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1),
        # R1 (p1) and R3 (p2) are not first registrations any more
        (D2, "brand-1", 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0),
        (D2, "brand-2", 0, 0, 0, 0, 0, 10, 250, 0, 0, 0, 0, 0),
        # new: p3 (R6), not p1 (R7); 1000 BRL x 0.179462 = 179.462 -> 179
        (D3, "brand-1", 1, 30, 0, 0, 0, 100, 179, 0, 0, 1, 0, 0),
    ]


def test_first_registration_moves_to_the_late_earlier_day(built: Built) -> None:
    # after batch 1, p1's only registration was on D2; the late R5 (D1) moved it
    assert built.new_players_after[0][(D1, "brand-1")] == 1
    assert built.new_players_after[0][(D2, "brand-1")] == 1
    assert built.new_players_after[1][(D1, "brand-1")] == 2
    assert built.new_players_after[1][(D2, "brand-1")] == 0


def test_points_user_task(built: Built) -> None:
    t = at
    # brand, game, task, player, awards, total_points, first, last, avg gap, last window
    assert rows(
        built.url, "gold_candidate.fct_points_user_task", "brand_id, game_id, task_id, player_id"
    ) == [
        # A1 10:00:00, A2 10:00:00 (tie), A7 10:00:50, A3 10:01:40, A8 D3 09:00:04:
        # gaps 0, 50, 50, 169104 -> 169204 / 4 = 42301; last window 169104
        (
            "brand-1",
            "g1",
            "t1",
            "p1",
            5,
            38,
            t("2026-03-01 10:00"),
            t("2026-03-03 09:00:04"),
            Decimal(42301),
            Decimal(169104),
        ),
        # A4 D1 10:00:30, A9 D3 09:00:04: one gap of 169174 s
        (
            "brand-1",
            "g1",
            "t1",
            "p2",
            2,
            53,
            t("2026-03-01 10:00:30"),
            t("2026-03-03 09:00:04"),
            Decimal(169174),
            Decimal(169174),
        ),
        # single awards: -1 and 0
        (
            "brand-1",
            "g1",
            "t1",
            "p3",
            1,
            4,
            t("2026-03-02 12:00"),
            t("2026-03-02 12:00"),
            Decimal(-1),
            Decimal(0),
        ),
        (
            "brand-1",
            "g1",
            "t2",
            "p1",
            1,
            7,
            t("2026-03-01 11:00"),
            t("2026-03-01 11:00"),
            Decimal(-1),
            Decimal(0),
        ),
        (
            "brand-1",
            "g2",
            "t1",
            "p1",
            1,
            8,
            t("2026-03-03 14:00"),
            t("2026-03-03 14:00"),
            Decimal(-1),
            Decimal(0),
        ),
        (
            "brand-2",
            "g1",
            "t1",
            "p1",
            1,
            100,
            t("2026-03-01 10:00"),
            t("2026-03-01 10:00"),
            Decimal(-1),
            Decimal(0),
        ),
    ]


def test_points_task(built: Built) -> None:
    # brand, game, task, awards, players, total_points, avg gap
    assert rows(built.url, "gold_candidate.fct_points_task", "brand_id, game_id, task_id") == [
        # merged timeline of (brand-1, g1, t1): A1 D1 10:00:00, A2 10:00:00, A4 10:00:30,
        # A7 10:00:50, A3 10:01:40, A10 D2 12:00:00, A8 D3 09:00:04, A9 09:00:04
        # gaps 0, 30, 20, 50, 93500, 75604, 0 = 169204 -> / 7 = 24172
        ("brand-1", "g1", "t1", 8, 3, 95, Decimal(24172)),
        ("brand-1", "g1", "t2", 1, 1, 7, Decimal(-1)),
        ("brand-1", "g2", "t1", 1, 1, 8, Decimal(-1)),
        ("brand-2", "g1", "t1", 1, 1, 100, Decimal(-1)),
    ]


def test_points_user_game(built: Built) -> None:
    # brand, game, player, awards, total_points, avg_minutes
    assert rows(
        built.url, "gold_candidate.fct_points_user_game", "brand_id, game_id, player_id"
    ) == [
        # minutes A1 0, A2 12, A7 0, A3 3.5, A8 8.5, A5 0 -> (12 + 3.5 + 8.5) / 3 = 8
        ("brand-1", "g1", "p1", 6, 45, Decimal(8)),
        ("brand-1", "g1", "p2", 2, 53, None),  # only 0 minutes
        ("brand-1", "g1", "p3", 1, 4, Decimal("1.5")),
        ("brand-1", "g2", "p1", 1, 8, None),
        ("brand-2", "g1", "p1", 1, 100, Decimal(30)),
    ]


def test_points_game(built: Built) -> None:
    # brand, game, awards, players, total_points, avg_minutes
    assert rows(built.url, "gold_candidate.fct_points_game", "brand_id, game_id") == [
        # non-zero minutes 12, 3.5, 8.5, 1.5 -> 25.5 / 4 = 6.375
        ("brand-1", "g1", 9, 3, 102, Decimal("6.375")),
        ("brand-1", "g2", 1, 1, 8, None),
        ("brand-2", "g1", 1, 1, 100, Decimal(30)),
    ]


def test_incremental_runs_equal_one_full_build(built: Built) -> None:
    for relation in GOLD:
        incremental = table_snapshot(built.url, relation)
        assert incremental, relation
        assert incremental == table_snapshot(built.full_url, relation), relation


def test_awards_are_indexed_for_query_time_windows(built: Built) -> None:
    definitions = [
        d
        for (d,) in query(
            built.url,
            "select indexdef from pg_indexes where "
            "schemaname = 'silver' and tablename = 'int_points_awards'",
        )
    ]
    assert any(
        "(brand_id, game_id, task_id, player_id, awarded_at, event_id)" in d for d in definitions
    ), definitions
