"""Rules and checks: the SQL side of the suites.

A **rule** is one semantic statement about a mart ("ggr_minor = stake_minor - win_minor"), with
a SQL predicate that is true for a row that breaks it. A **check** is one query, hence one scan
of the mart, that returns the offending rows of one or more rules, each with a `failed_rule`
column holding the rule's key. Every row-level rule of a mart goes into one check
(`row_rules_check`); a cross-row rule (a key, a rollup, a chain) takes one query of its own.

Every check query is wrapped (`gx_query`) so that it returns at most `SAMPLE_ROWS` rows per
rule, each carrying the rule's total count of offending rows: the database counts while it
scans, so GX never runs the query a second time to count (see `expectation.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

SAMPLE_ROWS = 5
# GX fetches at most this many rows of a query result (great_expectations.constants).
MAX_FETCHED_ROWS = 200

# Where `{batch}` (the mart, as GX renders the batch) goes; braces elsewhere are escaped.
BATCH = "\x00batch\x00"

# Names of the extra columns every check query returns (dropped from the samples).
FAILED_RULE = "failed_rule"
COUNT_COLUMN = "unexpected_count__"
RANK_COLUMN = "sample_rank__"
INTERNAL_COLUMNS = frozenset({FAILED_RULE, COUNT_COLUMN, RANK_COLUMN})

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
# GX substitutes `{batch}` differently when a query contains a JOIN (a bare parenthesised
# subquery, alias left to the author). The checks never use the keyword, so the substitution
# is always `(<batch>) AS subselect`; `gx_query` refuses a query that breaks this.
_JOIN = re.compile(r"\bjoin\b", re.IGNORECASE)
_IDENTIFIER = re.compile(r"\b[a-z_][a-z0-9_]*\b")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Rule:
    """One semantic rule. `violated` is a SQL predicate over one row, true when the row breaks
    the rule; NULL counts as "holds" (nullability has rules of its own). For cross-row checks
    the predicate is unused: the check's query decides and names the rule in `failed_rule`."""

    key: str
    name: str
    violated: str = ""

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"a rule key is a lower-case identifier, got {self.key!r}")


@dataclass(frozen=True)
class Check:
    """One query (one scan of the mart) that returns offending rows of its rules."""

    key: str
    description: str
    rules: tuple[Rule, ...]
    query: str  # uses BATCH; returns a `failed_rule` column holding rule keys
    columns: frozenset[str] = field(default_factory=frozenset)  # mart columns it reads

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"a check key is a lower-case identifier, got {self.key!r}")
        keys = [rule.key for rule in self.rules]
        if len(set(keys)) != len(keys):
            raise ValueError(f"check {self.key}: duplicate rule keys {keys}")


# --- predicates -----------------------------------------------------------------------------


def lit(value: object) -> str:
    """A SQL literal for a str, int, float, bool or None."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


def close(a: str, b: str, tolerance: str = "1e-9") -> str:
    """SQL: `a` equals `b` within a relative tolerance (absolute below 1)."""
    return f"abs(({a}) - ({b})) <= {tolerance} * greatest(1, abs({b}))"


def not_null(column: str) -> Rule:
    return Rule(f"{column}_not_null", f"{column} is not null", f"{column} is null")


def not_nulls(*columns: str) -> list[Rule]:
    return [not_null(column) for column in columns]


def at_least(column: str, low: int | float, name: str | None = None) -> Rule:
    key = f"{column}_at_least_{str(low).replace('-', 'minus_').replace('.', '_')}"
    return Rule(key, name or f"{column} >= {low}", f"{column} < {lit(low)}")


def between(column: str, low: object, high: object, name: str | None = None) -> Rule:
    return Rule(
        f"{column}_in_range",
        name or f"{column} within [{low}, {high}]",
        f"{column} < {low} or {column} > {high}",
    )


def one_of(column: str, values: Sequence[str]) -> Rule:
    listed = ", ".join(lit(value) for value in values)
    return Rule(
        f"{column}_accepted",
        f"{column} in ({', '.join(values)})",
        f"{column} not in ({listed})",
    )


def holds(key: str, name: str, condition: str) -> Rule:
    """A rule stated positively: `condition` must be true (or NULL) on every row."""
    return Rule(key, name, f"not ({condition})")


def ratio(key: str, name: str, column: str, numerator: str, denominator: str) -> list[Rule]:
    """`column` = numerator / denominator, NULL exactly where the denominator is 0."""
    return [
        holds(
            f"{key}_null_iff_zero_denominator",
            f"{column} is NULL exactly where {denominator} = 0",
            f"({column} is null) = ({denominator} = 0)",
        ),
        holds(key, name, close(column, f"({numerator})::numeric / nullif({denominator}, 0)")),
    ]


# --- queries --------------------------------------------------------------------------------


def referenced_columns(sql: str, vocabulary: Iterable[str]) -> frozenset[str]:
    """The names of `vocabulary` that appear as identifiers in `sql`."""
    words = set(_IDENTIFIER.findall(_STRING_LITERAL.sub(" ", sql).lower()))
    return frozenset(name for name in vocabulary if name in words)


def flagged_rows(source: str, rules: Sequence[Rule]) -> str:
    """SQL: the rows of `source` (a relation, e.g. BATCH or a parenthesised subquery with an
    alias) that break at least one rule, once per broken rule, the rule's key in
    `failed_rule`. Each row is tested once; only offending rows are unnested."""
    if not rules:
        raise ValueError("flagged_rows needs rules")
    guards = [f"coalesce(({rule.violated}), false)" for rule in rules]
    flags = ",\n        ".join(
        f"case when {guard} then {lit(rule.key)} end"
        for rule, guard in zip(rules, guards, strict=True)
    )
    any_broken = "\n        or ".join(guards)
    return f"""
