"""Audit and publish: GX suites gate the candidate marts; only then are they copied to gold.

dbt builds gold models into `gold_candidate`. One blocking check per candidate mart runs its
Great Expectations suite (and the PII scan of the candidate schema); if any fails, the run
fails, `publish_gold` does not run, the previous `gold` stays as it was, and the attempt is
recorded in `audit.publications`. Otherwise `publish_gold` copies every mart into `gold` in
one transaction (warehouse/publish.py), each with its grain as primary key, the dashboard
indexes, the dbt descriptions as comments and fresh statistics.

Dagster lets a blocking check that emits no result through ("... will proceed without gating
on it"). Publication does not: before copying anything, `publish_gold` reads this run's events
(and those of the runs a retry continues) and wants a passing evaluation of every blocking
check it depends on (the GX suite of every mart, and each blocking dbt test of a mart built in
the run); a check without one blocks the publication like a failed one, and is recorded in
`audit.publications`.

The marts come from the dbt manifest: `build_publication(marts, candidates)` makes the
definitions for them when the code location loads (orchestration/definitions.py), not when
this module is imported. Each gold asset is described as its candidate is (the dbt asset:
description, columns, owners, tags), with its own table name and primary key, and its row
count at each publication. The SQL is warehouse/publish.py's.
"""

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from orchestration.marts import gold_descriptions, gold_grains, gold_not_null
from orchestration.noop import record_published
from orchestration.resources import WarehouseResource
from orchestration.table_metadata import COLUMN_SCHEMA, ROW_COUNT, TABLE_NAME
from warehouse import schemas
from warehouse.publish import gold_lag, publish, record_blocked
from warehouse.settings import load_settings

CANDIDATE_SCHEMA = schemas.CANDIDATE
GOLD_SCHEMA = schemas.GOLD
GX_CHECK = "gx_suite"
FRESHNESS_SLO_SECONDS = 300  # the source article's SLO: marts at most 5 minutes behind
# Tables of PostgreSQL, written by the publication (Python) from the validated candidates.
GOLD_KINDS = {"postgres", "table"}
_KIND_TAG = "dagster/kind/"  # kinds are tags too; gold has its own (not dbt)


def _outcomes(validation: Any) -> list[dict[str, Any]]:
    return [
        {
            "expectation": o.expectation,
            "success": o.success,
            "unexpected_count": o.unexpected_count,
            "sample": o.sample[:5],
        }
        for o in validation.outcomes
    ]


@dataclass(frozen=True)
class PublicationDefinitions:
    validate_gold_candidates: dg.AssetChecksDefinition
    publish_gold: dg.AssetsDefinition
    gold_freshness: dg.AssetChecksDefinition


def build_publication(
    marts: Sequence[str],
    candidates: Mapping[dg.AssetKey, dg.AssetSpec],
    keys: Mapping[str, Sequence[str]] | None = None,
) -> PublicationDefinitions:
    """The GX check of the candidates, the publication to gold and gold's freshness check,
    for these marts (the manifest's gold models, orchestration/marts.py). `candidates`: the
    dbt assets' specs by key, which the gold assets take their columns, owners and tags from.
    `keys`: each mart's primary key in gold, by default its grain in the manifest."""
    marts = tuple(marts)
    grains = gold_grains() if keys is None else keys
    keys_of = {m: tuple(grains[m]) for m in marts if m in grains}
    descriptions, not_null = gold_descriptions(), gold_not_null()
    specs = [
        gold_spec(
            candidates[dg.AssetKey([CANDIDATE_SCHEMA, mart])],
            mart,
            description=descriptions.get(mart, ""),
            key=keys_of.get(mart, ()),
            not_null=not_null.get(mart, ()),
        )
        for mart in marts
    ]
    return PublicationDefinitions(
        validate_gold_candidates=_validation(marts),
        publish_gold=_publication(marts, keys_of, specs),
        gold_freshness=_freshness(marts),
    )


def gold_spec(
    candidate: dg.AssetSpec,
    mart: str,
    *,
    description: str,
    key: Sequence[str],
    not_null: Sequence[str],
) -> dg.AssetSpec:
    """The gold table `mart` as an asset: what BI reads. The dbt model's description, its
    candidate's columns (with the not-null columns and the primary key publication gives
    gold), owners and tags; kinds and table name of its own."""
    table = f"{GOLD_SCHEMA}.{mart}"
    primary_key = f" Primary key: ({', '.join(key)})." if key else ""
    description = (
        f"{description}\n\nBI reads `{table}`: the last publication of "
        f"`{CANDIDATE_SCHEMA}.{mart}` whose checks all passed.{primary_key}"
    ).strip()
    found = candidate.metadata.get(COLUMN_SCHEMA)
    columns = found.value if isinstance(found, dg.TableSchemaMetadataValue) else found
    metadata: dict[str, Any] = {TABLE_NAME: table}
    if isinstance(columns, dg.TableSchema):
        required = set(key) | set(not_null)
        metadata[COLUMN_SCHEMA] = dg.MetadataValue.table_schema(
            dg.TableSchema(
                columns=[
                    dg.TableColumn(
                        name=c.name,
                        type=c.type,
                        description=c.description,
                        tags=c.tags,
                        constraints=dg.TableColumnConstraints(nullable=c.name not in required),
                    )
                    for c in columns.columns
                ],
                constraints=dg.TableConstraints(
                    other=[f"primary key ({', '.join(key)})"] if key else []
                ),
            )
        )
    return dg.AssetSpec(
        [GOLD_SCHEMA, mart],
        group_name=GOLD_SCHEMA,
        deps=[candidate.key],
        description=description,
        metadata=metadata,
        kinds=GOLD_KINDS,
        owners=candidate.owners,
        tags={k: v for k, v in candidate.tags.items() if not k.startswith(_KIND_TAG)},
    )


