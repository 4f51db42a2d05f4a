"""The affinity ledger replay (docs/affinity.md), through real dbt on a real database.

Every expected row below was computed by hand from the shipped seeds: rules chat (single 5,
daily 20, cooldown 60 s), gift (10, 30, 300 s), play (5, 15, 120 s), decay (5, 20, 0 s);
global_daily_cap 50, max_affinity 1000, timezone Asia/Shanghai (UTC+8, so the local day turns
at 16:00 UTC); levels 0/100/250/450/700/1000. The scenario adds one disabled rule, `pet`.

A ledger row is written (event_id, rule_key, outcome, requested, applied, before, after,
old_level, new_level).
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestion.raw_schema import ensure_raw_schema
from tests.events import event, land_events, query, table_snapshot
from warehouse.dbt import run_dbt

SELECT = ("+fct_affinity_ledger+", "+dim_affinity_device+", "+fct_affinity_rewards+")
DAY = "2025-03-10"
ALL_REWARDS = [
    (1, "coins", 100),
    (2, "coins", 200),
    (2, "frame_bronze", 1),
    (3, "coins", 300),
    (3, "emote_pack", 1),
    (4, "coins", 500),
    (4, "frame_silver", 1),
    (5, "coins", 1000),
    (5, "frame_gold", 1),
    (5, "title_soulmate", 1),
]


def t(clock: str, day: str = DAY) -> datetime:
    """A UTC instant on the scenario day: t('01:00:10')."""
    return datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=UTC)


def bound(
    eid: str, clock: str, player: str, device: str, brand: str = "brand-1", day: str = DAY
) -> dict[str, Any]:
    return event(
        "device.bound", t(clock, day), player=player, brand=brand, event_id=eid, device_id=device
    )


def unbound(eid: str, clock: str, player: str, device: str, day: str = DAY) -> dict[str, Any]:
    return event("device.unbound", t(clock, day), player=player, event_id=eid, device_id=device)


def trig(
    eid: str,
    clock: str,
    player: str,
    device: str,
    rule: str,
    change: int,
    brand: str = "brand-1",
    day: str = DAY,
) -> dict[str, Any]:
    return event(
        "affinity.triggered",
        t(clock, day),
        player=player,
        brand=brand,
        event_id=eid,
        device_id=device,
        rule_key=rule,
        change=change,
        source="companion_app",
    )


def admin(
    eid: str, clock: str, player: str, device: str, delta: int, day: str = DAY
) -> dict[str, Any]:
    return event(
        "affinity.admin_adjust",
        t(clock, day),
        player=player,
        event_id=eid,
        device_id=device,
        delta=delta,
        operator_admin_id="adm_7",
        reason="support ticket",
    )


def build(url: str, *args: str) -> None:
    run_dbt(["build", "--select", *SELECT, *args], url)


def ledger(url: str, device: str, brand: str = "brand-1") -> list[tuple[Any, ...]]:
    return query(
        url,
        """
        select event_id, rule_key, outcome, requested_change, applied_change, before_value,
               after_value, old_level, new_level
        from gold_candidate.fct_affinity_ledger
        where brand_id = %s and device_id = %s
        order by occurred_at, event_id collate "C"
    """,
        [brand, device],
    )


def rewards(url: str, device: str, brand: str = "brand-1") -> list[tuple[Any, ...]]:
    return query(
        url,
        """
        select level, reward_code, quantity, event_id, player_id
        from gold_candidate.fct_affinity_rewards
        where brand_id = %s and device_id = %s
        order by level, reward_code
    """,
        [brand, device],
    )


def dim(url: str, device: str, brand: str = "brand-1") -> tuple[Any, ...]:
    rows = query(
        url,
        """
        select player_id, favorability, level, last_applied_at, is_bound, max_level_reached
        from gold_candidate.dim_affinity_device
        where brand_id = %s and device_id = %s
    """,
        [brand, device],
    )
    assert len(rows) == 1, rows
    return rows[0]


def grants(event_id: str, player: str, levels: range) -> list[tuple[Any, ...]]:
    return [
        (level, code, quantity, event_id, player)
        for level, code, quantity in ALL_REWARDS
        if level in levels
    ]


# ---------------------------------------------------------------------------------------------
# One scenario, built once: every outcome, each on its own device.
# ---------------------------------------------------------------------------------------------

SCENARIO = [
    # dev_a: applied, cooldown (measured from the last *applied* change), single cap
    bound("a0", "01:00:00", "p_a", "dev_a"),
    trig("a1", "01:00:10", "p_a", "dev_a", "chat", 3),
    trig("a1", "01:00:10", "p_a", "dev_a", "chat", 3),  # a duplicate delivery
    trig("a2", "01:00:40", "p_a", "dev_a", "chat", 2),
    trig("a3", "01:01:10", "p_a", "dev_a", "chat", 2),
    trig("a4", "01:01:20", "p_a", "dev_a", "gift", 12),
    trig("a5", "01:01:30", "p_a", "dev_a", "chat", 2),
    event(
        "affinity.triggered",
        t("01:01:40"),
        player="p_a",
        event_id="a_bad",
        device_id="dev_a",
        rule_key="chat",
        change=1.5,
        source="companion_app",
    ),
    # the same device_id in another brand is another device
    bound("m0", "01:00:00", "p_m", "dev_a", brand="brand-2"),
    trig("m1", "01:00:30", "p_m", "dev_a", "chat", 4, brand="brand-2"),
    # dev_b: unknown and disabled rules
    bound("b0", "02:00:00", "p_b", "dev_b"),
    trig("b1", "02:00:10", "p_b", "dev_b", "dance", 3),
    trig("b2", "02:00:20", "p_b", "dev_b", "pet", 2),
    trig("b3", "02:00:30", "p_b", "dev_b", "play", 4),
    # dev_c: never bound (the rule check comes first); admin needs no binding
    trig("c1", "03:00:00", "p_c", "dev_c", "dance", 1),
    trig("c2", "03:00:10", "p_c", "dev_c", "chat", 3),
    admin("c3", "03:00:20", "p_c", "dev_c", 50),
    # dev_d: unbound, then triggered (cooldown is checked before the binding), bound again
    bound("d0", "04:00:00", "p_d", "dev_d"),
    trig("d1", "04:00:10", "p_d", "dev_d", "chat", 1),
    unbound("d2", "04:00:20", "p_d", "dev_d"),
    trig("d3", "04:00:30", "p_d", "dev_d", "chat", 1),
    trig("d4", "04:02:00", "p_d", "dev_d", "chat", 1),
    bound("d5", "04:03:00", "p_d", "dev_d"),
    trig("d6", "04:04:00", "p_d", "dev_d", "chat", 2),
    # dev_e: bound to another player; a new binding moves the device
    bound("e0", "05:00:00", "p_e1", "dev_e"),
    trig("e1", "05:00:10", "p_e2", "dev_e", "chat", 2),
    trig("e2", "05:00:20", "p_e1", "dev_e", "chat", 2),
    bound("e3", "05:01:00", "p_e2", "dev_e"),
    trig("e4", "05:02:00", "p_e1", "dev_e", "chat", 3),
    trig("e5", "05:03:00", "p_e2", "dev_e", "chat", 3),
    # dev_f: value boundary (zero request; decay at 0), decay cut at 0
    bound("f0", "06:00:00", "p_f", "dev_f"),
    trig("f1", "06:00:10", "p_f", "dev_f", "chat", 0),
    trig("f2", "06:00:20", "p_f", "dev_f", "decay", -3),
    trig("f3", "06:01:00", "p_f", "dev_f", "chat", 2),
    trig("f4", "06:01:10", "p_f", "dev_f", "decay", -5),
    # dev_g: rule daily cap, with a partial allowance and without, both signs
    bound("g0", "07:00:00", "p_g", "dev_g"),
    trig("g1", "07:01:00", "p_g", "dev_g", "chat", 9),
    trig("g2", "07:02:00", "p_g", "dev_g", "chat", 5),
    trig("g3", "07:03:00", "p_g", "dev_g", "chat", 5),
    trig("g4", "07:04:00", "p_g", "dev_g", "chat", 3),
    trig("g5", "07:05:00", "p_g", "dev_g", "chat", 5),
    trig("g6", "07:06:00", "p_g", "dev_g", "chat", 4),
    trig("g7", "07:07:00", "p_g", "dev_g", "decay", -5),
    trig("g8", "07:08:00", "p_g", "dev_g", "decay", -5),
    trig("g9", "07:09:00", "p_g", "dev_g", "decay", -5),
    trig("ga", "07:10:00", "p_g", "dev_g", "decay", -4),
    trig("gb", "07:11:00", "p_g", "dev_g", "decay", -5),
    trig("gc", "07:12:00", "p_g", "dev_g", "decay", -2),
    # dev_h: global daily cap, with a partial allowance and without
    bound("h0", "08:00:00", "p_h", "dev_h"),
    trig("h01", "08:00:10", "p_h", "dev_h", "chat", 5),
    trig("h02", "08:01:10", "p_h", "dev_h", "chat", 5),
    trig("h03", "08:02:10", "p_h", "dev_h", "chat", 5),
    trig("h04", "08:03:10", "p_h", "dev_h", "chat", 5),
    trig("h05", "08:03:20", "p_h", "dev_h", "gift", 10),
    trig("h06", "08:08:20", "p_h", "dev_h", "gift", 10),
    trig("h07", "08:13:20", "p_h", "dev_h", "gift", 7),
    trig("h08", "08:13:30", "p_h", "dev_h", "play", 5),
    trig("h09", "08:15:30", "p_h", "dev_h", "play", 4),
    trig("h10", "08:15:40", "p_h", "dev_h", "decay", -2),
    trig("h11", "08:18:20", "p_h", "dev_h", "gift", 3),
    admin("h12", "08:18:30", "p_h", "dev_h", 10),
    # dev_i: admin clamped at max and at 0; rewards once; a rule at max
    bound("i0", "09:00:00", "p_i", "dev_i"),
    admin("i1", "09:00:10", "p_i", "dev_i", 2000),
    admin("i2", "09:00:20", "p_i", "dev_i", 5),
    admin("i3", "09:00:30", "p_i", "dev_i", -5000),
    admin("i4", "09:00:40", "p_i", "dev_i", -1),
    admin("i5", "09:00:50", "p_i", "dev_i", 120),
    trig("i6", "09:01:00", "p_i", "dev_i", "chat", 3),
    admin("i7", "09:01:10", "p_i", "dev_i", 877),
    trig("i8", "09:02:10", "p_i", "dev_i", "chat", 3),
    # dev_j: a level falls and rises again (no second reward); a jump over two levels
    bound("j0", "10:00:00", "p_j", "dev_j"),
    admin("j1", "10:00:10", "p_j", "dev_j", 98),
    trig("j2", "10:00:20", "p_j", "dev_j", "chat", 3),
    trig("j3", "10:00:30", "p_j", "dev_j", "decay", -4),
    trig("j4", "10:01:20", "p_j", "dev_j", "chat", 5),
    admin("j5", "10:01:30", "p_j", "dev_j", 150),
    admin("j6", "10:01:40", "p_j", "dev_j", 500),
    # dev_l: two events at the same instant are taken in event_id order (file order reversed)
    admin("l1", "11:00:00", "p_l", "dev_l", 5),
    admin("l3", "11:00:10", "p_l", "dev_l", 1000),
    admin("l2", "11:00:10", "p_l", "dev_l", -10),
    # dev_k: the cap's day is the Shanghai day: 15:59 and 16:00 UTC are two local days
    bound("k0", "15:40:00", "p_k", "dev_k"),
    trig("k1", "15:50:00", "p_k", "dev_k", "chat", 5),
    trig("k2", "15:51:00", "p_k", "dev_k", "chat", 5),
    trig("k3", "15:52:00", "p_k", "dev_k", "chat", 5),
    trig("k4", "15:53:00", "p_k", "dev_k", "chat", 5),
    trig("k5", "15:59:00", "p_k", "dev_k", "chat", 5),
    trig("k6", "16:00:00", "p_k", "dev_k", "chat", 5),
    # dev_n: binding events only
    bound("n0", "12:00:00", "p_n", "dev_n"),
    unbound("n1", "12:05:00", "p_n", "dev_n"),
]


@pytest.fixture(scope="module")
def scenario(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = module_warehouse_url
    land_events(url, tmp_path_factory.mktemp("affinity") / "scenario.ndjson", SCENARIO)
    run_dbt(["seed"], url)
    # an analyst's disabled rule (the shipped rules are all enabled)
    with psycopg.connect(url) as conn:
        conn.execute("""
            insert into reference.affinity_rules
                (rule_key, min_change, max_change, single_cap, daily_cap, cooldown_seconds,
                 is_enabled)
            values ('pet', 1, 3, 5, 20, 0, false)
        """)
    build(url, "--exclude", "resource_type:seed")
    return url


def test_applied_and_cooldown_from_the_last_applied_change(scenario: str) -> None:
    assert ledger(scenario, "dev_a") == [
        ("a1", "chat", "applied", 3, 3, 0, 3, 0, 0),
        ("a2", "chat", "noop_cooldown", 2, 0, 3, 3, 0, 0),  # 30 s after a1
        ("a3", "chat", "applied", 2, 2, 3, 5, 0, 0),  # 60 s after a1: not less
        ("a4", "gift", "applied", 12, 10, 5, 15, 0, 0),  # single cap 10
        ("a5", "chat", "noop_cooldown", 2, 0, 15, 15, 0, 0),  # 20 s after a3
    ]


def test_a_device_is_identified_by_brand_and_device_id(scenario: str) -> None:
    assert ledger(scenario, "dev_a", brand="brand-2") == [
        ("m1", "chat", "applied", 4, 4, 0, 4, 0, 0),
    ]


def test_unknown_and_disabled_rules(scenario: str) -> None:
    assert ledger(scenario, "dev_b") == [
        ("b1", "dance", "noop_no_rule", 3, 0, 0, 0, 0, 0),
        ("b2", "pet", "noop_no_rule", 2, 0, 0, 0, 0, 0),
        ("b3", "play", "applied", 4, 4, 0, 4, 0, 0),
    ]


def test_never_bound_device(scenario: str) -> None:
    assert ledger(scenario, "dev_c") == [
        ("c1", "dance", "noop_no_rule", 1, 0, 0, 0, 0, 0),
        ("c2", "chat", "noop_device_unbound", 3, 0, 0, 0, 0, 0),
        ("c3", "admin", "applied", 50, 50, 0, 50, 0, 0),
    ]


def test_unbound_then_triggered_and_bound_again(scenario: str) -> None:
    assert ledger(scenario, "dev_d") == [
        ("d1", "chat", "applied", 1, 1, 0, 1, 0, 0),
        ("d3", "chat", "noop_cooldown", 1, 0, 1, 1, 0, 0),  # cooldown before binding
        ("d4", "chat", "noop_device_unbound", 1, 0, 1, 1, 0, 0),
        ("d6", "chat", "applied", 2, 2, 1, 3, 0, 0),
    ]


def test_device_bound_by_another_player(scenario: str) -> None:
    assert ledger(scenario, "dev_e") == [
        ("e1", "chat", "noop_device_unbound", 2, 0, 0, 0, 0, 0),  # p_e2, bound to p_e1
        ("e2", "chat", "applied", 2, 2, 0, 2, 0, 0),
        ("e4", "chat", "noop_device_unbound", 3, 0, 2, 2, 0, 0),  # p_e1, moved to p_e2
        ("e5", "chat", "applied", 3, 3, 2, 5, 0, 0),
    ]
    assert dim(scenario, "dev_e") == ("p_e2", 5, 0, t("05:03:00"), True, 0)


def test_value_boundary(scenario: str) -> None:
    assert ledger(scenario, "dev_f") == [
        ("f1", "chat", "noop_value_boundary", 0, 0, 0, 0, 0, 0),
        ("f2", "decay", "noop_value_boundary", -3, 0, 0, 0, 0, 0),
        ("f3", "chat", "applied", 2, 2, 0, 2, 0, 0),
        ("f4", "decay", "applied", -5, -2, 2, 0, 0, 0),
    ]


def test_rule_daily_cap(scenario: str) -> None:
    assert ledger(scenario, "dev_g") == [
        ("g1", "chat", "applied", 9, 5, 0, 5, 0, 0),
        ("g2", "chat", "applied", 5, 5, 5, 10, 0, 0),
        ("g3", "chat", "applied", 5, 5, 10, 15, 0, 0),
        ("g4", "chat", "applied", 3, 3, 15, 18, 0, 0),
        ("g5", "chat", "applied", 5, 2, 18, 20, 0, 0),  # 2 left of 20
        ("g6", "chat", "noop_rule_daily_cap", 4, 0, 20, 20, 0, 0),
        ("g7", "decay", "applied", -5, -5, 20, 15, 0, 0),
        ("g8", "decay", "applied", -5, -5, 15, 10, 0, 0),
        ("g9", "decay", "applied", -5, -5, 10, 5, 0, 0),
        ("ga", "decay", "applied", -4, -4, 5, 1, 0, 0),
        ("gb", "decay", "applied", -5, -1, 1, 0, 0, 0),  # 1 left of 20
        ("gc", "decay", "noop_rule_daily_cap", -2, 0, 0, 0, 0, 0),  # the cap before the bound
    ]


def test_global_daily_cap(scenario: str) -> None:
    assert ledger(scenario, "dev_h") == [
        ("h01", "chat", "applied", 5, 5, 0, 5, 0, 0),
        ("h02", "chat", "applied", 5, 5, 5, 10, 0, 0),
        ("h03", "chat", "applied", 5, 5, 10, 15, 0, 0),
        ("h04", "chat", "applied", 5, 5, 15, 20, 0, 0),
        ("h05", "gift", "applied", 10, 10, 20, 30, 0, 0),
        ("h06", "gift", "applied", 10, 10, 30, 40, 0, 0),  # 300 s: not less
        ("h07", "gift", "applied", 7, 7, 40, 47, 0, 0),
        ("h08", "play", "applied", 5, 3, 47, 50, 0, 0),  # 3 left of 50
        ("h09", "play", "noop_global_daily_cap", 4, 0, 50, 50, 0, 0),
        ("h10", "decay", "applied", -2, -2, 50, 48, 0, 0),  # not counted
        ("h11", "gift", "noop_global_daily_cap", 3, 0, 48, 48, 0, 0),
        ("h12", "admin", "applied", 10, 10, 48, 58, 0, 0),  # admin: no cap
    ]


def test_admin_adjustments_are_clamped_at_both_ends(scenario: str) -> None:
    assert ledger(scenario, "dev_i") == [
        ("i1", "admin", "applied", 2000, 1000, 0, 1000, 0, 5),
        ("i2", "admin", "noop_value_boundary", 5, 0, 1000, 1000, 5, 5),
        ("i3", "admin", "applied", -5000, -1000, 1000, 0, 5, 0),
        ("i4", "admin", "noop_value_boundary", -1, 0, 0, 0, 0, 0),
        ("i5", "admin", "applied", 120, 120, 0, 120, 0, 1),
        ("i6", "chat", "applied", 3, 3, 120, 123, 1, 1),
        ("i7", "admin", "applied", 877, 877, 123, 1000, 1, 5),
        ("i8", "chat", "noop_value_boundary", 3, 0, 1000, 1000, 5, 5),
    ]
    # every level's rewards once, from i1; falling to 0 and rising to 5 again grants nothing
    assert rewards(scenario, "dev_i") == grants("i1", "p_i", range(1, 6))
    assert dim(scenario, "dev_i") == ("p_i", 1000, 5, t("09:01:10"), True, 5)


def test_a_level_that_falls_and_rises_again_is_not_rewarded_twice(scenario: str) -> None:
    assert ledger(scenario, "dev_j") == [
        ("j1", "admin", "applied", 98, 98, 0, 98, 0, 0),
        ("j2", "chat", "applied", 3, 3, 98, 101, 0, 1),
        ("j3", "decay", "applied", -4, -4, 101, 97, 1, 0),
        ("j4", "chat", "applied", 5, 5, 97, 102, 0, 1),
        ("j5", "admin", "applied", 150, 150, 102, 252, 1, 2),
        ("j6", "admin", "applied", 500, 500, 252, 752, 2, 4),
    ]
    assert rewards(scenario, "dev_j") == (
        grants("j2", "p_j", range(1, 2))
        + grants("j5", "p_j", range(2, 3))
        + grants("j6", "p_j", range(3, 5))
    )


def test_same_instant_events_follow_event_id(scenario: str) -> None:
    assert ledger(scenario, "dev_l") == [
        ("l1", "admin", "applied", 5, 5, 0, 5, 0, 0),
        ("l2", "admin", "applied", -10, -5, 5, 0, 0, 0),
        ("l3", "admin", "applied", 1000, 1000, 0, 1000, 0, 5),
    ]
    assert rewards(scenario, "dev_l") == grants("l3", "p_l", range(1, 6))


def test_daily_caps_follow_the_shanghai_day(scenario: str) -> None:
    assert ledger(scenario, "dev_k") == [
        ("k1", "chat", "applied", 5, 5, 0, 5, 0, 0),
        ("k2", "chat", "applied", 5, 5, 5, 10, 0, 0),
        ("k3", "chat", "applied", 5, 5, 10, 15, 0, 0),
        ("k4", "chat", "applied", 5, 5, 15, 20, 0, 0),
        ("k5", "chat", "noop_rule_daily_cap", 5, 0, 20, 20, 0, 0),  # 23:59 in Shanghai
        ("k6", "chat", "applied", 5, 5, 20, 25, 0, 0),  # 00:00 next Shanghai day
    ]
    assert query(
        scenario,
        "select distinct local_date::text from gold_candidate.fct_affinity_ledger"
        " where device_id = 'dev_k' order by 1",
    ) == [("2025-03-10",), ("2025-03-11",)]


def test_only_affinity_events_have_ledger_rows(scenario: str) -> None:
    # 71 valid affinity events in the scenario; the duplicate and the invalid one are not rows
    assert query(scenario, "select count(*) from gold_candidate.fct_affinity_ledger") == [(71,)]
    assert query(
        scenario,
        "select count(*) from gold_candidate.fct_affinity_ledger"
        " where event_id = 'a_bad' or event_type not like 'affinity.%'",
    ) == [(0,)]


def test_device_dimension(scenario: str) -> None:
    assert dim(scenario, "dev_a") == ("p_a", 15, 0, t("01:01:20"), True, 0)
    assert dim(scenario, "dev_c") == (None, 50, 0, t("03:00:20"), False, 0)
    assert dim(scenario, "dev_d") == ("p_d", 3, 0, t("04:04:00"), True, 0)
    assert dim(scenario, "dev_g") == ("p_g", 0, 0, t("07:11:00"), True, 0)
    assert dim(scenario, "dev_j") == ("p_j", 752, 4, t("10:01:40"), True, 4)
    assert dim(scenario, "dev_l") == (None, 1000, 5, t("11:00:10"), False, 5)
    assert dim(scenario, "dev_n") == ("p_n", 0, 0, None, False, 0)
    assert query(scenario, "select count(*) from gold_candidate.dim_affinity_device") == [(14,)]


def test_only_the_rewarded_devices_have_rewards(scenario: str) -> None:
    assert query(
        scenario,
        """
        select device_id, count(*) from gold_candidate.fct_affinity_rewards group by 1 order by 1
    """,
    ) == [("dev_i", 10), ("dev_j", 7), ("dev_l", 10)]


def test_the_invariant_tests_catch_a_broken_ledger(scenario: str) -> None:
    """The dbt data tests of the invariants fail on marts that break them (and pass again)."""
    breaks = [
        "update gold_candidate.fct_affinity_ledger set after_value = 1001 where event_id = 'i1'",
        "update gold_candidate.fct_affinity_ledger set applied_change = 0 where event_id = 'i3'",
        "update gold_candidate.fct_affinity_ledger set applied_change = 5, after_value = 25,"
        " outcome = 'applied' where event_id = 'k5'",
        "update gold_candidate.fct_affinity_ledger set before_value = 7 where event_id = 'j2'",
        "update gold_candidate.fct_affinity_ledger set new_level = 3 where event_id = 'j6'",
        "insert into gold_candidate.fct_affinity_rewards select brand_id, player_id, device_id,"
        " level, 'extra', quantity, granted_at, 'i7' from gold_candidate.fct_affinity_rewards"
        " where event_id = 'i1' and level = 1 and reward_code = 'coins'",
    ]
    repairs = [
        "update gold_candidate.fct_affinity_ledger set after_value = 1000 where event_id = 'i1'",
        "update gold_candidate.fct_affinity_ledger set applied_change = -1000"
        " where event_id = 'i3'",
        "update gold_candidate.fct_affinity_ledger set applied_change = 0, after_value = 20,"
        " outcome = 'noop_rule_daily_cap' where event_id = 'k5'",
        "update gold_candidate.fct_affinity_ledger set before_value = 98 where event_id = 'j2'",
        "update gold_candidate.fct_affinity_ledger set new_level = 4 where event_id = 'j6'",
        "delete from gold_candidate.fct_affinity_rewards where reward_code = 'extra'",
    ]
    selection = ["test", "--select", "fct_affinity_ledger", "fct_affinity_rewards"]
    with psycopg.connect(scenario, autocommit=True) as conn:
        for statement in breaks:
            conn.execute(statement)
        try:
            assert run_dbt(selection, scenario, check=False).returncode != 0
            failed = _failed_tests()
        finally:
            for statement in repairs:
                conn.execute(statement)
    assert {
        "affinity_value_within_bounds_fct_affinity_ledger_after_value",
        "affinity_only_applied_changes_fct_affinity_ledger_",
        "affinity_ledger_is_chained_fct_affinity_ledger_",
        "affinity_within_rule_daily_cap_fct_affinity_ledger_",
        "affinity_level_granted_once_fct_affinity_rewards_",
        "affinity_level_matches_value_fct_affinity_ledger_",
    } <= failed, failed
    assert run_dbt(selection, scenario, check=False).returncode == 0


def _failed_tests() -> set[str]:
    """Names of the tests that failed in the last dbt invocation (its run_results.json)."""
    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2] for r in results["results"] if r["status"] == "fail"}


# ---------------------------------------------------------------------------------------------
# Incremental runs: resume from the last state, replay a device on a late event.
# ---------------------------------------------------------------------------------------------

BATCH_1 = [
    # dev_x: its late event comes in batch 2
    bound("x0", "10:00:00", "p_x", "dev_x"),
    trig("x2", "10:01:00", "p_x", "dev_x", "chat", 3),
    trig("x4", "10:02:00", "p_x", "dev_x", "chat", 4),
    # dev_y: resumes with its cooldown, rule and global usage of the day
    bound("y0", "10:00:00", "p_y", "dev_y"),
    trig("y1", "10:00:10", "p_y", "dev_y", "chat", 5),
    trig("y2", "10:00:20", "p_y", "dev_y", "gift", 10),
    trig("y3", "10:05:20", "p_y", "dev_y", "gift", 10),
    trig("y4", "10:10:20", "p_y", "dev_y", "gift", 10),
    trig("y5", "10:11:00", "p_y", "dev_y", "chat", 5),
    trig("y6", "10:12:00", "p_y", "dev_y", "chat", 5),
    # dev_z: unbound after its last ledger row
    bound("z0", "10:00:00", "p_z", "dev_z"),
    trig("z1", "10:00:10", "p_z", "dev_z", "chat", 2),
    unbound("z2", "10:00:20", "p_z", "dev_z"),
    # dev_w: reached level 1 and fell back
    admin("w1", "10:00:00", "p_w", "dev_w", 100),
    admin("w2", "10:00:10", "p_w", "dev_w", -50),
    # dev_u: no new events in batch 2
    bound("u0", "10:00:00", "p_u", "dev_u"),
    trig("u1", "10:00:10", "p_u", "dev_u", "chat", 1),
    # dev_v: only a binding so far
    bound("v0", "10:00:00", "p_v", "dev_v"),
]

BATCH_2 = [
    trig("x1", "10:00:30", "p_x", "dev_x", "chat", 2),  # before x2 and x4: late
    trig("y7", "10:12:30", "p_y", "dev_y", "chat", 5),
    trig("y8", "10:13:00", "p_y", "dev_y", "chat", 5),
    trig("y9", "10:15:30", "p_y", "dev_y", "play", 3),
    trig("ya", "10:16:00", "p_y", "dev_y", "chat", 2),
    trig("z3", "10:01:30", "p_z", "dev_z", "chat", 2),
    admin("w3", "10:00:20", "p_w", "dev_w", 60),
    trig("v1", "10:00:10", "p_v", "dev_v", "chat", 3),
]

GOLD = (
    "gold_candidate.fct_affinity_ledger",
    "gold_candidate.dim_affinity_device",
    "gold_candidate.fct_affinity_rewards",
)


def silver_snapshot(url: str) -> list[tuple[Any, ...]]:
    """The replay's rows with their carried state, without the run marker."""
    return sorted(
        query(
            url,
            """
        select event_id, outcome, applied_change, before_value, after_value, old_level,
               new_level, rewarded_level_from, rewarded_level_to, bound_player_id,
               max_level_reached, rule_day_used, rule_last_applied_at, global_day_used
        from silver.int_affinity_ledger
    """,
        )
    )


