"""The Dagster definitions as a user reads them: gold, raw and dbt assets described, owned and
tagged from the dbt project, raw showing what it holds, and a `backfill` job with days as
partitions whose range runs as one run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.backfill import (
    BACKFILLED_DAYS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    event_days,
    with_backfill_vars,
)
from orchestration.raw_content import report_raw_content
from tests.events import event, land_events, query
from warehouse.dbt import prepare_manifest
from warehouse.settings import Settings, load_settings

# dbt_project/models/gold/*/: the folder of each mart is its domain, and its dbt tag
DOMAINS = {
    "affinity": {"dim_affinity_device", "fct_affinity_ledger", "fct_affinity_rewards"},
    "game": {"fct_economy_daily"},
    "players": {"fct_active_players_daily", "fct_ltv", "fct_retention", "fct_sessions_daily"},
    "points": {
        "fct_points_game",
        "fct_points_task",
        "fct_points_user_game",
        "fct_points_user_task",
    },
    "revenue": {
        "fct_bets_rollup",
        "fct_bets_rollup_brand",
        "fct_deposit_funnel_daily",
        "fct_latency_daily",
        "fct_revenue_daily",
    },
}
# the columns of fct_revenue_daily, in the order of dbt_project/models/gold/revenue/_revenue.yml
REVENUE_COLUMNS = [
    "day",
    "brand_id",
    "region",
    "currency",
    "stake_minor",
    "win_minor",
    "ggr_minor",
    "bonus_cost_minor",
    "jackpot_minor",
    "fees_minor",
    "ngr_minor",
    "rtp",
    "ggr_eur_minor",
    "ngr_eur_minor",
]
RAW_TABLES = ("events", "quarantine", "load_batches", "load_skips", "load_failures")


@pytest.fixture(scope="module")
def defs(module_warehouse_url: str) -> dg.Definitions:
    prepare_manifest(module_warehouse_url)
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def graph(defs: dg.Definitions) -> Any:
    return defs.resolve_asset_graph()


def _schema(node: Any) -> dg.TableSchema:
    value = node.metadata["dagster/column_schema"]
    return value.value if isinstance(value, dg.TableSchemaMetadataValue) else value


def test_the_dbt_resource_spawns_no_version_probe_and_opens_no_adapter(
    defs: dg.Definitions,
) -> None:
    from importlib.metadata import version

    from orchestration.dbt_cli import WarehouseDbtCliResource

    dbt = defs.resources["dbt"]
    assert isinstance(dbt, WarehouseDbtCliResource)
    # what `dbt --version` would print for the wrapper: the installed dbt-core
    assert str(dbt._cli_version) == version("dbt-core")
    assert dbt._initialize_dbt_core_adapter(["build"]) is None


def test_the_dbt_step_can_import_validation_ahead_of_it() -> None:
    import subprocess
    import sys

    script = (
        "import sys, threading\n"
        "from orchestration.assets.publication import import_validation_in_background\n"
        "assert 'great_expectations' not in sys.modules\n"
        "import_validation_in_background()\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name == 'dwh-import-gx':\n"
        "        thread.join()\n"
        "print('expectations.runner' in sys.modules, 'great_expectations' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "True"]


def test_gold_assets_read_as_their_marts(graph: Any) -> None:
    gold = graph.get(dg.AssetKey(["gold", "fct_revenue_daily"]))
    assert gold.metadata["dagster/table_name"] == "gold.fct_revenue_daily"
    assert gold.description.startswith("Daily revenue per brand, region and currency")
    assert "Raw SQL" not in gold.description  # the candidate's shows the model's SQL; BI's not
    assert "Primary key: (day, brand_id, region, currency)." in gold.description
    schema = _schema(gold)
    assert [c.name for c in schema.columns] == REVENUE_COLUMNS
    columns = {c.name: c for c in schema.columns}
    assert (columns["day"].type, columns["stake_minor"].type) == ("date", "bigint")
    assert columns["ggr_minor"].description.startswith("Gross gaming revenue")
    # the grain is gold's primary key, hence not null; rtp is NULL when nothing was staked
    assert not columns["currency"].constraints.nullable
    assert columns["rtp"].constraints.nullable
    assert schema.constraints.other == ["primary key (day, brand_id, region, currency)"]
    assert gold.kinds == {"postgres", "table"}
    assert list(gold.owners) == ["team:analytics"]
    assert {k: v for k, v in gold.tags.items() if "/" not in k} == {"revenue": ""}

    # every gold mart: a gold asset with its candidate's columns, owner and domain tag
    marts = {mart for members in DOMAINS.values() for mart in members}
    gold_keys = {k for k in graph.get_all_asset_keys() if k.path[0] == "gold"}
    assert gold_keys == {dg.AssetKey(["gold", mart]) for mart in marts}
    for domain, members in DOMAINS.items():
        for mart in members:
            node = graph.get(dg.AssetKey(["gold", mart]))
            candidate = graph.get(dg.AssetKey(["gold_candidate", mart]))
            assert node.metadata["dagster/table_name"] == f"gold.{mart}"
            assert [c.name for c in _schema(node).columns] == [
                c.name for c in _schema(candidate).columns
            ], mart
            assert list(node.owners) == ["team:analytics"], mart
            assert {k for k in node.tags if "/" not in k} == {domain}, mart
            assert node.description and "published from" not in node.description


def test_raw_and_dbt_assets_are_owned_and_described(graph: Any) -> None:
    # every table of the raw schema is an asset of the landing, and nothing else is in raw
    raw = sorted(k.path[1] for k in graph.get_all_asset_keys() if k.path[0] == "raw")
    assert raw == sorted(RAW_TABLES)
    events = graph.get(dg.AssetKey(["raw", "events"]))
    # the descriptions of the dbt sources (models/bronze/_bronze.yml)
    assert events.description.startswith("Every envelope-valid line of every landed file")
    assert "Landed by the Python loader" in events.description
    assert events.metadata["dagster/table_name"] == "raw.events"
    assert events.kinds == {"python", "postgres", "table"}
    assert list(events.owners) == ["team:data-engineering"]
    # owners from dbt_project.yml: the pipeline's layers, the marts and the seeds
    assert list(graph.get(dg.AssetKey(["bronze", "stg_events"])).owners) == [
        "team:data-engineering"
    ]
    assert list(graph.get(dg.AssetKey(["silver", "int_events"])).owners) == [
        "team:data-engineering"
    ]
    assert list(graph.get(dg.AssetKey(["reference", "currencies"])).owners) == ["team:analytics"]
    # every table has an owner and a description; the one asset that is no table is the
    # backfill's record of days
    unowned = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if not graph.get(k).owners or not graph.get(k).description
    }
    assert unowned == {BACKFILLED_DAYS.to_user_string()}


def test_the_backfill_job_has_a_partition_per_day_and_runs_a_range_at_once(
    defs: dg.Definitions,
) -> None:
    dg.Definitions.validate_loadable(defs)  # as `dagster dev` loads the code location
    job = defs.resolve_job_def("backfill")
    days = job.partitions_def
    assert isinstance(days, dg.DailyPartitionsDefinition)
    assert days == event_days(load_settings())
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    keys = days.get_partition_keys(current_time=now)
    # from DWH_EARLIEST_EVENT_DATE (default 2000-01-01) to today, the day in progress included:
    # 2000-01-01 .. 2026-03-05
    assert (keys[0], keys[-1]) == ("2000-01-01", "2026-03-05")
    assert len(keys) == (date(2026, 3, 5) - date(2000, 1, 1)).days + 1
    # a range launched from the UI is one run (Dagster's job backfill of a single-run policy)
    assert job.backfill_policy == dg.BackfillPolicy.single_run()
    # a shorter history: 2026-03-01 .. 2026-03-05 is five days
    short = Settings(
        home=Path("/nonexistent"),
        database_url=None,
        landing_dir=Path("/nonexistent"),
        earliest_event_date=date(2026, 3, 1),
    )
    assert event_days(short).get_partition_keys(current_time=now) == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    # the backfill lands nothing; the warehouse job has no partitions and records no days
    assert not any(k.path[0] == "raw" for k in job.asset_layer.executable_asset_keys)
    warehouse = defs.resolve_job_def("warehouse")
    assert warehouse.partitions_def is None
    assert BACKFILLED_DAYS not in warehouse.asset_layer.executable_asset_keys


def test_a_runs_partitions_become_the_backfill_vars() -> None:
    range_tags = {RANGE_START_TAG: "2026-03-02", RANGE_END_TAG: "2026-03-03"}
    assert with_backfill_vars("", range_tags) == (
        '{"backfill_from": "2026-03-02", "backfill_to": "2026-03-03"}'
    )
    # one partition: a range of one day
    assert with_backfill_vars("", {"dagster/partition": "2026-03-04"}) == (
        '{"backfill_from": "2026-03-04", "backfill_to": "2026-03-04"}'
    )
    # the run's other vars are kept; the partitions win over vars of the same name
    given = '{"lookback_days": 7, "backfill_from": "2020-01-01"}'
    assert with_backfill_vars(given, range_tags) == (
        '{"backfill_from": "2026-03-02", "backfill_to": "2026-03-03", "lookback_days": 7}'
    )
    # a run without partitions keeps its vars as given (`dwh backfill`, the schedules)
    assert with_backfill_vars('{"recompute_recent_days": 3}', {}) == '{"recompute_recent_days": 3}'


def _bet(day: str, bet_id: str, stake: int, win: int) -> dict[str, Any]:
    return event(
        "bet.settled",
        f"{day} 12:00:00",
        brand="brand-d",
        bet_id=bet_id,
        game_id="g",
        provider_id="p",
        stake_minor=stake,
        win_minor=win,
        currency="EUR",
        in_bonus=False,
    )


def _materializations(result: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for entry in result.get_asset_materialization_events():
        materialization = entry.event_specific_data.materialization
        found.setdefault(materialization.asset_key.to_user_string(), []).append(materialization)
    return found


@pytest.fixture(scope="module")
def ingested(
    defs: dg.Definitions, module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[Any]]]:
    """Three bets on three days landed outside Dagster (as `dwh ingest` does), then one run
    of the warehouse job, which finds nothing new to land."""
    base = tmp_path_factory.mktemp("dagster_defs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWH_HOME", str(base / "dwh_home"))
        land_events(
            module_warehouse_url,
            base / "ingested" / "three_days.ndjson",
            [
                _bet("2026-03-01", "b1", 1000, 0),
                _bet("2026-03-02", "b2", 500, 200),
                "",  # a blank line
                _bet("2026-03-03", "b3", 300, 600),
                "not json",  # quarantined
            ],
        )
        (base / "landing").mkdir()
        result = defs.resolve_job_def("warehouse").execute_in_process(
            run_config={
                "ops": {"land_event_files": {"config": {"landing_dir": str(base / "landing")}}}
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        yield _materializations(result)


def test_raw_assets_show_what_raw_holds_whoever_landed_it(ingested: dict[str, list[Any]]) -> None:
    def metadata(table: str) -> dict[str, Any]:
        [materialization] = ingested[f"raw/{table}"]
        return {k: v.value for k, v in materialization.metadata.items()}

    events, batches = metadata("events"), metadata("load_batches")
    # the run landed nothing (the file was landed before it), yet raw holds its 3 events
    assert events["files_landed"] == 0
    assert events["dagster/row_count"] == 3
    assert events["batches"] == 1
    assert events["latest_file"] == "three_days.ndjson"
    assert metadata("quarantine")["dagster/row_count"] == 1
    assert metadata("load_failures")["dagster/row_count"] == 0
    assert metadata("load_skips")["dagster/row_count"] == 0
    # 5 lines read = 3 events + 1 quarantined + 1 blank
    assert batches["dagster/row_count"] == 1
    assert (batches["lines_read"], batches["events_landed"]) == (5, 3)
    assert (batches["lines_quarantined"], batches["blank_lines"]) == (1, 1)
    # the columns as the database has them (ingestion/raw_schema.py)
    columns = {c.name: c for c in events["dagster/column_schema"].columns}
    assert columns["payload"].type == "jsonb"
    assert not columns["payload"].constraints.nullable
    assert columns["trace_id"].constraints.nullable


def test_landing_outside_dagster_can_record_raw_in_the_instance(
    ingested: dict[str, list[Any]], module_warehouse_url: str
) -> None:
    # what `dwh ingest` can do after landing: the UI then shows raw as it is, without a run
    instance = dg.DagsterInstance.ephemeral()
    with psycopg.connect(module_warehouse_url, autocommit=True) as conn:
        report_raw_content(instance, conn, "landed by dwh ingest")
    event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "events"]))
    assert event is not None and event.run_id == ""  # a runless event
    materialization = event.asset_materialization
    assert materialization.description == "landed by dwh ingest"
    assert materialization.metadata["dagster/row_count"].value == 3
    assert materialization.metadata["latest_file"].value == "three_days.ndjson"


def test_gold_assets_carry_their_row_count(
    ingested: dict[str, list[Any]], module_warehouse_url: str
) -> None:
    [revenue] = ingested["gold/fct_revenue_daily"]
    # one row per (day, brand, region, currency): three days of one brand, region and currency
    assert revenue.metadata["dagster/row_count"].value == 3
    for key, [materialization] in ingested.items():
        if key.startswith("gold/"):
            [(rows,)] = query(module_warehouse_url, f"select count(*) from {key.replace('/', '.')}")
            assert materialization.metadata["dagster/row_count"].value == rows, key


def test_a_range_of_days_is_recomputed_in_one_run(
    defs: dg.Definitions, ingested: dict[str, list[Any]], module_warehouse_url: str
) -> None:
    # all three days lost from the candidate: new events will never bring them back
    query(
        module_warehouse_url,
        "with gone as (delete from gold_candidate.fct_revenue_daily "
        "where brand_id = 'brand-d' returning 1) select count(*) from gone",
    )
    result = defs.resolve_job_def("backfill").execute_in_process(
        tags={RANGE_START_TAG: "2026-03-02", RANGE_END_TAG: "2026-03-03"},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    # exactly the range is recomputed: 03-02 (stake 500, win 200: GGR 300) and 03-03 (stake
    # 300, win 600: GGR -300); 03-01, outside it, stays lost from the candidate, and gold,
    # where publication replaced only the recomputed days, keeps it (stake 1000, win 0)
    days = (
        "select day::text, stake_minor, win_minor, ggr_minor from {} "
        "where brand_id = 'brand-d' order by day"
    )
    assert query(module_warehouse_url, days.format("gold_candidate.fct_revenue_daily")) == [
        ("2026-03-02", 500, 200, 300),
        ("2026-03-03", 300, 600, -300),
    ]
    assert query(module_warehouse_url, days.format("gold.fct_revenue_daily")) == [
        ("2026-03-01", 1000, 0, 1000),
        ("2026-03-02", 500, 200, 300),
        ("2026-03-03", 300, 600, -300),
    ]
    # the backfilled days are recorded, one partition each, with the run's publication
    recorded = _materializations(result)[BACKFILLED_DAYS.to_user_string()]
    assert [m.partition for m in recorded] == ["2026-03-02", "2026-03-03"]
    [(publication,)] = query(
        module_warehouse_url,
        "select publication_id from audit.publications where run_id = %s and status = 'published'",
        [result.run_id],
    )
    assert {m.metadata["publication_id"].value for m in recorded} == {publication}
