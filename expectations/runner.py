"""Validate a gold mart (or a whole schema for PII) and report the outcome of every rule.

`validate_mart` builds the mart's suite from the table as it is and the mart's contract in the
dbt manifest (`suites/`, `contract.py`), turns each check into one GX expectation (one query),
runs the suite with GX against the schema given (the candidate schema before publication),
keeps the result in the GX project under `gx_home` and renders its Data Docs page. Each rule
of a check becomes its own `ExpectationOutcome`: a check returns offending rows labelled with
the rule they break, and a rule with none passed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import great_expectations as gx

from expectations import pii
from expectations.catalog import read_table
from expectations.changed_days import ChangedDays
from expectations.checks import Check, gx_query, restricted
from expectations.contract import MartContract, load_contracts
from expectations.expectation import ExpectRowsToSatisfyRules, json_safe
from expectations.project import KEEP_RESULTS, Project, _process_lock
from expectations.suites import DAY_LOCAL, MARTS, MartSuite, build_suite
from warehouse.settings import load_settings

__all__ = ["MARTS", "ExpectationOutcome", "MartValidation", "validate_mart", "validate_pii"]

SAMPLE_LIMIT = 5
CONTRACT = "contract columns present"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # a readable name, e.g. "ggr_minor = stake_minor - win_minor"
    success: bool
    unexpected_count: int | None
    sample: list[dict]  # up to 5 offending rows (or values), JSON-serialisable


@dataclass(frozen=True)
class MartValidation:
    mart: str  # e.g. "fct_revenue_daily"
    schema: str  # the schema validated (e.g. "gold_candidate")
    success: bool
    outcomes: list[ExpectationOutcome]
    docs_path: Path | None  # the Data Docs HTML page of this validation
    seconds: float

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.success]

    def failure_message(self) -> str:
        """Names the mart, each failed expectation and sample offending rows."""
        failed = self.failures
        if not failed:
            return f"{self.schema}.{self.mart}: all {len(self.outcomes)} expectations passed"
        lines = [
            f"{self.schema}.{self.mart} failed {len(failed)} of {len(self.outcomes)} expectations:"
        ]
        for outcome in failed:
            count = (
                ""
                if outcome.unexpected_count is None
                else f" ({outcome.unexpected_count} offending)"
            )
            lines.append(f"- {outcome.expectation}{count}")
            for row in outcome.sample[:SAMPLE_LIMIT]:
                lines.append(f"    {json.dumps(row, sort_keys=False, default=str)}")
        if self.docs_path:
            lines.append(f"Data Docs: {self.docs_path}")
        return "\n".join(lines)


# --- GX expectations of a suite ---------------------------------------------------------------


def _rules_expectation(check: Check) -> ExpectRowsToSatisfyRules:
    names = {rule.key: rule.name for rule in check.rules}
    listed = "; ".join(rule.name for rule in check.rules)
    return ExpectRowsToSatisfyRules(
        unexpected_rows_query=gx_query(check),
        description=(
            f"{check.description}: {listed}" if len(check.rules) > 1 else check.rules[0].name
        ),
        meta={"check": check.key, "rules": names},
        catch_exceptions=True,
    )


def _expectations(suite: MartSuite) -> list[Any]:
    expectations: list[Any] = [
        gx.expectations.ExpectTableColumnsToMatchSet(
            column_set=list(suite.columns),
            exact_match=False,
            description=f"{CONTRACT}: {', '.join(suite.columns)}",
            meta={"check": "contract"},
            catch_exceptions=True,
        ),
    ]
    expectations += [
        gx.expectations.ExpectColumnValuesToBeInTypeList(
            column=column,
            type_list=["SMALLINT", "INTEGER", "BIGINT"],
            description=f"{column} has an integer type",
            meta={"check": "type"},
            catch_exceptions=True,
        )
        for column in suite.integer_columns
    ]
    expectations += [_rules_expectation(check) for check in suite.checks]
    return expectations


# --- outcomes ---------------------------------------------------------------------------------


def _error(result: Any) -> str | None:
    """The message of an exception GX caught while evaluating the expectation, shortened."""
    info = result.exception_info or {}
    if isinstance(info, dict) and "raised_exception" not in info:
        # several exceptions, keyed by metric
        messages = [
            str(v.get("exception_message"))
            for v in info.values()
            if isinstance(v, dict) and v.get("raised_exception")
        ]
        message = "; ".join(messages) or None
    elif info.get("raised_exception"):
        message = str(info.get("exception_message") or "the query failed")
    else:
        return None
    return message if message is None or len(message) <= 1000 else message[:1000] + " ..."


def _outcomes(result: Any) -> list[ExpectationOutcome]:
    config = result.expectation_config
    meta = config.meta or {}
    error = _error(result)
    body = result.result or {}
    if meta.get("check") == "contract":
        missing = (body.get("details") or {}).get("mismatched", {}).get("missing") or []
        return [
            ExpectationOutcome(
                config.description or CONTRACT,
                bool(result.success) and not error,
                None if error else len(missing),
                [{"error": error}] if error else [{"missing_column": c} for c in missing],
            )
        ]
    if meta.get("check") == "type":
        return [
            ExpectationOutcome(
                config.description or str(config.type),
                bool(result.success) and not error,
                None if error else (0 if result.success else 1),
                [{"error": error}]
                if error
                else (
                    []
                    if result.success
                    else [
                        {"column": config.kwargs.get("column"), "type": body.get("observed_value")}
                    ]
                ),
            )
        ]
    rules: dict[str, str] = meta.get("rules") or {}
    if error:
        return [
            ExpectationOutcome(name, False, None, [{"error": error}]) for name in rules.values()
        ]
    details = body.get("details") or {}
    counts: dict[str, int] = details.get("counts") or {}
    samples: dict[str, list[dict]] = details.get("samples") or {}
    outcomes = [
        ExpectationOutcome(
            name,
            key not in counts,
            int(counts.get(key, 0)),
            [json_safe(row) for row in samples.get(key, [])[:SAMPLE_LIMIT]],
        )
        for key, name in rules.items()
    ]
    unknown = set(counts) - set(rules)
    outcomes += [
        ExpectationOutcome(key, False, int(counts[key]), samples.get(key, []))
        for key in sorted(unknown)
    ]
    return outcomes


def _run(
    gx_home: Path,
    name: str,
    batch: Any,
    expectations: Sequence[Any],
    keep_results: int | None,
    notes: str,
) -> tuple[list[ExpectationOutcome], Path | None]:
    with _process_lock:
        project = Project.at(gx_home)
        batch_definition = batch(project)
        run = project.run(name, batch_definition, expectations, keep_results, notes)
    outcomes = [outcome for result in run.result.results for outcome in _outcomes(result)]
    return outcomes, run.docs_path


# --- the API ----------------------------------------------------------------------------------


def default_manifest_path() -> Path:
    """The manifest of the dbt target directory of the settings, which `dbt parse` writes
    before the Dagster definitions load (warehouse.dbt.prepare_manifest)."""
    return load_settings().dbt_target_path / "manifest.json"


def mart_contract(mart: str, manifest_path: Path | None = None) -> MartContract | None:
    """The mart's contract in the dbt manifest (default: `default_manifest_path()`); None when
    there is no manifest or it has no such mart."""
    path = manifest_path or default_manifest_path()
    return load_contracts(path).get(mart) if path.exists() else None


@contextmanager
def validation_session(gx_home: Path) -> Iterator[None]:
    """Validations inside write their Data Docs pages together, once, on leaving: for a
    caller that validates many marts in a row (the warehouse job's publication gate)."""
    with Project.at(Path(gx_home)).batched_docs():
        yield


def validate_mart(
    database_url: str,
    mart: str,
    *,
    schema: str = "gold",
    gx_home: Path,
    max_affinity: int | None = None,
    reference_schema: str = "reference",
    keep_results: int | None = KEEP_RESULTS,
    manifest_path: Path | None = None,
    changed: ChangedDays | None = None,
) -> MartValidation:
    """Run the mart's suite against `schema.mart`. `max_affinity` overrides the value of the
    `reference.affinity_settings` seed (default 1000 when there is none). The newest
    `keep_results` results of the suite are kept under `gx_home` (None: all). The mart's
    contract comes from the dbt manifest at `manifest_path` (default: the settings' dbt
    target directory). `changed` (the days builds changed since the last publication,
    `changed_days.changed_days`) restricts the suite to those days when every rule of the
    mart is day-local (`suites.DAY_LOCAL`); other marts are validated whole."""
    started = time.perf_counter()
    if mart not in MARTS:
        raise ValueError(f"no suite for {mart!r}; marts with suites: {', '.join(MARTS)}")
    manifest = manifest_path or default_manifest_path()
    contract = mart_contract(mart, manifest)
    if contract is None:
        outcome = ExpectationOutcome(
            f"the dbt manifest {manifest} has a contract for {mart}", False, None, []
        )
        return MartValidation(mart, schema, False, [outcome], None, time.perf_counter() - started)
    table = read_table(
        database_url, schema, mart, reference_schema=reference_schema, max_affinity=max_affinity
    )
    if table is None:
        outcome = ExpectationOutcome(f"table {schema}.{mart} exists", False, None, [])
        return MartValidation(mart, schema, False, [outcome], None, time.perf_counter() - started)
    suite = build_suite(table, contract)
    notes = suite.description
    if changed is not None and mart in DAY_LOCAL and changed.day_column in table.columns:
        # the rule checks read the changed days only; the rest of the candidate is gold,
        # validated when it was published (changed_days.py). Contract and types: the table's.
        suite = replace(suite, checks=tuple(restricted(c, changed.where()) for c in suite.checks))
        notes += f" Rules checked on the {len(changed.days)} day(s) changed since publication."
    outcomes, docs = _run(
        Path(gx_home),
        f"{schema}.{mart}",
        lambda project: project.table_batch(database_url, schema, mart),
        _expectations(suite),
        keep_results,
        notes,
    )
    outcomes += [
        ExpectationOutcome(
            rule.name,
            False,
            None,
            [{"not_evaluated": "missing column(s): " + ", ".join(sorted(cols))}],
        )
        for rule, cols in suite.not_evaluated
    ]
    return MartValidation(
        mart,
        schema,
        all(o.success for o in outcomes),
        outcomes,
        docs,
        time.perf_counter() - started,
    )


def validate_pii(
    database_url: str,
    *,
    schema: str = "gold",
    gx_home: Path,
    sample_rows: int = pii.DEFAULT_SAMPLE_ROWS,
    keep_results: int | None = KEEP_RESULTS,
) -> MartValidation:
    """No PII-looking column names, types or contents across all tables of the schema (see
    `pii.py`). The GX batch is the schema's column catalog; each table's contents are
    sampled by one query."""
    started = time.perf_counter()
    checks = [pii.names_check(), *pii.content_checks(database_url, schema, sample_rows)]
    outcomes, docs = _run(
        Path(gx_home),
        f"{schema}.pii",
        lambda project: project.query_batch(
            database_url, f"{schema}.columns", pii.catalog_query(schema)
        ),
        [_rules_expectation(check) for check in checks],
        keep_results,
        " ".join((pii.__doc__ or "").split()),
    )
    return MartValidation(
        "pii",
        schema,
        all(o.success for o in outcomes),
        outcomes,
        docs,
        time.perf_counter() - started,
    )