select failed_rule, broken.*
from (
    select *
    from {source}
    where {any_broken}
) as broken,
    unnest(array[
        {flags}
    ]::text[]) as failed_rule
where failed_rule is not null"""


def row_rules_check(
    rules: Sequence[Rule],
    vocabulary: Iterable[str],
    description: str = "row-level rules (one scan)",
) -> Check:
    """Every row-level rule of a mart in one scan (see `flagged_rows`)."""
    columns = referenced_columns(" ".join(rule.violated for rule in rules), vocabulary)
    return Check("row_rules", description, tuple(rules), flagged_rows(BATCH, rules), columns)


def unique_key_check(key: Sequence[str]) -> Check:
    """The primary key is unique: one query, one hash aggregate."""
    cols = ", ".join(key)
    rule = Rule("primary_key_unique", f"primary key ({cols}) is unique")
    query = f"""
select {lit(rule.key)} as failed_rule, {cols}, count(*) as rows_with_this_key
from {BATCH}
group by {cols}
having count(*) > 1"""
    return Check("primary_key", f"primary key ({cols}) is unique", (rule,), query, frozenset(key))


def restricted(check: Check, where: str) -> Check:
    """The check on the rows of the mart where `where` holds (a predicate over its columns):
    the mart becomes a filtered subquery, which PostgreSQL (16 and later) takes without an
    alias, so a query that names the mart with an alias keeps working."""
    if "{" in where or "}" in where:
        raise ValueError("a slice predicate has no braces (GX formats the query)")
    return replace(
        check, query=check.query.replace(BATCH, f"(select * from {BATCH} where {where})")
    )


def gx_query(check: Check, sample_rows: int = SAMPLE_ROWS) -> str:
    """The check's query as GX runs it: at most `sample_rows` rows per broken rule, each with
    the rule's total count; braces escaped, BATCH turned into `{batch}`."""
    if _JOIN.search(check.query):
        raise ValueError(f"check {check.key}: write the query without JOIN (see checks.py)")
    # GX keeps the first MAX_FETCHED_ROWS rows: every broken rule must fit in, or a rule
    # could pass unseen.
    sample_rows = min(sample_rows, MAX_FETCHED_ROWS // max(1, len(check.rules)))
    if sample_rows < 1:
        raise ValueError(f"check {check.key}: too many rules for one query")
    wrapped = f"""
with offending as ({check.query}
),
ranked as (
    select
        offending.*,
        count(*) over (partition by failed_rule) as {COUNT_COLUMN},
        row_number() over (partition by failed_rule) as {RANK_COLUMN}
    from offending
)
select * from ranked where {RANK_COLUMN} <= {int(sample_rows)}"""
    return wrapped.replace("{", "{{").replace("}", "}}").replace(BATCH, "{batch}").strip()
