"""Backfills by day of event time: the `backfill` job's partitions, and what a run of them does.

A backfill recomputes a range of UTC days of every event-time mart from silver (the dbt vars
`backfill_from` / `backfill_to`, macros/forced_days.sql), checks the candidates and publishes.
The dbt assets themselves are not partitioned: the `warehouse` job builds them in runs
without a partition, which Dagster refuses for partitioned assets. One small asset of the
backfill job is: `backfilled_days`, downstream of gold, one partition per day. Through it the
job has daily partitions (its Partitions tab lists the days) and its backfill policy, a single
run: a range launched from the UI is one run tagged with the range's first and last day, and
the dbt step turns the run's partition tags into the backfill vars (`with_backfill_vars`).
"""

import json
from collections.abc import Iterator, Mapping, Sequence

import dagster as dg
import yaml

from orchestration.resources import WarehouseResource
from warehouse import schemas
from warehouse.settings import Settings

BACKFILLED_DAYS = dg.AssetKey("backfilled_days")
BACKFILL_GROUP = "backfill"

# The run tags Dagster sets: one partition, or a range (a single-run backfill).
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def event_days(settings: Settings) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day an event may have: from the earliest accepted event date
    (DWH_EARLIEST_EVENT_DATE; landing quarantines anything older) to today. Today's
    partition is open (end_offset=1): events of the current day are landed all day long."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.earliest_event_date.isoformat(), timezone="UTC", end_offset=1
    )


def backfill_range(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The first and last day a run backfills, from its partition tags; None for a run
    without a partition (the `warehouse` job, or `dwh backfill` passing the vars itself)."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return None


def with_backfill_vars(dbt_vars: str, tags: Mapping[str, str]) -> str:
    """The `--vars` of the run's dbt build: `dbt_vars` (the run's config, a YAML or JSON
    mapping) with the run's partition range as backfill_from / backfill_to. The range wins
    over vars of the same name: the partitions are what the run is recorded under."""
    days = backfill_range(tags)
    if days is None:
        return dbt_vars
    given = yaml.safe_load(dbt_vars) if dbt_vars.strip() else {}
    if not isinstance(given, dict):
        raise ValueError(f"dbt_vars must be a mapping, got {dbt_vars!r}")
    # JSON is YAML too; default=str: a date YAML read unquoted goes back as YYYY-MM-DD
    return json.dumps(
        {**given, "backfill_from": days[0], "backfill_to": days[1]}, sort_keys=True, default=str
    )


def build_backfilled_days(
    partitions: dg.PartitionsDefinition, gold: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The partitioned asset of the backfill job: a partition is materialized when a backfill
    recomputed that day, and its checks passed and gold was published (it runs after the
    publication, in the same run)."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                BACKFILLED_DAYS,
                group_name=BACKFILL_GROUP,
                deps=list(gold),
                description="Not a table: the days of event time a backfill recomputed, "
                "validated and published, one partition per UTC day. Launch a backfill of a "
                "range from the `backfill` job's Partitions tab: it runs as one run, "
                "recomputes those days of every event-time mart from silver, checks the "
                "candidates and publishes gold. A run without partitions (`dwh backfill` "
                "gives its days as dbt vars) materializes no partition.",
                kinds={"dagster"},
                # not materialized by a run without partitions (see below)
                skippable=True,
            )
        ],
        name="record_backfilled_days",
        partitions_def=partitions,
        # a range of days is one run: one dbt build, one validation, one publication
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def record_backfilled_days(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        days = backfill_range(context.run.tags)
        if days is None:
            context.log.info("a run without partitions: no backfilled day to record")
            return
        with warehouse.connect() as conn:
            row = conn.execute(
                f"select publication_id from {schemas.AUDIT}.publications "
                "where run_id = %s and status = 'published' "
                "order by publication_id desc limit 1",
                (context.run_id,),
            ).fetchone()
        # One result for the run's range: Dagster records it for each day of the range.
        yield dg.MaterializeResult(
            asset_key=BACKFILLED_DAYS,
            metadata={
                "backfill_from": days[0],
                "backfill_to": days[1],
                "publication_id": row[0] if row else None,
            },
        )

    return record_backfilled_days