def _validation(marts: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                GX_CHECK,
                asset=dg.AssetKey([CANDIDATE_SCHEMA, mart]),
                blocking=True,
                description="The mart's Great Expectations suite (metric "
                "semantics) and no PII in the candidate schema",
            )
            for mart in marts
        ],
        name="validate_gold_candidates",
    )
    def validate_gold_candidates(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.AssetCheckResult]:
        yield from _validate(context, warehouse, marts)

    return validate_gold_candidates


def import_validation_in_background() -> None:
    """Start importing what validation imports (Great Expectations: 3.5 s) in a thread, for
    a step that runs before it and leaves a core idle meanwhile (the dbt step, while dbt's
    process starts and parses). Validation's own import then finds it done, or waits for it.
    A failure here is left to that import to raise."""

    def load() -> None:
        # a failure is raised again, with its traceback, by validation's own import
        with contextlib.suppress(Exception):
            import expectations.runner  # noqa: F401

    threading.Thread(target=load, name="dwh-import-gx", daemon=True).start()


def _validate(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, marts: tuple[str, ...]
) -> Iterator[dg.AssetCheckResult]:
    # Imported here: GX is heavy to import and only this step needs it (the dbt step starts
    # the import in the background: import_validation_in_background).
    from expectations.changed_days import changed_days
    from expectations.runner import MARTS as SUITES
    from expectations.runner import validate_mart, validate_pii, validation_session
    from expectations.suites import DAY_LOCAL

    gx_home = load_settings().home / "gx"
    url = warehouse.url()
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    checks: list[dg.AssetCheckResult] = []
    # one Data Docs build for all the suites, after the last one
    with validation_session(gx_home):
        pii = validate_pii(url, schema=CANDIDATE_SCHEMA, gx_home=gx_home)
        for mart in marts:
            if mart not in SUITES:
                passed, message, outcomes, docs = False, f"{mart}: no expectation suite", [], None
            else:
                # a day-local suite checks only the days changed since the last publication
                changed = changed_days(url, mart) if mart in DAY_LOCAL else None
                validation = validate_mart(
                    url, mart, schema=CANDIDATE_SCHEMA, gx_home=gx_home, changed=changed
                )
                passed = validation.success and pii.success
                message = "\n".join(
                    m
                    for m in (
                        None if validation.success else validation.failure_message(),
                        None if pii.success else pii.failure_message(),
                    )
                    if m
                )
                outcomes, docs = _outcomes(validation), validation.docs_path
            results[mart] = {"success": passed, "outcomes": outcomes}
            if not passed:
                failures.append(message)
            metadata: dict[str, Any] = {
                "expectations": len(outcomes),
                "failed": sum(1 for o in outcomes if not o["success"]),
            }
            if docs is not None:
                metadata["data_docs"] = dg.MetadataValue.path(str(docs))
            if message:
                metadata["failure"] = dg.MetadataValue.md(f"```\n{message[:4000]}\n```")
            checks.append(
                dg.AssetCheckResult(
                    asset_key=dg.AssetKey([CANDIDATE_SCHEMA, mart]),
                    check_name=GX_CHECK,
                    passed=passed,
                    metadata=metadata,
                    severity=dg.AssetCheckSeverity.ERROR,
                )
            )
    context.log.info(f"validated {len(marts)} marts in {time.perf_counter() - started:.1f} s")
    if failures:
        with warehouse.connect() as conn:
            record_blocked(
                conn,
                marts,
                run_id=context.op_execution_context.run_id,
                check_results=results,
                message="\n\n".join(failures)[:20000],
            )
        context.log.error("publication blocked:\n" + "\n\n".join(failures))
    yield from checks


