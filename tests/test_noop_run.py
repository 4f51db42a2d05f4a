"""A run with nothing new is a no-op: no Dagster run, no build, no check, no publication.

One database for the module: a first real run publishes, then each test changes one thing
(or nothing) and looks at what the next run does. The tests run in file order and build on
each other's publications; each real run costs tens of seconds, so they are few.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from dwh import cli
from dwh.runner import assess, dagster_instance, run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from orchestration.noop import Verdict
from orchestration.resources import WarehouseResource
from tests.events import event, query, write_events
from warehouse import run_fingerprint, seeds
from warehouse.dbt import prepare_manifest
from warehouse.settings import load_settings


@dataclass(frozen=True)
class Warehouse:
    url: str
    landing: Path
    files: int  # files of the first delivery: batches 1..files


@pytest.fixture(scope="module")
def warehouse(
    module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    home = tmp_path_factory.mktemp("noop_home")
    landing = home / "landing"
    with pytest.MonkeyPatch.context() as patch:
        # a persistent Dagster instance of the module's own, so its runs can be counted
        patch.setenv("DWH_HOME", str(home))
        patch.setenv("DWH_LANDING_DIR", str(landing))
        summary = generate(
            GeneratorConfig(players=40, days=2, seed=3, start_date=date(2026, 5, 1)),
            landing / "gen",
        )
        first = run_warehouse_job()
        assert first.success, first.failure
        assert first.noop is None
        yield Warehouse(module_warehouse_url, landing, len(summary.files))


def _publications(url: str) -> list[tuple[int, str]]:
    return query(url, "select publication_id, status from audit.publications order by 1")


def _dagster_runs() -> int:
    return dagster_instance(load_settings()).get_runs_count()


def _gold(url: str) -> list[tuple[object, ...]]:
    tables = [
        r[0]
        for r in query(url, "select tablename from pg_tables where schemaname = 'gold' order by 1")
    ]
    assert len(tables) >= 10  # the marts were published
    return [
        query(
            url,
            f"select '{t}', count(*), md5(coalesce(string_agg(x::text, '|' order by x::text), "
            f"'')) from gold.{t} x",
        )[0]
        for t in tables
    ]


def _assert_noop(url: str, publication_id: int) -> str:
    """A plain run now is a no-op referring to `publication_id`; returns its message."""
    publications, runs, gold = _publications(url), _dagster_runs(), _gold(url)
    report = run_warehouse_job()
    # when it ran, the report says what it took for work
    assert report.success and report.steps == [], report.work
    assert report.noop is not None
    assert report.work is None
    assert f"nothing new since publication {publication_id} " in report.noop
    assert _publications(url) == publications
    assert _dagster_runs() == runs
    assert _gold(url) == gold
    return report.noop


def test_a_second_run_with_nothing_new_is_a_no_op(
    warehouse: Warehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    url = warehouse.url
    assert _publications(url) == [(1, "published")]
    runs, gold = _dagster_runs(), _gold(url)
    assert runs == 1

    assert cli.main(["run"]) == 0

    out = capsys.readouterr().out
    # the first delivery landed as batches 1..files, and nothing since
    assert f"nothing new since publication 1 (batch {warehouse.files}, " in out
    assert "no files to land, no model, seed or setting changed; nothing built" in out
    assert "no run started" in out
    assert _publications(url) == [(1, "published")]
    assert _dagster_runs() == 1
    assert _gold(url) == gold
    [(status, publication_id, batch)] = query(
        url, "select status, publication_id, batch_id from audit.run_fingerprints"
    )
    assert (status, publication_id, batch) == ("published", 1, warehouse.files)


def test_the_fingerprint_names_what_changed(warehouse: Warehouse) -> None:
    manifest = seeds.read_manifest(prepare_manifest(warehouse.url))
    parts = run_fingerprint.project_parts(manifest)
    batch = warehouse.files

    def changed(parts_now: dict[str, str], batch_now: int = batch) -> tuple[str, ...]:
        with psycopg.connect(warehouse.url) as conn:
            last = run_fingerprint.compare(conn, batch_now, parts_now)
        assert isinstance(last, run_fingerprint.LastPublication) and last.publication_id == 1
        return last.changed

    assert changed(parts) == ()

    def edited(edit) -> dict[str, str]:  # type: ignore[no-untyped-def]
        other = copy.deepcopy(manifest)
        edit(other)
        return run_fingerprint.project_parts(other)

    seed_id = next(k for k, n in manifest["nodes"].items() if n["resource_type"] == "seed")
    model_id = next(k for k, n in manifest["nodes"].items() if n["resource_type"] == "model")
    macro_id = next(k for k, m in manifest["macros"].items() if m["package_name"] == "gaming_dwh")

    def new_seed_file(m) -> None:  # type: ignore[no-untyped-def]
        m["nodes"][seed_id]["checksum"]["checksum"] = "0" * 64

    def new_model_config(m) -> None:  # type: ignore[no-untyped-def]
        m["nodes"][model_id]["config"]["materialized"] = "view"

    def new_macro(m) -> None:  # type: ignore[no-untyped-def]
        m["macros"][macro_id]["macro_sql"] += "\n-- edited"

    # the same dependencies in another order, as a partial parse may write them: no change
    reordered = copy.deepcopy(manifest)
    for node in reordered["nodes"].values():
        for ids in node.get("depends_on", {}).values():
            ids.reverse()
    assert reordered != manifest  # some node depends on two or more
    assert changed(run_fingerprint.project_parts(reordered)) == ()
    # a seed is a node too: both parts change, and the seed part says which kind
    assert changed(edited(new_seed_file)) == ("models and tests", "seeds")
    assert changed(edited(new_model_config)) == ("models and tests",)
    assert changed(edited(new_macro)) == ("macros",)
    assert changed(run_fingerprint.project_parts(manifest, dbt_vars='{"a": 1}')) == ("run options",)
    assert changed(parts, batch + 1) == ("landed batches",)


def test_a_run_that_started_and_never_finished_is_no_reason_to_skip(
    warehouse: Warehouse,
) -> None:
    manifest = seeds.read_manifest(prepare_manifest(warehouse.url))
    parts = run_fingerprint.project_parts(manifest)
    settings = load_settings()
    assert not assess(warehouse.url, settings).has_work
    # what a killed run leaves: its attempt, with the very same fingerprint, still running
    with psycopg.connect(warehouse.url, autocommit=True) as conn:
        run_fingerprint.record_attempt(conn, "killed-run", warehouse.files, parts)
    assert assess(warehouse.url, settings).has_work
    assert assess(warehouse.url, settings) == Verdict(
        True, "the last run (killed-run) started and has not finished"
    )


def test_force_runs_anyway_and_publishes(warehouse: Warehouse) -> None:
    runs = _dagster_runs()
    report = run_warehouse_job(force=True)
    assert report.success, report.failure
    assert report.noop is None
    assert report.work is None  # not asked: forced
    assert report.step("publish_gold").materializations >= 10
    assert _publications(warehouse.url) == [(1, "published"), (2, "published")]
    assert _dagster_runs() == runs + 1
    _assert_noop(warehouse.url, 2)


def test_a_new_file_makes_the_next_run_land_build_and_publish(warehouse: Warehouse) -> None:
    write_events(
        warehouse.landing / "late" / "one.ndjson",
        [
            event(
                "bet.settled",
                "2026-05-02 12:00:00",
                event_id="noop-new-file-1",
                brand="brand-noop",
                bet_id="nb",
                game_id="g",
                provider_id="p",
                stake_minor=1000,
                win_minor=250,
                currency="EUR",
                in_bonus=False,
            )
        ],
    )
    report = run_warehouse_job()
    assert report.success, report.failure
    assert report.noop is None
    assert report.work == f"files to land: {warehouse.landing / 'late' / 'one.ndjson'}"
    assert report.step("land_event_files").metadata["files_landed"] == 1
    assert _publications(warehouse.url)[-1] == (3, "published")
    # the new bet reached gold: stake 1000 - win 250
    assert query(
        warehouse.url,
        "select sum(ggr_minor) from gold.fct_revenue_daily where brand_id = 'brand-noop'",
    ) == [(750,)]
    message = _assert_noop(warehouse.url, 3)
    assert f"(batch {warehouse.files + 1}, " in message


def test_a_landed_file_touched_again_is_no_work_once_landing_skipped_it(
    warehouse: Warehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    url, settings = warehouse.url, load_settings()
    path = warehouse.landing / "late" / "one.ndjson"  # landed as batch files + 1
    os.utime(path, (1_800_000_000, 1_800_000_000))
    assert assess(url, settings) == Verdict(True, f"files to land: {path}")
    # `dwh ingest` skips its bytes as those of the landed batch, and records the skip
    assert cli.main(["ingest", str(path)]) == 0
    assert f"already landed as batch {warehouse.files + 1}, skipped" in capsys.readouterr().out
    # so it is no work for the next run (nor for the hourly schedule): still publication 3
    verdict = assess(url, settings)
    assert not verdict.has_work
    assert verdict.reason.startswith("nothing new since publication 3 ")


def test_a_run_after_a_blocked_publication_is_not_skipped(warehouse: Warehouse) -> None:
    url = warehouse.url
    # one candidate value breaks ggr = stake - win, and only the checks and the publication run
    one_row = (
        "(day, brand_id, region, currency) = (select day, brand_id, region, currency "
        "from gold_candidate.fct_revenue_daily order by 1, 2, 3, 4 limit 1)"
    )
    assert query(
        url,
        "update gold_candidate.fct_revenue_daily set ggr_minor = ggr_minor + 1 "
        f"where {one_row} returning 1",
    ) == [(1,)]
    blocked = run_warehouse_job(op_selection=["validate_gold_candidates", "publish_gold"])
    assert not blocked.success
    assert _publications(url)[-1] == (4, "blocked")
    # the newest fingerprint is still publication 3's, unchanged, yet a block came after it
    assert assess(url, load_settings()).has_work
    assert assess(url, load_settings()).reason == (
        "publication 4 (blocked, by a run of part of the job or another job) "
        "came after publication 3"
    )

    # the cause of the block is repaired (a run with nothing new rebuilds nothing, so the
    # candidate is mended by hand): the next plain run is not skipped, and it publishes
    assert query(
        url,
        "update gold_candidate.fct_revenue_daily set ggr_minor = ggr_minor - 1 "
        f"where {one_row} returning 1",
    ) == [(1,)]

    report = run_warehouse_job()
    assert report.success, report.failure
    assert report.noop is None
    assert report.work is not None and report.work.startswith("publication 4 (blocked")
    assert _publications(url)[-1] == (5, "published")
    _assert_noop(url, 5)


@pytest.mark.slow  # two more runs of the job for one more kind of change
def test_dbt_vars_make_the_run_work_and_then_the_next_plain_run(warehouse: Warehouse) -> None:
    url = warehouse.url
    report = run_warehouse_job(dbt_vars='{"lookback_days": 4}')
    assert report.success, report.failure
    assert report.noop is None
    assert _publications(url)[-1] == (6, "published")
    # gold was built with other vars than a plain run's: the plain run is not skipped
    assert assess(url, load_settings()).has_work
    manifest = seeds.read_manifest(prepare_manifest(url))
    with psycopg.connect(url) as conn:
        last = run_fingerprint.compare(
            conn, run_fingerprint.landed_batch(conn), run_fingerprint.project_parts(manifest)
        )
    assert isinstance(last, run_fingerprint.LastPublication) and last.publication_id == 6
    assert last.changed == ("run options",)


def test_a_run_the_daemon_starts_is_fingerprinted_and_the_hourly_schedule_skips_after_it(
    warehouse: Warehouse,
) -> None:
    url = warehouse.url
    prepare_manifest(url)
    from orchestration.definitions import defs

    hourly = defs.get_schedule_def("warehouse_hourly")

    def tick() -> dg.ScheduleEvaluationContext:
        return dg.build_schedule_context(resources={"warehouse": WarehouseResource()})

    # the previous tests left a publication and nothing new: the hour is skipped
    with tick() as context:
        skipped = hourly.evaluate_tick(context)
    assert not skipped.run_requests
    assert "nothing new since publication" in (skipped.skip_message or "")

    write_events(
        warehouse.landing / "daemon" / "one.ndjson",
        [event("craft.complete", "2026-05-02 13:00:00", event_id="noop-daemon-1")],
    )
    with tick() as context:
        [request] = hourly.evaluate_tick(context).run_requests
    # the run as the daemon starts it: the job itself, without `dwh run` around it
    before = _publications(url)
    result = defs.resolve_job_def("warehouse").execute_in_process(
        run_config=request.run_config,
        tags=request.tags,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    [(publication_id, status)] = _publications(url)[len(before) :]
    assert status == "published"
    # the run recorded its own fingerprint, and marked it with its publication
    assert query(
        url,
        "select status, publication_id, batch_id from audit.run_fingerprints "
        f"where run_id = '{result.run_id}'",
    ) == [
        (
            "published",
            publication_id,
            query(url, "select max(batch_id) from raw.load_batches")[0][0],
        )
    ]
    # so the next hour is skipped again, and a plain `dwh run` is a no-op
    with tick() as context:
        again = hourly.evaluate_tick(context)
    assert not again.run_requests
    assert f"nothing new since publication {publication_id} " in (again.skip_message or "")
    _assert_noop(url, publication_id)
