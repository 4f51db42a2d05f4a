"""After an incremental build, a day-local suite (fct_bets_rollup) checks only the days the
builds changed since the last publication (expectations/changed_days.py), through the real
job: a corrupted value in a changed day still blocks publication; every rule that holds on
the slice holds on the whole mart; the records are read, never taken, before publication."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dwh.runner import run_warehouse_job
from expectations.changed_days import ChangedDays, changed_days
from expectations.checks import Check, Rule, restricted
from ingestion.generator import GeneratorConfig, generate
from tests.events import build, query

MART = "fct_bets_rollup"
FIRST_DAY, NEW_DAY = date(2026, 4, 1), date(2026, 4, 3)


def test_the_slice_predicate_and_the_restricted_check_read_the_changed_days_only() -> None:
    days = ChangedDays("day", (date(2026, 4, 2), date(2026, 4, 3)))
    assert days.where() == "day = any(array[date '2026-04-02', date '2026-04-03']::date[])"
    # no changed day: no row to check (contract and types still read the table)
    assert ChangedDays("day", ()).where() == "false"
    check = Check("k", "d", (Rule("r", "r"),), "select 'r' as failed_rule from \x00batch\x00 t")
    assert restricted(check, "day = date '2026-04-03'").query == (
        "select 'r' as failed_rule from "
        "(select * from \x00batch\x00 where day = date '2026-04-03') t"
    )
    with pytest.raises(ValueError):
        restricted(check, "day = '{x}'")


def _corrupt(url: str, day: date) -> list[tuple[object, ...]]:
    """ggr = stake - win broken on one 1m row of `day`; returns its key to restore it."""
    return query(
        url,
        f"with one as (select ctid from gold_candidate.{MART} "
        "where day = %s and granularity = '1m' limit 1) "
        f"update gold_candidate.{MART} set ggr_minor = ggr_minor + 1 "
        "where ctid in (select ctid from one) returning ctid",
        [day],
    )


def _restore(url: str) -> None:
    query(
        url,
        f"update gold_candidate.{MART} set ggr_minor = stake_minor - win_minor "
        "where ggr_minor <> stake_minor - win_minor returning 1",
    )


@pytest.mark.slow  # four job runs and a dbt build: about 4 minutes on the loaded machine
def test_an_incremental_run_validates_the_changed_days_and_still_blocks_a_bad_one(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expectations.runner import validate_mart  # GX is heavy: imported by the test only
    from warehouse.settings import load_settings

    landing = tmp_path / "landing"
    monkeypatch.setenv("DWH_LANDING_DIR", str(landing))
    config = dict(players=80, late_rate=0.0, duplicate_rate=0.0, conflict_rate=0.0)
    generate(GeneratorConfig(days=2, seed=5, start_date=FIRST_DAY, **config), landing / "a")
    first = run_warehouse_job(ephemeral_instance=True)
    assert first.success, first.failure
    # published: no record left, so a validation now would be whole
    assert changed_days(warehouse_url, MART) is None

    # a third day lands and is built incrementally (no validation, no publication yet)
    generate(GeneratorConfig(days=1, seed=6, start_date=NEW_DAY, **config), landing / "b")
    landed = run_warehouse_job(ephemeral_instance=True, op_selection=["land_event_files"])
    assert landed.success, landed.failure
    build(warehouse_url, "--exclude-resource-type", "unit_test")
    changed = changed_days(warehouse_url, MART)
    assert changed is not None and changed.day_column == "day"
    # the new day's bets settle on it (no late events), the first day is untouched
    assert NEW_DAY in changed.days and FIRST_DAY not in changed.days
    # peeking leaves the records for publication
    assert changed_days(warehouse_url, MART) == changed

    gx_home = load_settings().home / "gx"
    whole = validate_mart(warehouse_url, MART, schema="gold_candidate", gx_home=gx_home)
    sliced = validate_mart(
        warehouse_url, MART, schema="gold_candidate", gx_home=gx_home, changed=changed
    )
    # the same rules, all passing, on the slice and on the whole mart
    assert whole.success and sliced.success, sliced.failure_message()
    assert [o.expectation for o in sliced.outcomes] == [o.expectation for o in whole.outcomes]

    # a value broken on an unchanged day is outside the slice (such a row can only come from
    # gold, validated before publication; here it is forged in the candidate to show that the
    # slice is what runs), while the whole mart sees it
    assert len(_corrupt(warehouse_url, FIRST_DAY)) == 1
    assert validate_mart(
        warehouse_url, MART, schema="gold_candidate", gx_home=gx_home, changed=changed
    ).success
    assert not validate_mart(warehouse_url, MART, schema="gold_candidate", gx_home=gx_home).success
    _restore(warehouse_url)

    # a value broken on a changed day blocks publication through the job's gate
    assert len(_corrupt(warehouse_url, NEW_DAY)) == 1
    blocked = run_warehouse_job(
        ephemeral_instance=True, op_selection=["validate_gold_candidates", "publish_gold"]
    )
    assert not blocked.success
    assert blocked.step("validate_gold_candidates").checks_failed == 1
    assert query(warehouse_url, f"select count(*) from gold.{MART} where day = %s", [NEW_DAY]) == [
        (0,)
    ]
    (message,) = query(
        warehouse_url,
        "select message from audit.publications where status = 'blocked'",
    )[0]
    assert MART in message and "ggr_minor = stake_minor - win_minor" in message
    # the blocked attempt left the records for the next one
    assert changed_days(warehouse_url, MART) == changed

    _restore(warehouse_url)
    published = run_warehouse_job(
        ephemeral_instance=True, op_selection=["validate_gold_candidates", "publish_gold"]
    )
    assert published.success, published.failure
    assert changed_days(warehouse_url, MART) is None  # taken by the publication
    assert query(
        warehouse_url, f"select count(*) > 0 from gold.{MART} where day = %s", [NEW_DAY]
    ) == [(True,)]
