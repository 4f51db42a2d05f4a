"""`dwh metrics`: the semantic layer (MetricFlow) answering metric queries from published gold.

The metrics and semantic models are dbt YAML (dbt_project/models/semantic/_semantic.yml); dbt
writes them to `semantic_manifest.json` when it parses the project. That manifest names the
relations dbt builds, in `gold_candidate`: a candidate may be a build whose checks failed and
was never published. Analysts must get the numbers BI reads, so before the MetricFlow engine
is built every semantic model is pointed at the same table in `gold` (the last publication
whose checks all passed, warehouse/publish.py).

The engine runs its SQL through `warehouse.database.connect` (the warehouse of
`DWH_DATABASE_URL` or the embedded server), in read-only transactions, instead of a dbt
adapter: the connection is the one every other part of the warehouse uses, and a metric
query can never write.

    dwh metrics list
    dwh metrics query --metrics ngr --group-by metric_time__week,brand
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from warehouse import schemas
from warehouse.database import connect, database_url
from warehouse.dbt import prepare_manifest

# MetricFlow is imported inside the functions: it takes seconds to load, and `dwh --help` or
# any other command must not pay for it.
if TYPE_CHECKING:
    from metricflow.data_table.mf_table import MetricFlowDataTable
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow.protocols.sql_client import SqlEngine
    from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
    from metricflow_semantic_interfaces.implementations.semantic_manifest import (
        PydanticSemanticManifest,
    )
    from metricflow_semantics.sql.sql_bind_parameters import SqlBindParameterSet

SEMANTIC_MANIFEST = "semantic_manifest.json"  # written by dbt beside manifest.json


def _relation(schema: str, alias: str) -> dict[str, Any]:
    # No database part: the manifest may have been parsed against another database (its
    # parse is reused while the project is unchanged), and PostgreSQL refuses a reference to
    # any database but the connection's.
    return {
        "alias": alias,
        "schema_name": schema,
        "database": None,
        "relation_name": f'"{schema}"."{alias}"',
    }


def published_relations(manifest: dict[str, Any]) -> dict[str, Any]:
    """The semantic manifest (dbt's JSON) with every semantic model read from `gold` instead
    of `gold_candidate`, and every relation without its database. Returns a new dict."""
    manifest = json.loads(json.dumps(manifest))
    for model in manifest["semantic_models"]:
        relation = model["node_relation"]
        schema = relation["schema_name"]
        if schema == schemas.CANDIDATE:
            schema = schemas.GOLD
        elif schema != schemas.GOLD:
            # Only the gold marts are the contract BI reads; anything else would answer from
            # unpublished tables.
            raise ValueError(
                f"semantic model {model['name']} reads {schema}.{relation['alias']}: "
                f"semantic models must be over the gold marts"
            )
        model["node_relation"] = _relation(schema, relation["alias"])
    for spine in manifest["project_configuration"].get("time_spines", []):
        relation = spine["node_relation"]
        spine["node_relation"] = _relation(relation["schema_name"], relation["alias"])
    return manifest


def semantic_manifest_path(url: str | None = None) -> Path:
    """dbt's semantic manifest of the project, parsed again when the project changed."""
    return prepare_manifest(url).with_name(SEMANTIC_MANIFEST)


def load_semantic_manifest(path: Path) -> PydanticSemanticManifest:
    """The published semantic manifest as MetricFlow's model (PydanticSemanticManifest)."""
    from metricflow_semantics.model.dbt_manifest_parser import (
        parse_manifest_from_dbt_generated_manifest,
    )

    published = published_relations(json.loads(path.read_text()))
    return parse_manifest_from_dbt_generated_manifest(json.dumps(published))


class WarehouseSqlClient:
    """MetricFlow's SqlClient protocol over the warehouse's own connection (PostgreSQL).

    Each statement runs in a read-only transaction of its own, in UTC. MetricFlow renders
    literal SQL (no bind parameters), as it does through dbt adapters."""

    def __init__(self, url: str) -> None:
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        self._url = url
        self._renderer = PostgresSQLSqlPlanRenderer()
        self._conn: psycopg.Connection | None = None

    @property
    def sql_engine_type(self) -> SqlEngine:
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.POSTGRES

    @property
    def sql_plan_renderer(self) -> SqlPlanRenderer:
        return self._renderer

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(
                self._url,
                options="-c timezone=UTC -c default_transaction_read_only=on",
                application_name="dwh metrics",
            )
        return self._conn

    @staticmethod
    def _refuse_parameters(parameters: SqlBindParameterSet | None) -> None:
        if parameters is not None and parameters.param_dict:
            raise ValueError("the warehouse's metric client takes no bind parameters")

    def query(
        self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet | None = None
    ) -> MetricFlowDataTable:
        from metricflow.data_table.mf_table import MetricFlowDataTable

        self._refuse_parameters(sql_bind_parameter_set)
        with self._connection().cursor() as cursor:
            cursor.execute(stmt)
            names = [column.name for column in cursor.description or []]
            rows = [tuple(_cell(value) for value in row) for row in cursor.fetchall()]
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=rows)

    def execute(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet | None = None) -> None:
        self._refuse_parameters(sql_bind_parameter_set)
        self._connection().execute(stmt)

    def dry_run(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet | None = None) -> None:
        self._refuse_parameters(sql_bind_parameter_set)
        self._connection().execute(f"explain {stmt}")

    def missing(self, relations: Sequence[str]) -> list[str]:
        """Those of `relations` ('"schema"."table"') that do not exist."""
        rows = self._connection().execute(
            "select r from unnest(%s::text[]) as r where to_regclass(r) is null order by r",
            [list(relations)],
        )
        return [str(row[0]) for row in rows.fetchall()]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        raise ValueError("the warehouse's metric client takes no bind parameters")


