"""The `warehouse` Dagster job, in-process, end to end: landing directory -> raw -> dbt -> gold."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import psycopg
import pytest

from dwh.runner import run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from orchestration.project import dbt_project
from tests.events import event, query, table_snapshot, write_events
from warehouse.settings import DBT_PROJECT_DIR

MARTS = (
    "fct_bets_rollup",
    "fct_bets_rollup_brand",
    "fct_revenue_daily",
    "fct_deposit_funnel_daily",
    "fct_latency_daily",
    "fct_active_players_daily",
    "fct_retention",
    "fct_ltv",
    "fct_sessions_daily",
    "fct_economy_daily",
    "fct_points_user_task",
    "fct_points_task",
    "fct_points_user_game",
    "fct_points_game",
    "fct_affinity_ledger",
    "dim_affinity_device",
    "fct_affinity_rewards",
)


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "landing"
    monkeypatch.setenv("DWH_LANDING_DIR", str(directory))
    return directory


def test_the_job_lands_new_files_and_builds_every_layer(warehouse_url: str, landing: Path) -> None:
    summary = generate(
        GeneratorConfig(players=150, days=3, seed=11, start_date=date(2026, 3, 1)), landing / "gen"
    )
    write_events(
        landing / "hand" / "one.ndjson",
        [
            event(
                "bet.settled",
                "2026-03-02 12:00:00",
                event_id="hand-1",
                brand="brand-9",
                bet_id="hb",
                game_id="g",
                provider_id="p",
                stake_minor=1000,
                win_minor=250,
                currency="EUR",
                in_bonus=False,
            ),
        ],
    )

    report = run_warehouse_job(ephemeral_instance=True)
    assert report.success, report.failure
    landed = report.step("land_event_files")
    assert landed.metadata["files_landed"] == len(summary.files) + 1
    assert landed.metadata["lines_read"] == summary.lines + 1
    dbt_step = report.step("warehouse_dbt_assets")
    assert dbt_step.checks_passed > 10 and dbt_step.checks_failed == 0
    # dbt's own log of the run holds its info events, not a debug event per statement sent
    log = Path(dbt_project.target_path) / "runs" / report.run_id / "dbt.log"
    levels = Counter(json.loads(line)["info"]["level"] for line in log.read_text().splitlines())
    assert levels["info"] > 10 and levels["debug"] == 0, levels
    # every candidate mart passed its GX suite and was published, all in one publication
    gx = report.step("validate_gold_candidates")
    assert gx.checks_passed == len(MARTS) and gx.checks_failed == 0
    assert report.step("publish_gold").materializations == len(MARTS)
    assert report.step("gold_freshness").checks_passed == len(MARTS)
    [(status, marts)] = query(warehouse_url, "select status, marts from audit.publications")
    assert status == "published" and sorted(marts) == sorted(MARTS)
    for mart in MARTS:
        assert query(warehouse_url, f"select count(*) from gold.{mart}") == query(
            warehouse_url, f"select count(*) from gold_candidate.{mart}"
        ), mart

    # accounting: every line read is landed, quarantined or blank
    assert query(
        warehouse_url,
        "select sum(lines_read) = sum(events_landed + "
        "lines_quarantined + blank_lines) from raw.load_batches",
    ) == [(True,)]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [
        (len(summary.files) + 1,)
    ]
    # the hand-made brand is alone in its row: stake 1000, win 250
    assert query(
        warehouse_url,
        "select day::text, stake_minor, win_minor, ggr_minor "
        "from gold.fct_revenue_daily where brand_id = 'brand-9'",
    ) == [("2026-03-02", 1000, 250, 750)]
    assert query(
        warehouse_url, "select count(*) > 0 from gold.fct_revenue_daily where brand_id <> 'brand-9'"
    ) == [(True,)]

    seeds_sql = "select unique_id, loaded_at from audit.seed_state order by unique_id"
    seeds_loaded = dict(query(warehouse_url, seeds_sql))
    assert len(seeds_loaded) == len(list((DBT_PROJECT_DIR / "seeds").rglob("*.csv")))


@pytest.mark.slow  # four runs of the job; tests/test_noop_run.py covers the plain re-run
def test_reruns_change_nothing_and_reload_only_the_seeds_that_need_it(
    warehouse_url: str, landing: Path
) -> None:
    generate(
        GeneratorConfig(players=60, days=2, seed=11, start_date=date(2026, 3, 1)), landing / "gen"
    )
    first = run_warehouse_job(ephemeral_instance=True)
    assert first.success, first.failure
    seeds_sql = "select unique_id, loaded_at from audit.seed_state order by unique_id"
    seeds_loaded = dict(query(warehouse_url, seeds_sql))

    # nothing new: the next run lands nothing and changes nothing; the seeds, unchanged, are
    # not reloaded (forced: a plain run would be a no-op, tests/test_noop_run.py)
    before = table_snapshot(warehouse_url, "gold.fct_revenue_daily")
    again = run_warehouse_job(ephemeral_instance=True, force=True)
    assert again.success, again.failure
    assert again.step("land_event_files").metadata["files_landed"] == 0
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == before
    assert dict(query(warehouse_url, seeds_sql)) == seeds_loaded

    # a seed whose table is gone is loaded again, and only that one
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table reference.fx_rates_daily")
    reloaded = run_warehouse_job(ephemeral_instance=True)
    assert reloaded.success, reloaded.failure
    now_loaded = dict(query(warehouse_url, seeds_sql))
    assert [seed for seed in now_loaded if now_loaded[seed] != seeds_loaded[seed]] == [
        "seed.gaming_dwh.fx_rates_daily"
    ]
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == before

    # a full refresh reloads every seed and rebuilds the incremental models to the same result
    refreshed = run_warehouse_job(full_refresh=True, ephemeral_instance=True)
    assert refreshed.success, refreshed.failure
    assert table_snapshot(warehouse_url, "gold.fct_revenue_daily") == before
    assert all(loaded > now_loaded[seed] for seed, loaded in query(warehouse_url, seeds_sql))


def test_a_corrupt_file_fails_the_run_loudly_but_lands_the_others(
    warehouse_url: str, landing: Path
) -> None:
    write_events(landing / "good.ndjson", [event("craft.complete", "2026-03-01 10:00:00")])
    (landing / "bad.ndjson.gz").write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    report = run_warehouse_job(ephemeral_instance=True)
    assert not report.success
    assert report.failure is not None and "bad.ndjson.gz" in report.failure
    assert query(warehouse_url, "select count(*) from raw.events") == [(1,)]
    assert query(warehouse_url, "select count(*) from raw.load_failures") == [(1,)]
    # the failed file is not retried until it changes; the pipeline goes on
    retry = run_warehouse_job(ephemeral_instance=True)
    assert retry.success, retry.failure


def test_a_corrupted_candidate_blocks_publication_and_leaves_gold_untouched(
    warehouse_url: str, landing: Path
) -> None:
    generate(
        GeneratorConfig(players=80, days=2, seed=5, start_date=date(2026, 4, 1)), landing / "gen"
    )
    first = run_warehouse_job(ephemeral_instance=True)
    assert first.success, first.failure

    def gold_fingerprint() -> list[tuple[object, ...]]:
        return [
            query(
                warehouse_url,
                f"select '{m}', count(*), md5(coalesce(string_agg("
                f"t::text, '|' order by t::text), '')) from gold.{m} t",
            )[0]
            for m in MARTS
        ]

    before = gold_fingerprint()
    # one value of one candidate mart breaks its definition: ggr = stake - win
    query_count = query(
        warehouse_url,
        "with one as (select ctid from gold_candidate."
        "fct_revenue_daily limit 1) update gold_candidate."
        "fct_revenue_daily set ggr_minor = ggr_minor + 1 "
        "where ctid in (select ctid from one) returning 1",
    )
    assert query_count == [(1,)]

    blocked = run_warehouse_job(
        ephemeral_instance=True, op_selection=["validate_gold_candidates", "publish_gold"]
    )
    assert not blocked.success
    gx = blocked.step("validate_gold_candidates")
    assert gx.checks_failed == 1 and gx.checks_passed == len(MARTS) - 1
    assert "publish_gold" not in {s.name for s in blocked.steps if s.ok and s.materializations}
    assert gold_fingerprint() == before

    rows = query(
        warehouse_url,
        "select status, message, check_results -> 'fct_revenue_daily' "
        "->> 'success' from audit.publications order by publication_id",
    )
    assert [r[0] for r in rows] == ["published", "blocked"]
    message = rows[1][1]
    assert "fct_revenue_daily" in message and "ggr_minor" in message
    assert rows[1][2] == "false"
