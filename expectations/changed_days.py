"""The slice of a candidate mart that its builds changed since the last publication.

A day-keyed incremental mart records the days each build changed in `audit.candidate_changes`
(dbt macro record_candidate_changes); publication takes (deletes) those records when it
replaces the days in gold. Here they are only read: validation runs before publication, and
a blocked publication must leave them for the next attempt.

Why the other days need no validation again: gold equals the candidate after every
publication (warehouse/publish.py), and the gold rows were validated before they were
published. A build changes the candidate on its recorded days alone, so a row outside them
is a row of gold, already validated. The slice is refused (None: validate the whole mart)
whenever that argument does not hold: no record (no build since the publication, or a mart
that does not record), a whole-mart record (first build, full refresh), several day
columns, no gold table, or a gold table whose columns differ from the candidate's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from warehouse import schemas
from warehouse.database import connect

CANDIDATE_CHANGES = f"{schemas.AUDIT}.candidate_changes"


@dataclass(frozen=True)
class ChangedDays:
    day_column: str  # e.g. "day"
    days: tuple[dt.date, ...]  # sorted; empty: the builds changed no day

    def where(self) -> str:
        """The SQL predicate selecting the slice (dates are rendered by the code, not input)."""
        listed = ", ".join(f"date '{day.isoformat()}'" for day in self.days)
        return f"{self.day_column} = any(array[{listed}]::date[])" if listed else "false"


_COLUMNS = """
select coalesce(array_agg(column_name::text order by ordinal_position), '{}')
from information_schema.columns
where table_schema = %s and table_name = %s"""


def changed_days(
    database_url: str,
    mart: str,
    *,
    candidate_schema: str = schemas.CANDIDATE,
    gold_schema: str = schemas.GOLD,
) -> ChangedDays | None:
    """The days the mart's builds changed since its last publication, read (not taken); None
    when only a validation of the whole mart is sound (see the module docstring)."""
    if candidate_schema != schemas.CANDIDATE:
        return None  # the records describe the warehouse's own candidate schema only
    with connect(database_url) as conn:
        if conn.execute("select to_regclass(%s)", [CANDIDATE_CHANGES]).fetchone() == (None,):
            return None
        rows = conn.execute(
            f"select day_column, day, whole from {CANDIDATE_CHANGES} where mart = %s", [mart]
        ).fetchall()
        if not rows or any(whole for _, _, whole in rows):
            return None
        columns = {column for column, _, _ in rows}
        if len(columns) != 1:
            return None
        candidate = conn.execute(_COLUMNS, [candidate_schema, mart]).fetchone()
        gold = conn.execute(_COLUMNS, [gold_schema, mart]).fetchone()
    (column,) = columns
    if not gold or not gold[0] or candidate != gold or column not in (candidate or [[]])[0]:
        return None
    return ChangedDays(column, tuple(sorted({day for _, day, _ in rows if day is not None})))
