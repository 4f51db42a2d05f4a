"""The project's key tests (dbt_project/macros/tests), through real dbt on a built silver table.

- `primary_key` fails on a NULL key value, also on a table whose unique index keeps the key
  unique (the index does not refuse NULLs);
- it trusts only a valid unique index on exactly the key columns: without one, a repeated key
  fails the test;
- `not_null_columns` fails on a NULL in any one of its columns;
- every model and seed has a tested key: `primary_key` below gold, `unique_combination` (or
  `unique`) on gold's grain, a one-row test for a one-row seed.

int_bets is the table: unique index on bet_id, key tests `primary_key` (bet_id) and
`not_null_columns` (brand_id, currency, batch_id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tests.events import build, event, land_events, query
from warehouse.dbt import DbtError, prepare_manifest, run_dbt

PRIMARY_KEY = "primary_key_int_bets_bet_id"
NOT_NULL = "not_null_columns_int_bets_brand_id__currency__batch_id"


@pytest.fixture(scope="module")
def bets(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = module_warehouse_url
    placed = event(
        "bet.placed",
        "2026-02-01 10:00:00",
        event_id="placed",
        bet_id="b1",
        game_id="g1",
        provider_id="pv1",
        stake_minor=500,
        currency="EUR",
        in_bonus=False,
    )
    land_events(url, tmp_path_factory.mktemp("keys") / "bets.ndjson", [placed])
    build(url, "--select", "+int_bets", "--exclude-resource-type", "unit_test")
    assert query(url, "select bet_id, currency from silver.int_bets") == [("b1", "EUR")]
    return url


def _test(url: str, name: str) -> None:
    run_dbt(["test", "--select", name], url)


@contextmanager
def _extra_bet(url: str, bet_id: str | None, currency: str | None) -> Iterator[None]:
    """A copy of bet b1 under another bet_id and currency, removed afterwards."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create temp table extra as select * from silver.int_bets where bet_id = 'b1'")
        conn.execute(
            "update extra set bet_id = %s, currency = %s, placed_event_id = 'extra'",
            [bet_id, currency],
        )
        conn.execute("insert into silver.int_bets select * from extra")
        try:
            yield
        finally:
            conn.execute("delete from silver.int_bets where placed_event_id = 'extra'")


def test_both_tests_pass_on_the_built_table(bets: str) -> None:
    _test(bets, f"{PRIMARY_KEY} {NOT_NULL}")


def test_a_null_key_fails_although_an_index_keeps_the_key_unique(bets: str) -> None:
    with _extra_bet(bets, None, "EUR"), pytest.raises(DbtError, match=PRIMARY_KEY):
        _test(bets, PRIMARY_KEY)


def test_without_the_unique_index_a_repeated_key_fails(bets: str) -> None:
    [(name, definition)] = query(
        bets,
        "select indexname, indexdef from pg_indexes where schemaname = 'silver' "
        "and tablename = 'int_bets' and indexdef like 'CREATE UNIQUE INDEX %'",
    )
    with psycopg.connect(bets, autocommit=True) as conn:
        conn.execute(f'drop index silver."{name}"')
        try:
            with _extra_bet(bets, "b1", "EUR"), pytest.raises(DbtError, match=PRIMARY_KEY):
                _test(bets, PRIMARY_KEY)
        finally:
            conn.execute(definition)
    # with the index back (and the copy gone), the test trusts it again and passes
    _test(bets, PRIMARY_KEY)


def test_a_null_in_any_listed_column_fails(bets: str) -> None:
    with _extra_bet(bets, "b2", None), pytest.raises(DbtError, match=NOT_NULL):
        _test(bets, NOT_NULL)


def test_every_model_and_seed_has_a_tested_key(bets: str) -> None:
    nodes = json.loads(prepare_manifest(bets).read_text())["nodes"]
    keyed = set()
    for node in nodes.values():
        metadata = node.get("test_metadata") or {}
        name, kwargs = metadata.get("name"), metadata.get("kwargs", {})
        one_row = name == "affinity_row_count" and kwargs.get("expected") == 1
        if name in ("primary_key", "unique_combination", "unique") or one_row:
            keyed.add(node["attached_node"])
    built = {
        unique_id: node["fqn"][1]
        for unique_id, node in nodes.items()
        if node["resource_type"] in ("model", "seed")
    }
    assert len(built) > 40
    assert sorted(unique_id for unique_id in built if unique_id not in keyed) == []
    # below gold, the key is one primary_key test; no one-column unique or not_null is left
    below_gold = [
        node
        for node in nodes.values()
        if node["resource_type"] == "test"
        and built.get(node["attached_node"] or "") not in (None, "gold")
        and (node.get("test_metadata") or {}).get("name") in ("unique_combination", "not_null")
    ]
    assert below_gold == []