def _publication(
    marts: tuple[str, ...], keys: Mapping[str, tuple[str, ...]], specs: Sequence[dg.AssetSpec]
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=specs,
        name="publish_gold",
        description="Copies every validated candidate mart into gold, atomically.",
    )
    def publish_gold(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        yield from _publish(context, warehouse, marts, keys)

    return publish_gold


def _publish(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marts: tuple[str, ...],
    keys: Mapping[str, tuple[str, ...]],
) -> Iterator[dg.MaterializeResult]:
    unmet = unmet_blocking_checks(context, marts)
    if unmet:
        message = "publication blocked: blocking checks without a passing result in this run:\n" + (
            "\n".join(f"  {key}: {state}" for key, state in unmet.items())
        )
        with warehouse.connect() as conn:
            record_blocked(
                conn,
                marts,
                run_id=context.run_id,
                check_results={"unmet_blocking_checks": unmet},
                message=message[:20000],
            )
        raise dg.Failure(description=message, allow_retries=False)
    started = time.perf_counter()
    with warehouse.connect() as conn:
        publication = publish(
            conn,
            marts,
            run_id=context.run_id,
            keys=keys,
            check_results=passed_suites(context, marts),
        )
        record_published(context, conn)
    seconds = time.perf_counter() - started
    context.log.info(
        f"published {len(marts)} marts as publication "
        f"{publication.publication_id} in {seconds:.1f} s"
    )
    if publication.vacuum_error:
        context.log.warning(
            f"publication {publication.publication_id} stands; the vacuum after it failed "
            f"(dashboards read the heap until autovacuum comes by): {publication.vacuum_error}"
        )
    for mart in marts:
        yield dg.MaterializeResult(
            asset_key=[GOLD_SCHEMA, mart],
            metadata={
                ROW_COUNT: publication.row_counts[mart],
                "publication_id": publication.publication_id,
                "publish_seconds": round(seconds, 2),
            },
        )


def unmet_blocking_checks(
    context: dg.AssetExecutionContext, marts: Sequence[str]
) -> dict[str, str]:
    """The blocking checks of the candidate marts that gate this publication and have no
    passing evaluation in this run: check key -> 'no result' or 'failed'.

    Gating: the GX suite of every mart, always; a blocking dbt test when its mart was
    materialized in this run (a run of publication and GX alone re-checks candidates that
    an earlier run built and tested)."""
    graph = context.job_def.asset_layer.asset_graph
    candidates = {dg.AssetKey([CANDIDATE_SCHEMA, mart]) for mart in marts}
    blocking = {
        key
        for key in graph.get_check_keys_for_assets(candidates)
        if graph.get_check_spec(key).blocking
    }
    materialized, evaluations = _run_events(context)
    passed = {key: evaluation.passed for key, evaluation in evaluations.items()}
    required = {k for k in blocking if k.name == GX_CHECK or k.asset_key in materialized}
    return {
        key.to_user_string(): "no result" if key not in passed else "failed"
        for key in sorted(required, key=lambda k: k.to_user_string())
        if not passed.get(key, False)
    }


def _run_events(
    context: dg.AssetExecutionContext,
) -> tuple[set[dg.AssetKey], dict[dg.AssetCheckKey, Any]]:
    """The assets materialized in this run (and the runs it continues) and the last
    evaluation of each check (a retried step evaluates again)."""
    materialized: set[dg.AssetKey] = set()
    evaluations: dict[dg.AssetCheckKey, Any] = {}
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    for run_id in _run_lineage(context):
        for entry in context.instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialized.add(event.event_specific_data.materialization.asset_key)
            else:
                evaluation = event.event_specific_data
                evaluations[evaluation.asset_check_key] = evaluation
    return materialized, evaluations


def passed_suites(context: dg.AssetExecutionContext, marts: Sequence[str]) -> dict[str, Any]:
    """What a publication records of the checks that let it through: per mart, its GX suite's
    result (success, expectations evaluated) as the validation step reported it."""
    _, evaluations = _run_events(context)
    results: dict[str, Any] = {}
    for mart in marts:
        key = dg.AssetCheckKey(dg.AssetKey([CANDIDATE_SCHEMA, mart]), GX_CHECK)
        evaluation = evaluations.get(key)
        if evaluation is None:
            continue
        expectations = evaluation.metadata.get("expectations")
        results[mart] = {
            "success": bool(evaluation.passed),
            "expectations": getattr(expectations, "value", expectations),
        }
    return results


def _run_lineage(context: dg.AssetExecutionContext) -> list[str]:
    """This run and, for a re-execution (a retry from the failure), the runs it continues,
    oldest first: their steps are not run again, and their results count as this run's."""
    lineage = [context.run_id]
    parent = context.run.parent_run_id
    while parent is not None:
        lineage.append(parent)
        run = context.instance.get_run_by_id(parent)
        parent = run.parent_run_id if run is not None else None
    return lineage[::-1]


def _freshness(marts: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                "fresh_within_5_minutes",
                asset=dg.AssetKey([GOLD_SCHEMA, mart]),
                blocking=False,
                description="No landed batch has waited more than 5 minutes without being "
                "published",
            )
            for mart in marts
        ],
        name="gold_freshness",
    )
    def gold_freshness(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        with warehouse.connect() as conn:
            lag, waiting = gold_lag(conn)
        for mart in marts:
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey([GOLD_SCHEMA, mart]),
                check_name="fresh_within_5_minutes",
                passed=lag <= FRESHNESS_SLO_SECONDS,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"behind_seconds": round(lag, 1), "batches_waiting": waiting},
            )

    return gold_freshness
