"""What every suite is made of: the mart's dbt contract plus the rules only GX can check.

A `Builder` starts from the mart as found in the database (`catalog.Table`) and its contract
in the dbt manifest (`contract.MartContract`). From the contract alone it takes:

- the contract columns, which must all be present (a metadata check, no scan);
- the integer columns (money in minor units, counts), which must have integer types (metadata);
- a not-null rule per `not_null` constraint, a one-of rule per `accepted_values` test and a
  row rule per `check` constraint (its expression must hold);
- the grain, checked unique by one query.

Why GX checks the grain and the not-null columns again although dbt tests and enforces them:
dbt's tests gate a publication only in a run that built the mart (publish_gold requires a
passing result of a blocking dbt test only for a candidate materialized in the run), while a
run of validation and publication alone publishes candidates an earlier run built. The GX
suite is the one gate of every publication, and it checks the table as it is found.

The domain modules add the rest: row rules that are not constraints, and cross-row,
cross-granularity and cross-mart checks. A rule that reads a contract column the table lacks
is not run; it is reported as failed ("not evaluated"), next to the failed contract check. A
cross-mart reconciliation runs when the other mart is in the same schema. Numeric rules
compare within 1e-9 (relative; absolute below 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from expectations.catalog import Table
from expectations.checks import (
    Check,
    Rule,
    at_least,
    holds,
    not_null,
    one_of,
    referenced_columns,
    row_rules_check,
    unique_key_check,
)
from expectations.contract import MartContract

UTC_ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
_KEY_CHARACTERS = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True)
class MartSuite:
    mart: str
    columns: tuple[str, ...]  # the contract: all must be present
    integer_columns: tuple[str, ...]  # must have an integer type
    checks: tuple[Check, ...]
    not_evaluated: tuple[tuple[Rule, frozenset[str]], ...] = ()  # rules missing columns
    description: str = ""


@dataclass
class Builder:
    """Collects a mart's rules and checks against the table as it is."""

    table: Table
    contract: MartContract
    rules: list[Rule] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    blocked: list[tuple[Rule, frozenset[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add(not_null(column) for column in self.contract.not_null)
        self.add(one_of(column, values) for column, values in self.contract.accepted_values)
        self.add(
            holds(
                _KEY_CHARACTERS.sub("_", f"contract_{name}".lower()),
                f"{expression} ({name})",
                expression,
            )
            for name, expression in self.contract.checks
        )

    @property
    def vocabulary(self) -> set[str]:
        return set(self.contract.column_names)

    @property
    def grain(self) -> tuple[str, ...]:
        return self.contract.grain

    def missing(self, sql: str) -> frozenset[str]:
        needed = referenced_columns(sql, self.vocabulary)
        return frozenset(column for column in needed if column not in self.table.columns)

    def add(self, *rules: Rule | Iterable[Rule]) -> None:
        for item in rules:
            for rule in [item] if isinstance(item, Rule) else item:
                lacking = self.missing(rule.violated)
                if lacking:
                    self.blocked.append((rule, lacking))
                else:
                    self.rules.append(rule)

    def not_null(self, *columns: str) -> None:
        """Not-null rules the contract does not state (yet) as constraints."""
        self.add(not_null(c) for c in columns if c not in self.contract.not_null)

    def check(self, key: str, description: str, rules: Sequence[Rule], query: str) -> None:
        lacking = self.missing(query)
        if lacking:
            self.blocked.extend((rule, lacking) for rule in rules)
            return
        columns = referenced_columns(query, self.vocabulary)
        self.checks.append(Check(key, description, tuple(rules), query, columns))

    def build(self, description: str) -> MartSuite:
        checks: list[Check] = []
        if self.rules:
            checks.append(row_rules_check(self.rules, self.vocabulary))
        lacking_key = frozenset(c for c in self.grain if c not in self.table.columns)
        key_check = unique_key_check(self.grain)
        if lacking_key:
            self.blocked.extend((rule, lacking_key) for rule in key_check.rules)
        else:
            checks.append(key_check)
        checks.extend(self.checks)
        return MartSuite(
            mart=self.table.name,
            columns=self.contract.column_names,
            integer_columns=tuple(
                c for c in self.contract.integer_columns if c in self.table.columns
            ),
            checks=tuple(checks),
            not_evaluated=tuple(self.blocked),
            description=" ".join(description.split()),
        )


def counts_non_negative(*columns: str) -> list[Rule]:
    return [at_least(column, 0) for column in columns]


def equals(key: str, column: str, expression: str) -> Rule:
    return holds(key, f"{column} = {expression}", f"{column} = {expression}")
