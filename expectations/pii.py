"""No personal data in a published schema: column names, column types and text contents.

`player_id` is pseudonymous by contract (docs/input-contract.md); the warehouse must never
publish names, e-mail addresses, phone numbers or IP addresses. Three rules:

- column names: a name whose `_`-separated words say e-mail, phone, MSISDN, IP address, a
  person's name (first/last/full/given/family/middle/sur/user/player/customer/real/nick/display
  name, or a bare `name`), a birth date or a postal address. Names of things are not personal:
  `game_name`, `file_name`, `provider_name` pass; `brand_id`, `vip_tier`, `zip_code` and
  `ship_date` pass (`ip` is only a whole word).
- column types: `inet`, `cidr`, `macaddr`, `macaddr8` hold network addresses.
- contents: in a sample of rows of every table, each text-like column (text, varchar, char,
  json, jsonb, citext and their arrays) must hold no value containing an e-mail address, a
  phone number, an IPv4 or an IPv6 address. Phone numbers are international (`+` and 7 to 15
  digits, separators allowed) or NANP-formatted (`(202) 555-0143`, `202-555-0143`); a bare
  run of digits is not flagged, since ids are often digits. One query per table, reading at
  most `sample_rows` rows (TABLESAMPLE SYSTEM on large tables, so the sample is spread over
  the table and only a fraction of its pages is read).

Offending values are reported masked (first character kept, letters and digits as `*`): the
check must not copy personal data into logs and Data Docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from expectations.catalog import quote
from expectations.checks import BATCH, Check, Rule, lit

NAME_PATTERN = (
    r"(^|_)(e_?mail(_?addr(ess)?)?|phone(_?number)?|telephone|msisdn|mobile_?(phone|number)"
    r"|ip|ipv4|ipv6|ip_?addr(ess)?|(first|last|full|given|family|middle|sur|user|player"
    r"|customer|real|nick|display)_?name|date_?of_?birth|birth_?date|dob"
    r"|(street|home|postal|billing|shipping)_?address)(_|$)|^name$"
)
NETWORK_TYPES = ("inet", "cidr", "macaddr", "macaddr8")
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "citext")

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]{1,4}"
CONTENT_PATTERNS: dict[str, str] = {
    "e-mail": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": (
        r"(^|[^0-9A-Za-z+])(\+[1-9]([ .()-]*[0-9]){6,14}"
        r"|\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4})([^0-9A-Za-z]|$)"
    ),
    "IPv4": rf"(^|[^0-9.]){_OCTET}(\.{_OCTET}){{3}}([^0-9.]|$)",
    "IPv6": (
        rf"(^|[^0-9A-Za-z:])(({_HEX}:){{7}}{_HEX}|({_HEX}(:{_HEX}){{0,6}})?::{_HEX}"
        rf"(:{_HEX}){{0,6}}|{_HEX}(:{_HEX}){{0,6}}::)([^0-9A-Za-z:]|$)"
    ),
}
DEFAULT_SAMPLE_ROWS = 10_000
# What a value must hold to match each pattern (a literal of the pattern), tested before the
# regular expression: most values hold none of them, and the four expressions on every text
# value were most of the check's time (on the benchmark's 2 M events: 2.9 s, 0.8 s with it).
CONTENT_LITERALS: dict[str, str | None] = {
    "e-mail": "strpos({value}, '@') > 0",
    "phone": None,  # digits: ids hold them too, so no cheaper test
    "IPv4": "strpos({value}, '.') > 0",
    "IPv6": "strpos({value}, ':') > 0",
}

# The catalog of the schema: the batch of the PII validation (one row per column).
CATALOG_QUERY = """
select c.relname::text as table_name, a.attname::text as column_name,
    format_type(a.atttypid, a.atttypmod) as data_type
from pg_catalog.pg_attribute as a, pg_catalog.pg_class as c, pg_catalog.pg_namespace as n
where a.attrelid = c.oid and c.relnamespace = n.oid and n.nspname = {schema}
    and c.relkind in ('r', 'v', 'm', 'p', 'f') and a.attnum > 0 and not a.attisdropped
