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

__all__ = ["MARTS", "SUITES", "MartSuite", "build_suite"]

SUITES: dict[str, Callable[[Builder], None]] = {
    builder.__name__: builder
    for module in (revenue, players, game, points, affinity)
    for builder in module.BUILDERS
}
MARTS: tuple[str, ...] = tuple(SUITES)


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