def _cell(value: Any) -> Any:
    # MetricFlow's tables hold naive datetimes; the session is in UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@dataclass
class SemanticLayer:
    """A MetricFlow engine over published gold, and the client it queries with."""

    engine: MetricFlowEngine
    client: WarehouseSqlClient
    relations: tuple[str, ...]  # what the semantic models read: "gold"."fct_..."

    def unpublished(self) -> list[str]:
        """The relations the semantic models read that do not exist (yet) in the warehouse."""
        return self.client.missing(self.relations)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SemanticLayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def semantic_layer(url: str | None = None) -> SemanticLayer:
    """The engine for the warehouse at `url` (default: the warehouse's URL)."""
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    url = url or database_url()
    manifest = load_semantic_manifest(semantic_manifest_path(url))
    client = WarehouseSqlClient(url)
    engine = MetricFlowEngine(
        semantic_manifest_lookup=SemanticManifestLookup(manifest), sql_client=client
    )
    relations = tuple(sorted({m.node_relation.relation_name for m in manifest.semantic_models}))
    return SemanticLayer(engine=engine, client=client, relations=relations)


@dataclass(frozen=True)
class MetricAnswer:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    sql: str
    table: MetricFlowDataTable  # for its text rendering


def query(
    layer: SemanticLayer,
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    *,
    where: Sequence[str] = (),
    order_by: Sequence[str] = (),
    limit: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> MetricAnswer:
    """Metrics by the group-by items (names as in `dwh metrics list`), as MetricFlow answers."""
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    request = MetricFlowQueryRequest.create(
        metric_names=list(metrics),
        group_by_names=list(group_by) or None,
        where_constraints=list(where) or None,
        order_by_names=list(order_by) or None,
        limit=limit,
        time_constraint_start=start,
        time_constraint_end=end,
    )
    result = layer.engine.query(request)
    table = result.result_df
    assert table is not None  # None only for a query written to an output table
    return MetricAnswer(
        columns=tuple(table.column_names),
        rows=[tuple(row) for row in table.rows],
        sql=result.sql,
        table=table,
    )


def explain(layer: SemanticLayer, metrics: Sequence[str], group_by: Sequence[str] = ()) -> str:
    """The SQL MetricFlow would run."""
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    request = MetricFlowQueryRequest.create(
        metric_names=list(metrics), group_by_names=list(group_by) or None
    )
    return layer.engine.explain(request).sql_statement.without_descriptions.sql


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    type: str
    description: str
    group_by: tuple[str, ...]


def list_metrics(layer: SemanticLayer) -> list[MetricInfo]:
    """Every metric, with the dimensions and entities it can be grouped by."""
    found = []
    for metric in layer.engine.list_metrics(include_dimensions=True):
        names = {dim.granularity_free_dunder_name for dim in metric.dimensions}
        names |= {entity.name for entity in layer.engine.entities_for_metrics([metric.name])}
        found.append(
            MetricInfo(
                name=metric.name,
                label=metric.label or metric.name,
                type=str(metric.type.value),
                description=" ".join((metric.description or "").split()),
                group_by=tuple(sorted(names)),
            )
        )
    return sorted(found, key=lambda m: m.name)


# -- the command --------------------------------------------------------------------------------
def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _timestamp(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or timestamp: {value!r}") from exc


def cmd_metrics(args: argparse.Namespace) -> int:
    with semantic_layer() as layer:
        if args.action == "list":
            for info in list_metrics(layer):
                print(f"{info.name}  ({info.type}) {info.label}", flush=True)
                if args.verbose:
                    print(f"    {info.description}")
                    print(f"    group by: {', '.join(info.group_by)}")
            return 0
        if args.explain:
            print(explain(layer, args.metrics, args.group_by))
            return 0
        missing = layer.unpublished()
        if missing:
            print(
                f"dwh: error: not published yet: {', '.join(missing)}; the metrics answer from "
                "gold, which `dwh run` fills once every check passed",
                file=sys.stderr,
                flush=True,
            )
            return 1
        answer = query(
            layer,
            args.metrics,
            args.group_by,
            where=args.where or (),
            # by default the rows come in the order of the group-by items: weeks in order
            order_by=args.order_by or args.group_by,
            limit=args.limit,
            start=args.start_time,
            end=args.end_time,
        )
        if args.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(answer.columns)
            writer.writerows(answer.rows)
        else:
            print(answer.table.text_format(args.decimals), flush=True)
        return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `dwh metrics` to the command line (dwh/cli.py)."""
    metrics = sub.add_parser(
        "metrics",
        help="the semantic layer: metrics from published gold (MetricFlow)",
        description="Query the metrics of dbt_project/models/semantic/_semantic.yml, over the "
        "published gold marts (docs/semantic-layer.md).",
    )
    actions = metrics.add_subparsers(dest="action", required=True, help="what to do")
    listing = actions.add_parser("list", help="every metric and what it can be grouped by")
    listing.add_argument("-v", "--verbose", action="store_true", help="descriptions, group-bys")
    ask = actions.add_parser(
        "query",
        help="metrics by dimensions, e.g. --metrics ngr --group-by metric_time__week,brand",
    )
    ask.add_argument("--metrics", type=_names, required=True, help="comma-separated metrics")
    ask.add_argument(
        "--group-by",
        type=_names,
        default=[],
        help="comma-separated: metric_time__day|week|month|quarter|year, brand, "
        "revenue__currency, ... (dwh metrics list -v)",
    )
    ask.add_argument(
        "--where",
        action="append",
        help="a filter, e.g. \"{{ Dimension('revenue__currency') }} = 'EUR'\" (repeatable)",
    )
    ask.add_argument(
        "--order-by",
        type=_names,
        help="comma-separated metrics or group-by items (default: the group-by items); "
        "descending with a '-': --order-by=-ngr",
    )
    ask.add_argument("--limit", type=int, help="at most this many rows")
    ask.add_argument("--start-time", type=_timestamp, help="metric_time from (ISO date)")
    ask.add_argument("--end-time", type=_timestamp, help="metric_time to (ISO date)")
    ask.add_argument("--decimals", type=int, help="decimals of fractional values")
    ask.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    ask.add_argument("--explain", action="store_true", help="print the SQL, run nothing")
    metrics.set_defaults(func=cmd_metrics)
