"""Landing: new event files of the landing directory into the raw schema.

The raw tables are the dbt project's sources: their descriptions, owners and tags come from
the manifest (dbt_project/models/bronze/_bronze.yml, dbt_project.yml), and their metadata at
each materialization says what raw holds (orchestration/raw_content.py), whoever landed it.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from ingestion.landing import land, unseen_files
from orchestration.noop import record_start
from orchestration.project import dbt_project
from orchestration.raw_content import RAW_TABLES, raw_content
from orchestration.resources import WarehouseResource
from orchestration.table_metadata import TABLE_NAME
from orchestration.translator import WarehouseTranslator
from warehouse import schemas
from warehouse.settings import load_settings

# The loader writes them (Python), into PostgreSQL tables.
RAW_KINDS = {"python", "postgres", "table"}


class LandingConfig(dg.Config):
    # Default: DWH_HOME/landing (or DWH_LANDING_DIR).
    landing_dir: str | None = None


def raw_specs(manifest: Mapping[str, Any]) -> list[dg.AssetSpec]:
    """The raw tables as assets, described as the dbt sources of schema raw describe them."""
    translator = WarehouseTranslator()
    sources = {
        props["name"]: props
        for props in manifest["sources"].values()
        if props["schema"] == schemas.RAW
    }
    specs = []
    for table in RAW_TABLES:
        props = sources[table]
        specs.append(
            dg.AssetSpec(
                [schemas.RAW, table],
                group_name=schemas.RAW,
                description=f"{props['description']}\n\n{props['source_description']}",
                metadata={TABLE_NAME: f"{schemas.RAW}.{table}"},
                kinds=RAW_KINDS,
                owners=translator.get_owners(props),
                tags=translator.get_tags(props),
            )
        )
    return specs


def build_landing(manifest: Mapping[str, Any]) -> dg.AssetsDefinition:
    """The landing asset, for the raw tables the manifest declares as sources."""

    @dg.multi_asset(
        specs=raw_specs(manifest),
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
        yield from _land(context, config, warehouse)

    return land_event_files


def _land(
    context: dg.AssetExecutionContext, config: LandingConfig, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    directory = Path(config.landing_dir) if config.landing_dir else load_settings().landing_dir
    with warehouse.connect() as conn:
        # before landing: the batch this run starts from is part of its fingerprint
        record_start(context, conn, Path(dbt_project.manifest_path))
        files = unseen_files(conn, directory)
        context.log.info(f"{len(files)} new file(s) in {directory}")
        report = land(conn, files, echo=context.log.info)
        content = raw_content(conn)
    # This run's own figures, beside what raw holds: files landed before by `dwh ingest` are
    # not this run's, yet they are in raw and dbt builds from them.
    this_run = {
        "landing_dir": str(directory),
        "files_landed": len(report.landed_files),
        "files_failed": len(report.failed),
    }
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=[schemas.RAW, table], metadata={**content[table], **this_run}
        )
    if report.failed:
        # The good files are landed and committed; the run still fails loudly. A failed file
        # is not retried until it changes (raw.load_failures).
        raise dg.Failure(
            description="some files could not be landed:\n"
            + "\n".join(f.summary() for f in report.failed),
            allow_retries=False,
        )