"""


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # pg_class.relkind
    estimated_rows: float
    text_columns: tuple[str, ...]


def catalog_query(schema: str) -> str:
    return CATALOG_QUERY.format(schema=lit(schema)).strip()


def is_text_type(data_type: str) -> bool:
    base = data_type.removesuffix("[]").split("(")[0].strip()
    return base in TEXT_TYPES


def relations(database_url: str, schema: str) -> list[Relation]:
    with psycopg.connect(database_url) as conn:
        kinds = {
            name: (kind, float(rows))
            for name, kind, rows in conn.execute(
                """
                select c.relname, c.relkind::text, c.reltuples
                from pg_catalog.pg_class as c, pg_catalog.pg_namespace as n
                where c.relnamespace = n.oid and n.nspname = %s
                    and c.relkind in ('r', 'v', 'm', 'p', 'f')
                order by c.relname
                """,
                [schema],
            )
        }
        columns: dict[str, list[str]] = {name: [] for name in kinds}
        for table, column, data_type in conn.execute(catalog_query(schema)):
            if is_text_type(data_type):
                columns[table].append(column)
    return [
        Relation(name, kind, rows, tuple(columns[name])) for name, (kind, rows) in kinds.items()
    ]


def names_check() -> Check:
    rules = (
        Rule(
            "pii_column_names",
            "no column name looks like personal data (e-mail, phone, "
            "IP address, a person's name, birth date, postal address)",
        ),
        Rule("pii_column_types", "no column has a network-address type (inet, cidr, macaddr)"),
    )
    types = ", ".join(lit(t) for t in NETWORK_TYPES)
    query = f"""
select 'pii_column_names' as failed_rule, table_name, column_name, data_type
from {BATCH}
where column_name ~* {lit(NAME_PATTERN)}
union all
select 'pii_column_types', table_name, column_name, data_type
from {BATCH}
where data_type in ({types})"""
    return Check("pii_names", "no PII-looking column names or types in the schema", rules, query)


def _rule_key(table: str, used: set[str]) -> str:
    key = "pii_values_" + (re.sub(r"[^a-z0-9_]+", "_", table.lower()).strip("_") or "table")
    base, n = key, 2
    while key in used:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def _mask(expression: str) -> str:
    return (
        f"left({expression}, 1) || "
        f"regexp_replace(substr({expression}, 2, 59), '[A-Za-z0-9]', '*', 'g')"
    )


def content_check(
    schema: str, relation: Relation, key: str, sample_rows: int = DEFAULT_SAMPLE_ROWS
) -> Check:
    """One query over a sample of the table: for each text column and pattern, how many sampled
    values match, and one of them, masked."""
    rule = Rule(
        key,
        f"no e-mail, phone or IP address in the text of {schema}.{relation.name} "
        f"(sample of up to {sample_rows} rows)",
    )
    source = f"{quote(schema)}.{quote(relation.name)}"
    if relation.kind in ("r", "m") and relation.estimated_rows > 2 * sample_rows:
        percent = min(100.0, 100.0 * 2 * sample_rows / relation.estimated_rows)
        source += f" tablesample system ({percent:.6f})"
    selected = ", ".join(f"{quote(c)}::text as c{i}" for i, c in enumerate(relation.text_columns))
    # each value is matched once per pattern (a match in an aggregate's filter is evaluated
    # again by every aggregate that names it), the literal first: `and` in a select list is
    # evaluated left to right and stops at the first false
    matches, aggregates, values = [], [], []
    for i, column in enumerate(relation.text_columns):
        matches.append(f"c{i}")
        for j, (label, pattern) in enumerate(CONTENT_PATTERNS.items()):
            literal = CONTENT_LITERALS[label]
            match = f"c{i} ~ {lit(pattern)}"
            if literal is not None:
                match = f"{literal.format(value=f'c{i}')} and {match}"
            matches.append(f"({match}) as f{i}_{j}")
            aggregates.append(f"count(*) filter (where f{i}_{j}) as m{i}_{j}")
            aggregates.append(f"min({_mask(f'c{i}')}) filter (where f{i}_{j}) as x{i}_{j}")
            values.append(f"({lit(column)}, {lit(label)}, m{i}_{j}, x{i}_{j})")
    query = f"""
with sampled as (
    select {selected}
    from {source}
    limit {int(sample_rows)}
),
matched as (
    select {", ".join(matches)}
    from sampled
),
counted as (
    select {", ".join(aggregates)}
    from matched
)
select {lit(key)} as failed_rule, {lit(relation.name)} as table_name, found.*
from counted,
    lateral (values {", ".join(values)})
        as found (column_name, pattern, matching_values, masked_example)
where found.matching_values > 0"""
    return Check(key, rule.name, (rule,), query)


def content_checks(
    database_url: str, schema: str, sample_rows: int = DEFAULT_SAMPLE_ROWS
) -> list[Check]:
    used: set[str] = set()
    return [
        content_check(schema, relation, _rule_key(relation.name, used), sample_rows)
        for relation in relations(database_url, schema)
        if relation.text_columns
    ]