def row_versions(url: str) -> dict[str, str]:
    """event_id -> the transaction that wrote the silver row (rewritten rows change it)."""
    return dict(query(url, "select event_id, xmin::text from silver.int_affinity_ledger"))


def test_a_late_event_replays_its_device_and_equals_a_full_refresh(
    warehouse_url: str, tmp_path: Path
) -> None:
    url = warehouse_url
    land_events(url, tmp_path / "batch_1.ndjson", BATCH_1)
    build(url)
    assert ledger(url, "dev_x") == [
        ("x2", "chat", "applied", 3, 3, 0, 3, 0, 0),
        ("x4", "chat", "applied", 4, 4, 3, 7, 0, 0),
    ]
    before = row_versions(url)

    land_events(url, tmp_path / "batch_2.ndjson", BATCH_2)
    build(url)
    # dev_x is replayed from scratch: x1 now starts the cooldown that x2 runs into
    assert ledger(url, "dev_x") == [
        ("x1", "chat", "applied", 2, 2, 0, 2, 0, 0),
        ("x2", "chat", "noop_cooldown", 3, 0, 2, 2, 0, 0),
        ("x4", "chat", "applied", 4, 4, 2, 6, 0, 0),
    ]
    assert dim(url, "dev_x") == ("p_x", 6, 0, t("10:02:00"), True, 0)
    assert ledger(url, "dev_y") == [
        ("y1", "chat", "applied", 5, 5, 0, 5, 0, 0),
        ("y2", "gift", "applied", 10, 10, 5, 15, 0, 0),
        ("y3", "gift", "applied", 10, 10, 15, 25, 0, 0),
        ("y4", "gift", "applied", 10, 10, 25, 35, 0, 0),
        ("y5", "chat", "applied", 5, 5, 35, 40, 0, 0),
        ("y6", "chat", "applied", 5, 5, 40, 45, 0, 0),
        ("y7", "chat", "noop_cooldown", 5, 0, 45, 45, 0, 0),  # 30 s after y6
        ("y8", "chat", "applied", 5, 5, 45, 50, 0, 0),  # chat 20, global 50
        ("y9", "play", "noop_global_daily_cap", 3, 0, 50, 50, 0, 0),
        ("ya", "chat", "noop_rule_daily_cap", 2, 0, 50, 50, 0, 0),
    ]
    assert ledger(url, "dev_z") == [
        ("z1", "chat", "applied", 2, 2, 0, 2, 0, 0),
        ("z3", "chat", "noop_device_unbound", 2, 0, 2, 2, 0, 0),
    ]
    assert ledger(url, "dev_w") == [
        ("w1", "admin", "applied", 100, 100, 0, 100, 0, 1),
        ("w2", "admin", "applied", -50, -50, 100, 50, 1, 0),
        ("w3", "admin", "applied", 60, 60, 50, 110, 0, 1),
    ]
    assert rewards(url, "dev_w") == grants("w1", "p_w", range(1, 2))
    assert ledger(url, "dev_v") == [("v1", "chat", "applied", 3, 3, 0, 3, 0, 0)]

    # only dev_x was rewritten; the others were extended, dev_u was not touched
    after = row_versions(url)
    rewritten = {eid for eid, version in before.items() if after[eid] != version}
    assert rewritten == {"x2", "x4"}

    incremental = {relation: table_snapshot(url, relation) for relation in GOLD}
    incremental_silver = silver_snapshot(url)
    build(url, "--full-refresh")
    assert {relation: table_snapshot(url, relation) for relation in GOLD} == incremental
    assert silver_snapshot(url) == incremental_silver


