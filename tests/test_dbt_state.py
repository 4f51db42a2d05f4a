"""What a dbt build carries from run to run (orchestration/dbt_state.py): its arguments, the
run's target directory, and the seeds it may leave as they are."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg

from orchestration.dbt_state import RUNS_KEPT, DbtRunState, build_args
from warehouse.dbt import run_dbt

BUILD = ["build", "--exclude-resource-type", "unit_test", "--log-level-file", "info"]


# -- arguments ------------------------------------------------------------------------------------
def test_a_plain_run_builds_everything_but_the_unit_tests() -> None:
    assert build_args() == BUILD


def test_unchanged_seeds_are_excluded_with_buildable_indirect_selection() -> None:
    assert build_args(exclude=["fct_x"], unchanged_seeds=["seed_a", "seed_b"]) == [
        *BUILD,
        "--exclude",
        "fct_x seed_a seed_b",
        "--indirect-selection",
        "buildable",
    ]


def test_a_full_refresh_reloads_every_seed() -> None:
    assert build_args(full_refresh=True, unchanged_seeds=["seed_a"], dbt_vars='{"a": 1}') == [
        *BUILD,
        "--full-refresh",
        "--vars",
        '{"a": 1}',
    ]


def test_no_indirect_selection_when_dagster_dbt_selects_the_tests() -> None:
    # dagster-dbt then sets DBT_INDIRECT_SELECTION=empty itself; a flag would override it
    assert build_args(unchanged_seeds=["seed_a"], dagster_selects_tests=True) == [
        *BUILD,
        "--exclude",
        "seed_a",
    ]


def test_buildable_keeps_the_tests_of_a_model_that_read_an_excluded_seed(
    warehouse_url: str, tmp_path: Path
) -> None:
    # The affinity ledger's bounds test reads the seed affinity_settings and the model
    # fct_affinity_ledger. dbt's default (eager) drops it with the seed; buildable keeps it.
    test = "affinity_value_within_bounds_fct_affinity_ledger_after_value"

    def listed(args: list[str]) -> set[str]:
        ls = ["ls", *args[1:], "--resource-type", "test", "--output", "name", "--quiet"]
        proc = run_dbt(ls, warehouse_url, target=tmp_path / "target")
        return set(proc.stdout.split())

    buildable = listed(build_args(unchanged_seeds=["affinity_settings"]))
    eager = listed(build_args(unchanged_seeds=["affinity_settings"], dagster_selects_tests=True))
    assert test in buildable
    assert test not in eager


# -- the run's target directory -------------------------------------------------------------------
def test_a_run_gets_a_target_of_its_own_with_the_partial_parse_state(tmp_path: Path) -> None:
    (tmp_path / "partial_parse.msgpack").write_bytes(b"\x81\xa1a\x01")
    state = DbtRunState(tmp_path, {"nodes": {}})
    target = state.run_target("run-1")
    assert target == tmp_path / "runs" / "run-1"
    assert (target / "partial_parse.msgpack").read_bytes() == b"\x81\xa1a\x01"


def test_without_a_partial_parse_state_the_run_target_is_empty(tmp_path: Path) -> None:
    target = DbtRunState(tmp_path, {"nodes": {}}).run_target("run-1")
    assert target.is_dir()
    assert list(target.iterdir()) == []


def test_only_the_last_runs_targets_are_kept(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for age in range(RUNS_KEPT + 2):  # old-0 is the newest of them, old-21 the oldest
        old = runs / f"old-{age}"
        old.mkdir(parents=True)
        stamp = 1_700_000_000 - age * 60
        os.utime(old, (stamp, stamp))
    DbtRunState(tmp_path, {"nodes": {}}).run_target("new")
    kept = {p.name for p in runs.iterdir()}
    # the new run and the 19 newest old ones: 20 in all
    assert kept == {"new", *(f"old-{age}" for age in range(RUNS_KEPT - 1))}


# -- seeds ----------------------------------------------------------------------------------------
def _manifest(checksum: str) -> dict[str, Any]:
    seed = {
        "resource_type": "seed",
        "checksum": {"name": "sha256", "checksum": checksum},
        "config": {"enabled": True, "delimiter": ","},
        "schema": "reference",
        "alias": "rates",
        "name": "rates",
    }
    model = {"resource_type": "model", "name": "fct_x"}
    return {"nodes": {"seed.p.rates": seed, "model.p.fct_x": model}}


def test_a_seed_is_left_out_only_when_loaded_from_the_same_file(
    warehouse_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        state = DbtRunState(tmp_path, _manifest("aaa"))
        assert state.unchanged_seeds(conn) == []  # nothing recorded yet

        conn.execute("create schema reference")
        conn.execute("create table reference.rates (x int)")
        results = {
            "results": [
                {"unique_id": "seed.p.rates", "status": "success"},
                {"unique_id": "model.p.fct_x", "status": "success"},
            ]
        }
        assert state.record_loaded(conn, results) == ["seed.p.rates"]
        assert state.unchanged_seeds(conn) == ["rates"]

        # the file changed: reloaded
        assert DbtRunState(tmp_path, _manifest("bbb")).unchanged_seeds(conn) == []
        # the table is gone: reloaded
        conn.execute("drop table reference.rates")
        assert state.unchanged_seeds(conn) == []


def test_a_failed_seed_load_is_not_recorded(warehouse_url: str, tmp_path: Path) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create schema reference")
        conn.execute("create table reference.rates (x int)")
        state = DbtRunState(tmp_path, _manifest("aaa"))
        failed = {"results": [{"unique_id": "seed.p.rates", "status": "error"}]}
        assert state.record_loaded(conn, failed) == []
        assert state.unchanged_seeds(conn) == []
