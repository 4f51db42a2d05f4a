"""Landing: new event files of the landing directory into the raw schema."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from ingestion.landing import land, unseen_files
from orchestration.resources import WarehouseResource
from warehouse import schemas
from warehouse.settings import load_settings

RAW_TABLES = ("events", "quarantine", "load_batches", "load_failures")


class LandingConfig(dg.Config):
    # Default: DWH_HOME/landing (or DWH_LANDING_DIR).
    landing_dir: str | None = None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            [schemas.RAW, table],
            group_name=schemas.RAW,
            description=f"{schemas.RAW}.{table}, written by the loader",
        )
        for table in RAW_TABLES
    ],
    name="land_event_files",
    description="Lands the files of the landing directory not landed yet (one batch per file).",
    # A dropped connection or a server restart is worth another try; a bad file is not
    # (it raises Failure with allow_retries=False below).
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def land_event_files(
    context: dg.AssetExecutionContext,
    config: LandingConfig,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    directory = Path(config.landing_dir) if config.landing_dir else load_settings().landing_dir
    with warehouse.connect() as conn:
        files = unseen_files(conn, directory)
        context.log.info(f"{len(files)} new file(s) in {directory}")
        report = land(conn, files, echo=context.log.info)
    metadata = {
        "landing_dir": str(directory),
        "files_landed": len(report.landed_files),
        "files_failed": len(report.failed),
        "lines_read": report.total("lines_read"),
        "events_landed": report.total("landed"),
        "lines_quarantined": report.total("quarantined"),
        "blank_lines": report.total("blank"),
    }
    for table in RAW_TABLES:
        yield dg.MaterializeResult(asset_key=[schemas.RAW, table], metadata=metadata)
    if report.failed:
        # The good files are landed and committed; the run still fails loudly. A failed file
        # is not retried until it changes (raw.load_failures).
        raise dg.Failure(
            description="some files could not be landed:\n"
            + "\n".join(f.summary() for f in report.failed),
            allow_retries=False,
        )