def _random_batches(
    seed: int, batches: int = 3, per_batch: int = 700
) -> list[list[dict[str, Any]]]:
    """Events over a few devices and players, two local days, every rule, admin adjustments,
    binding changes, duplicates and late events (later batches reach back in time for two of
    the devices; the others are resumed from their state)."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai: the day turns
    devices = [f"dev_{i:02d}" for i in range(6)]
    players = ["p_1", "p_2", "p_3"]
    rules = ["chat", "chat", "gift", "play", "decay", "decay", "pet", "nope"]
    out: list[list[dict[str, Any]]] = []
    serial = 0
    for batch in range(batches):
        events: list[dict[str, Any]] = []
        # each batch mostly moves forward; some events reach back before earlier batches
        base = start + timedelta(hours=3 * batch)
        for _ in range(per_batch):
            serial += 1
            device = rng.choice(devices)
            # late events only for the first two devices: the others resume their state
            back = batch > 0 and device in devices[:2] and rng.random() < 0.1
            when = (
                start + timedelta(seconds=rng.randrange(0, 3 * 3600 * batch))
                if back
                else base + timedelta(seconds=rng.randrange(0, 3 * 3600))
            )
            when = when.replace(second=rng.choice([0, 0, 30]))  # equal instants happen
            # mostly the device's own player; sometimes another one
            player = (
                players[devices.index(device) % len(players)]
                if rng.random() < 0.85
                else rng.choice(players)
            )
            kind = rng.random()
            eid = f"r{serial:05d}"
            if kind < 0.08:
                events.append(
                    event("device.bound", when, player=player, event_id=eid, device_id=device)
                )
            elif kind < 0.12:
                events.append(
                    event("device.unbound", when, player=player, event_id=eid, device_id=device)
                )
            elif kind < 0.17:
                events.append(
                    event(
                        "affinity.admin_adjust",
                        when,
                        player=player,
                        event_id=eid,
                        device_id=device,
                        delta=rng.choice([-300, -40, 25, 120, 400, 2000]),
                        operator_admin_id="adm_1",
                        reason="test",
                    )
                )
            else:
                rule = rng.choice(rules)
                change = rng.randint(-7, -1) if rule == "decay" else rng.randint(0, 12)
                events.append(
                    event(
                        "affinity.triggered",
                        when,
                        player=player,
                        event_id=eid,
                        device_id=device,
                        rule_key=rule,
                        change=change,
                        source="companion_app",
                    )
                )
            if rng.random() < 0.03:
                events.append(events[-1])  # a duplicate delivery
        out.append(events)
    return out


def test_incremental_runs_equal_a_full_refresh(warehouse_url: str, tmp_path: Path) -> None:
    url = warehouse_url
    for number, events in enumerate(_random_batches(seed=4)):
        land_events(url, tmp_path / f"batch_{number}.ndjson", events)
        build(url)
        if number == 0:
            first_versions = row_versions(url)
    # the first batch's rows were rewritten only for the devices with late events
    last_versions = row_versions(url)
    devices = dict(query(url, "select event_id, device_id from silver.int_affinity_ledger"))
    rewritten = {
        devices[eid] for eid, version in first_versions.items() if last_versions[eid] != version
    }
    assert rewritten == {"dev_00", "dev_01"}
    counts = query(
        url,
        """
        select count(*), count(distinct outcome), count(*) filter (where outcome = 'applied')
        from gold_candidate.fct_affinity_ledger
    """,
    )[0]
    assert counts[0] > 1500 and counts[1] == 7 and counts[2] > 200, counts
    incremental = {relation: table_snapshot(url, relation) for relation in GOLD}
    incremental_silver = silver_snapshot(url)
    build(url, "--full-refresh")
    assert {relation: table_snapshot(url, relation) for relation in GOLD} == incremental
    assert silver_snapshot(url) == incremental_silver


# ---------------------------------------------------------------------------------------------
# Scale: `pytest -m slow tests/test_affinity.py -s` prints the replay's throughput.
# ---------------------------------------------------------------------------------------------


def _insert_bench_batch(url: str, first: int, count: int, devices: int, late: int = 0) -> None:
    """`count` affinity events straight into raw.events as one batch: device i % devices, its
    n-th event i / devices about every 10 minutes (so cooldowns and caps bite), a binding
    first, then mostly triggers by the owner, some admin adjustments, unbindings and other
    players; `late` of them placed back in time."""
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
        batch_id = conn.execute(
            """
            insert into raw.load_batches (source_path, file_name, sha256, size_bytes,
                                          lines_read, events_landed, finished_at)
            values ('bench', 'bench', %s, 0, %s, %s, clock_timestamp())
            returning batch_id
        """,
            [f"bench-{first}", count, count],
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            """
            insert into raw.events (batch_id, line_no, event_id, event_type, occurred_at,
                                    tenant_id, region, player_id, schema_version, payload)
            select %(batch)s, i - %(first)s + 1, 'bench-' || i,
                   case when n = 0 then 'device.bound'
                        when h < 2 then 'device.unbound'
                        when h < 4 then 'device.bound'
                        when h < 7 then 'affinity.admin_adjust'
                        else 'affinity.triggered' end,
                   timestamptz '2025-01-01' + make_interval(secs => n * 600 + d %% 600)
                       - case when i - %(first)s < %(late)s
                              then interval '2 days' else interval '0' end,
                   'brand-' || (d %% 3), 'APAC',
                   'p_' || case when h between 95 and 99 then d + 1 else d end,
                   '1.0.0',
                   case when h between 4 and 6
                        then jsonb_build_object('device_id', 'dev_' || d,
                                                'delta', (h - 5) * 150,
                                                'operator_admin_id', 'adm_1', 'reason', 'b')
                        when n > 0 and h >= 7
                        then jsonb_build_object('device_id', 'dev_' || d,
                                                'rule_key', (array['chat', 'chat', 'gift',
                                                    'play', 'decay', 'unknown'])[1 + h %% 6],
                                                'change', case when h %% 6 = 4 then -(h %% 5)
                                                               else h %% 12 end,
                                                'source', 'bench')
                        else jsonb_build_object('device_id', 'dev_' || d) end
            from (
                select i, i %% %(devices)s as d, i / %(devices)s as n,
                       abs(hashtext(i::text)) %% 100 as h
                from generate_series(%(first)s, %(first)s + %(count)s - 1) as i
            ) as g
        """,
            {"batch": batch_id, "first": first, "count": count, "devices": devices, "late": late},
        )
        conn.execute("analyze raw.events")


def _model_seconds(model: str) -> float:
    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    return next(
        r["execution_time"]
        for r in results["results"]
        if r["unique_id"] == f"model.gaming_dwh.{model}"
    )


@pytest.mark.slow
def test_replay_throughput_on_a_million_events(warehouse_url: str) -> None:
    url, devices = warehouse_url, 20_000
    _insert_bench_batch(url, first=0, count=1_100_000, devices=devices)
    started = time.perf_counter()
    build(url)
    total = time.perf_counter() - started
    rows = query(url, "select count(*) from silver.int_affinity_ledger")[0][0]
    seconds = _model_seconds("int_affinity_ledger")
    print(
        f"\nfull replay: {rows:,} ledger rows in {seconds:.1f} s "
        f"= {rows / seconds:,.0f} rows/s (whole build {total:.1f} s)"
    )
    assert rows >= 1_000_000
    assert rows / seconds >= 50_000

    # an incremental batch: one new event for half the devices, 200 of them late
    _insert_bench_batch(url, first=1_100_000, count=devices // 2, devices=devices, late=200)
    build(url)
    seconds = _model_seconds("int_affinity_ledger")
    print(f"incremental: {devices // 2:,} new events in {seconds:.1f} s")
    incremental = table_snapshot(url, "gold_candidate.dim_affinity_device")
    build(url, "--full-refresh")
    assert table_snapshot(url, "gold_candidate.dim_affinity_device") == incremental
