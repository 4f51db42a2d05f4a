"""Silver types payload fields from the contract (macro valid_first_copies), through real dbt.

- An integer field written as an integral decimal (500.0) is valid by the contract and is typed
  as that integer in every silver model that reads it (a bigint cast of the text "500.0"
  would fail the whole build).
- A field the contract checks on some event types only is NULL on the others, whatever they
  carry: a bet.placed with win_minor "lots" neither breaks the build nor sets a win.
- Bronze data tests check each landed batch once, before silver takes it: a broken new batch
  fails the build; a batch silver already took is not scanned again.
- Bronze is the envelope only: every bronze model is read by a model downstream and documented
  (no typed views nobody reads), and typing is stated by the contract alone: an event type or
  a field the contract does not know is a compile error, not a column of NULLs.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.events import build, event, land_events, query
from warehouse.dbt import DbtError, prepare_manifest, run_dbt

SILVER = (
    "--select",
    "+int_bets",
    "+int_revenue_events",
    "+int_economy_events",
    "+int_points_awards",
    "+int_affinity_events",
    "--exclude-resource-type",
    "unit_test",
)
WHEN = "2026-02-01 10:00:00"


def events() -> list[dict[str, object]]:
    return [
        event(
            "bet.placed",
            WHEN,
            event_id="placed",
            bet_id="b1",
            game_id="g1",
            provider_id="pv1",
            stake_minor=500.0,
            currency="EUR",
            in_bonus=False,
            win_minor="lots",
        ),
        event(
            "bet.settled",
            "2026-02-01 10:01:00",
            event_id="settled",
            bet_id="b1",
            game_id="g1",
            provider_id="pv1",
            stake_minor=500.0,
            win_minor=100.0,
            currency="EUR",
            in_bonus=True,
        ),
        event(
            "bonus.consumed",
            WHEN,
            event_id="bonus",
            bonus_id="bn1",
            amount_minor=50.0,
            currency="EUR",
        ),
        event(
            "jackpot.contribution",
            WHEN,
            event_id="jackpot",
            game_id="g1",
            amount_minor=7.0,
            currency="EUR",
        ),
        event(
            "payment.captured",
            WHEN,
            event_id="captured",
            payment_id="pay1",
            amount_minor=1000,
            currency="EUR",
            method="card",
            fee_minor=20.0,
        ),
        event(
            "payment.captured",
            WHEN,
            event_id="captured-no-fee",
            payment_id="pay2",
            amount_minor=1000,
            currency="EUR",
            method="card",
        ),
        event("player.registered", WHEN, event_id="registered", amount="x"),
        event("credits.earn", WHEN, event_id="credits", amount=30.0),
        event(
            "gems.purchase", WHEN, event_id="gems", gems=12.0, amount_minor=499.0, currency="EUR"
        ),
        event(
            "points.awarded",
            WHEN,
            event_id="points",
            game_id="g1",
            task_id="t1",
            points=-2.0,
            minutes=1.5,
        ),
        event("device.bound", WHEN, event_id="bound", device_id="d1", change="not checked"),
        event(
            "affinity.triggered",
            "2026-02-01 10:02:00",
            event_id="triggered",
            device_id="d1",
            rule_key="login",
            change=-5.0,
            source="app",
        ),
        event(
            "affinity.admin_adjust",
            "2026-02-01 10:03:00",
            event_id="adjusted",
            device_id="d1",
            delta=10.0,
            operator_admin_id="admin-1",
            reason="goodwill",
        ),
    ]


@pytest.fixture(scope="module")
def typed(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = module_warehouse_url
    report = land_events(url, tmp_path_factory.mktemp("typing") / "typing.ndjson", events())
    assert report.total("quarantined") == 0
    build(url, *SILVER)
    return url


def test_integral_decimals_are_typed_as_integers(typed: str) -> None:
    assert query(
        typed,
        "select bet_id, stake_minor, win_minor, is_in_bonus, placed_event_id, "
        "settled_event_id from silver.int_bets",
    ) == [("b1", 500, 100, True, "placed", "settled")]
    assert query(
        typed,
        "select event_id, bonus_cost_minor, jackpot_minor, fee_minor, game_id "
        "from silver.int_revenue_events order by event_id",
    ) == [
        ("bonus", 50, 0, 0, None),
        ("captured", 0, 0, 20, None),
        ("captured-no-fee", 0, 0, 0, None),  # fee_minor is optional: 0
        ("jackpot", 0, 7, 0, "g1"),
    ]
    assert query(
        typed,
        "select event_id, amount, gems, amount_minor, currency "
        "from silver.int_economy_events order by event_id",
    ) == [
        ("credits", 30, None, None, None),
        ("gems", None, 12, 499, "EUR"),
        ("registered", None, None, None, None),  # amount is not checked on a registration
    ]
    points = query(typed, "select points, minutes from silver.int_points_awards")
    assert [(p, float(m)) for p, m in points] == [(-2, 1.5)]


def test_fields_are_null_where_the_contract_does_not_check_them(typed: str) -> None:
    assert query(
        typed,
        "select event_id, rule_key, requested_change, source, "
        "operator_admin_id, admin_reason from silver.int_affinity_events "
        "order by occurred_at",
    ) == [
        ("bound", None, None, None, None, None),  # its "change" is not the contract's
        ("triggered", "login", -5, "app", None, None),
        ("adjusted", None, 10, None, "admin-1", "goodwill"),
    ]


def test_bronze_tests_check_each_batch_once(typed: str, tmp_path: Path) -> None:
    def duplicate_a_line(batch_id: int) -> None:
        with psycopg.connect(typed, autocommit=True) as conn:
            conn.execute(
                "insert into raw.events select * from raw.events "
                "where batch_id = %s and line_no = 1",
                [batch_id],
            )

    with psycopg.connect(typed) as conn:
        taken = conn.execute("select max(batch_id) from silver.int_events").fetchone()[0]  # type: ignore[index]
    # a batch silver already took: raw is append-only, its tests passed when it was new
    duplicate_a_line(taken)
    build(typed, *SILVER)

    report = land_events(
        typed, tmp_path / "later.ndjson", [event("credits.earn", WHEN, event_id="later", amount=1)]
    )
    new_batch = report.landed_files[0].batch_id
    assert new_batch is not None and new_batch > taken
    duplicate_a_line(new_batch)
    with pytest.raises(DbtError, match="primary_key_stg_events_batch_id__line_no"):
        build(typed, *SILVER)
    assert query(typed, "select count(*) from silver.int_events where event_id = 'later'") == [(0,)]


def test_every_bronze_model_is_read_downstream_and_documented(typed: str) -> None:
    manifest = json.loads(prepare_manifest(typed).read_text())
    nodes = manifest["nodes"]
    bronze = {
        unique_id: node
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model" and node["fqn"][1] == "bronze"
    }
    assert bronze, "no bronze model parsed"
    unread = sorted(
        node["name"]
        for unique_id, node in bronze.items()
        if not any(
            nodes.get(child, {}).get("resource_type") == "model"
            for child in manifest["child_map"][unique_id]
        )
    )
    undocumented = sorted(node["name"] for node in bronze.values() if not node["description"])
    assert (unread, undocumented) == ([], [])


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        (
            "{{ valid_first_copies(['bet.refunded'], ['bet_id']) }}",
            "event type bet.refunded is not in the payload contract",
        ),
        (
            "{{ valid_first_copies(['bet.placed'], ['bet_ref']) }}",
            "payload field bet_ref is not in the contract of bet.placed",
        ),
        (
            "{{ json_text('payload', 'stake_minor') }}",
            "payload field stake_minor is not text in the payload contract",
        ),
    ],
)
def test_typing_outside_the_contract_does_not_compile(typed: str, sql: str, error: str) -> None:
    with pytest.raises(DbtError, match=error):
        run_dbt(["compile", "--quiet", "--inline", sql], typed)
