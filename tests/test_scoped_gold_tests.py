"""The data tests of the day-keyed gold marts test the days changed since the last publication
(`__unpublished_days__`, dbt_project/macros/tests/where_subquery.sql), through real dbt, a
real publication and the rollup's own key test.

The fixture: bets settled on 2026-02-01 and 2026-02-02, built and published; then one more bet
settled on 2026-02-02, built (not published). So the candidate's unpublished days are
{2026-02-02}: the incremental build rebuilt that day and left 2026-02-01 as published.
- a repeated key on the rebuilt day fails the test;
- a repeated key on the published day is outside the slice: the test passes;
- once a build records the whole mart (a full refresh does), the same repeat fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.events import build, event, land_events, query
from warehouse.dbt import DbtError, run_dbt
from warehouse.publish import publish

KEY_TEST = (
    "unique_combination_fct_bets_rollup_granularity__bucket_start__brand_id__region__"
    "provider_id__game_id__currency"
)
GRAIN = ["granularity", "bucket_start", "brand_id", "region", "provider_id", "game_id", "currency"]


def _bet(bet_id: str, settled_at: str) -> list[dict[str, object]]:
    """A bet placed half an hour before it settles (stake 100, win 50, EUR)."""
    bet = {
        "bet_id": bet_id,
        "game_id": "g1",
        "provider_id": "pv1",
        "currency": "EUR",
        "stake_minor": 100,
        "in_bonus": False,
    }
    placed_at = settled_at.replace(":30:", ":00:")
    return [
        event("bet.placed", placed_at, event_id=f"{bet_id}-p", **bet),
        event("bet.settled", settled_at, event_id=f"{bet_id}-s", win_minor=50, **bet),
    ]


def _build(url: str) -> None:
    build(url, "--select", "+fct_bets_rollup", "--exclude-resource-type", "unit_test")


@pytest.fixture(scope="module")
def rebuilt(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = module_warehouse_url
    landing: Path = tmp_path_factory.mktemp("scoped")
    land_events(
        url,
        landing / "first.ndjson",
        [*_bet("b1", "2026-02-01 10:30:00"), *_bet("b2", "2026-02-02 10:30:00")],
    )
    _build(url)
    with psycopg.connect(url, autocommit=True) as conn:
        publish(conn, ["fct_bets_rollup"], run_id="scoped-1", keys={"fct_bets_rollup": GRAIN})
    land_events(url, landing / "second.ndjson", _bet("b3", "2026-02-02 11:30:00"))
    _build(url)
    return url


def _unpublished(url: str) -> list[dt.date] | None:
    [(days,)] = query(url, "select audit.unpublished_days('fct_bets_rollup', 'day')")
    return days


@contextmanager
def _repeated_row(url: str, day: str) -> Iterator[None]:
    """A second copy of the day's 1d rollup row (the same key), removed afterwards."""
    table = "gold_candidate.fct_bets_rollup"
    where = f"granularity = '1d' and day = date '{day}'"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create temp table extra as select * from {table} where {where}")
        assert conn.execute("select count(*) from extra").fetchone() == (1,)
        conn.execute(f"insert into {table} select * from extra")
        try:
            yield
        finally:
            conn.execute(f"delete from {table} where {where}")
            conn.execute(f"insert into {table} select * from extra")


def _key_test(url: str) -> None:
    run_dbt(["test", "--select", KEY_TEST], url)


def test_the_slice_is_the_rebuilt_day(rebuilt: str) -> None:
    assert _unpublished(rebuilt) == [dt.date(2026, 2, 2)]
    # the rebuilt day holds both of its bets: b2 and b3
    assert query(
        rebuilt,
        "select day, bets_settled from gold_candidate.fct_bets_rollup "
        "where granularity = '1d' order by day",
    ) == [(dt.date(2026, 2, 1), 1), (dt.date(2026, 2, 2), 2)]
    _key_test(rebuilt)


def test_a_repeated_key_on_a_rebuilt_day_fails(rebuilt: str) -> None:
    with _repeated_row(rebuilt, "2026-02-02"), pytest.raises(DbtError, match=KEY_TEST):
        _key_test(rebuilt)


def test_a_published_day_is_outside_the_slice_until_the_whole_mart_is_recorded(
    rebuilt: str,
) -> None:
    with _repeated_row(rebuilt, "2026-02-01"):
        _key_test(rebuilt)  # 2026-02-01 was tested when built, and is published
        with psycopg.connect(rebuilt, autocommit=True) as conn:
            conn.execute(
                "insert into audit.candidate_changes (mart, day_column, day, whole) "
                "values ('fct_bets_rollup', 'day', null, true)"
            )
        try:
            assert _unpublished(rebuilt) is None
            with pytest.raises(DbtError, match=KEY_TEST):
                _key_test(rebuilt)
        finally:
            with psycopg.connect(rebuilt, autocommit=True) as conn:
                conn.execute("delete from audit.candidate_changes where whole")
