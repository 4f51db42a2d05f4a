"""The GX expectation behind every check: an UnexpectedRowsExpectation that runs its query once.

GX's UnexpectedRowsExpectation resolves two metrics for one query: the rows (fetched up to 200)
and `SELECT COUNT(*) FROM (<query>)`, so the database runs the query, and scans the mart, twice.
The queries of this package count while they scan (see `checks.gx_query`): every returned row
carries its rule's total of offending rows, so the count metric is not needed and the
expectation depends on the rows alone. One check, one query, one scan.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from string import Formatter
from typing import TYPE_CHECKING, Any, ClassVar

from great_expectations.compatibility import pydantic
from great_expectations.expectations import UnexpectedRowsExpectation

from expectations.checks import COUNT_COLUMN, FAILED_RULE, INTERNAL_COLUMNS

if TYPE_CHECKING:
    from great_expectations.execution_engine import ExecutionEngine


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy: numbers stay numbers, times become ISO 8601 text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, uuid.UUID | bytes | memoryview):
        return str(value)
    return str(value)


class ExpectRowsToSatisfyRules(UnexpectedRowsExpectation):
    """Fails when the query returns rows. The query returns, per broken rule, up to a few
    offending rows with a `failed_rule` column (the rule's key) and the rule's total count of
    offending rows. `meta["rules"]` maps rule keys to readable names."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

    @pydantic.validator("unexpected_rows_query")
    def _validate_query(cls, query: Any) -> Any:
        # The parent prints a warning for a query without {batch}; the PII checks read the
        # tables they name on purpose. Braces are still checked here, at construction.
        if isinstance(query, str):
            list(Formatter().parse(query))
            return query.rstrip("; \t\r\n\v\f")
        return query

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict:
        rows: list[dict] = metrics["unexpected_rows_query.table"] or []
        names: dict[str, str] = dict((self.meta or {}).get("rules", {}))
        counts: dict[str, int] = {}
        samples: dict[str, list[dict]] = {}
        for row in rows:
            rule = str(row.get(FAILED_RULE))
            counts[rule] = int(row.get(COUNT_COLUMN) or 0)
            sample = {
                key: json_safe(value) for key, value in row.items() if key not in INTERNAL_COLUMNS
            }
            samples.setdefault(rule, []).append(sample)
        if counts:
            observed = "; ".join(
                f"{names.get(rule, rule)}: {count} offending" for rule, count in counts.items()
            )
        else:
            observed = "no offending rows"
        return {
            "success": not rows,
            "result": {
                "observed_value": observed,
                "details": {"counts": counts, "samples": samples},
            },
        }
