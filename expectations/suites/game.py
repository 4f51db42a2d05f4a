"""The game-economy mart (models/gold/game/): docs/metrics.md, "Game economy", as GX rules.

Columns, types, grain and not-null constraints come from the dbt contract (see `base.py`).
"""

from __future__ import annotations

from expectations.suites.base import Builder, counts_non_negative


def fct_economy_daily(b: Builder) -> None:
    """Game-economy counters per day and brand.

    Decisions: every counter is a non-negative integer (the payload amounts are counts);
    purchase_revenue_eur_minor may be NULL (a purchase currency without an FX rate) and is
    otherwise >= 0."""
    b.add(
        # every integer column of the contract outside the grain is a counter
        counts_non_negative(*(c for c in b.contract.integer_columns if c not in b.grain)),
    )


BUILDERS = (fct_economy_daily,)
