"""What the suites need to know before they are built: the mart's columns, the other tables of
its schema (for cross-mart rules), and the reference seeds whose values the affinity rules
embed (max_affinity, levels, rules, level rewards). A handful of catalog queries on one
connection; no mart is scanned here."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

DEFAULT_MAX_AFFINITY = 1000


@dataclass(frozen=True)
class AffinityRule:
    rule_key: str
    single_cap: int
    daily_cap: int
    is_enabled: bool


@dataclass(frozen=True)
class Reference:
    """The affinity configuration (docs/affinity.md), from the `reference` seeds when present."""

    max_affinity: int = DEFAULT_MAX_AFFINITY
    global_daily_cap: int | None = None
    timezone: str | None = None
    levels: tuple[tuple[int, int], ...] = ()  # (level, min_value), ascending
    rules: tuple[AffinityRule, ...] = ()
    level_rewards: tuple[tuple[int, str, int], ...] = ()  # (level, reward_code, quantity)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: dict[str, str]  # column name -> information_schema data_type
    siblings: frozenset[str] = frozenset()  # tables of the same schema
    reference: Reference = field(default_factory=Reference)

    def sibling(self, name: str) -> str | None:
        """The qualified name of another table of the schema, or None when it is absent."""
        return f"{quote(self.schema)}.{quote(name)}" if name in self.siblings else None


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _tables(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        inner join information_schema.tables as t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = %s and t.table_type in ('BASE TABLE', 'VIEW')
        order by c.table_name, c.ordinal_position
        """,
        [schema],
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, {})[column] = data_type
    return tables


def _settings(conn: psycopg.Connection, schema: str, columns: dict[str, str]) -> dict[str, str]:
    """affinity_settings as {setting: value}: one row with a column per setting (the seed), or
    rows of (setting, value)."""
    relation = f"{quote(schema)}.affinity_settings"
    if {"setting", "value"} <= columns.keys():
        rows = conn.execute(f"select setting::text, value::text from {relation}").fetchall()
        return {str(key): str(value) for key, value in rows if value is not None}
    cursor = conn.execute(f"select * from {relation} limit 1")
    row = cursor.fetchone()
    if row is None or cursor.description is None:
        return {}
    return {d.name: str(v) for d, v in zip(cursor.description, row, strict=True) if v is not None}


def read_reference(
    conn: psycopg.Connection, schema: str = "reference", max_affinity: int | None = None
) -> Reference:
    tables = _tables(conn, schema)
    settings = (
        _settings(conn, schema, tables["affinity_settings"])
        if "affinity_settings" in tables
        else {}
    )
    levels: tuple[tuple[int, int], ...] = ()
    if {"level", "min_value"} <= tables.get("affinity_levels", {}).keys():
        levels = tuple(
            (int(level), int(min_value))
            for level, min_value in conn.execute(
                f"select level, min_value from {quote(schema)}.affinity_levels "
                "where level is not null and min_value is not null order by min_value"
            )
        )
    rules: tuple[AffinityRule, ...] = ()
    if {"rule_key", "single_cap", "daily_cap", "is_enabled"} <= tables.get(
        "affinity_rules", {}
    ).keys():
        rules = tuple(
            AffinityRule(str(key), int(single), int(daily), bool(enabled))
            for key, single, daily, enabled in conn.execute(
                f"select rule_key, single_cap, daily_cap, is_enabled "
                f"from {quote(schema)}.affinity_rules where rule_key is not null "
                "and single_cap is not null and daily_cap is not null order by rule_key"
            )
        )
    rewards: tuple[tuple[int, str, int], ...] = ()
    if {"level", "reward_code", "quantity"} <= tables.get("affinity_level_rewards", {}).keys():
        rewards = tuple(
            (int(level), str(code), int(quantity))
            for level, code, quantity in conn.execute(
                f"select level, reward_code, quantity from {quote(schema)}."
                "affinity_level_rewards where level is not null and reward_code is not null "
                "and quantity is not null order by level, reward_code"
            )
        )
    configured = settings.get("max_affinity")
    return Reference(
        max_affinity=(
            max_affinity
            if max_affinity is not None
            else int(configured)
            if configured
            else DEFAULT_MAX_AFFINITY
        ),
        global_daily_cap=(
            int(settings["global_daily_cap"]) if settings.get("global_daily_cap") else None
        ),
        timezone=settings.get("timezone") or None,
        levels=levels,
        rules=rules,
        level_rewards=rewards,
    )


def read_table(
    database_url: str,
    schema: str,
    name: str,
    *,
    reference_schema: str = "reference",
    max_affinity: int | None = None,
) -> Table | None:
    """The mart as the suites see it, or None when the schema has no such table."""
    with psycopg.connect(database_url) as conn:
        tables = _tables(conn, schema)
        if name not in tables:
            return None
        reference = (
            read_reference(conn, reference_schema, max_affinity)
            if "affinity" in name
            else Reference()
        )
        return Table(schema, name, tables[name], frozenset(tables), reference)
