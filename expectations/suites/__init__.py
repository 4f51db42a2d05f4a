"""One suite per gold mart, in modules that mirror dbt_project/models/gold/<domain>/.

A suite is the mart's dbt contract (columns, types, grain, not-null columns and accepted
values, read from the dbt manifest: `expectations/contract.py`) plus the rules only GX
checks: row rules that are not constraints, and cross-row, cross-granularity and cross-mart
rules (`base.py` says what comes from where, and why the grain is checked here too).
"""

from __future__ import annotations

from collections.abc import Callable

from expectations.catalog import Table
from expectations.contract import MartContract
from expectations.suites import affinity, game, players, points, revenue
from expectations.suites.base import Builder, MartSuite

__all__ = ["DAY_LOCAL", "MARTS", "SUITES", "MartSuite", "build_suite"]

SUITES: dict[str, Callable[[Builder], None]] = {
    builder.__name__: builder
    for module in (revenue, players, game, points, affinity)
    for builder in module.BUILDERS
}
MARTS: tuple[str, ...] = tuple(SUITES)

# Marts whose every rule holds on the whole mart exactly when it holds on each of its days,
# so that after an incremental build the suite runs on the changed days alone
# (`changed_days.py` says why the unchanged days need no second look). For each:
# - fct_bets_rollup: row rules are per row; the grain (granularity, bucket_start, slice)
#   fixes the day (rule day_is_utc_day_of_bucket), so two rows sharing a key share a day and
#   a duplicate involving a changed row lies within the changed days; every 5m, 1h and 1d
#   bucket of the rollup rule lies within one UTC day, so its sums over the changed days
#   equal those over the mart. Its suite is the costliest (7.5 s of 24 s at 2 M events).
# The other marts stay whole: their suites take under 2 s each (mostly GX's fixed cost per
# suite), or their rules span days (cohort curves, running totals, cross-mart reconciliations).
DAY_LOCAL: frozenset[str] = frozenset({"fct_bets_rollup"})


def build_suite(table: Table, contract: MartContract) -> MartSuite:
    try:
        rules = SUITES[table.name]
    except KeyError:
        raise ValueError(f"no suite for {table.name!r}; marts with suites: {MARTS}") from None
    if contract.name != table.name:
        raise ValueError(f"the contract of {contract.name!r} is not that of {table.name!r}")
    builder = Builder(table, contract)
    rules(builder)
    return builder.build(rules.__doc__ or "")
