"""The event catalog of docs/input-contract.md, as data, read from its one definition.

The payload contract is written once, in the dbt project (`payload_contract()` in
dbt_project/macros/payload_contract.sql), because the models check payloads with it. Its body
is a literal of Python's syntax too, so this module reads the same text instead of keeping a
copy that could drift (one did: a field was listed here and not there).

The loader does not reject unknown types (a newer producer may send them); the dbt project
reports them. A field name ending in "?" is optional.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from warehouse.settings import DBT_PROJECT_DIR

CONTRACT_MACRO = DBT_PROJECT_DIR / "macros" / "payload_contract.sql"
_CONTRACT_BODY = re.compile(
    r"\{%\s*macro payload_contract\(\)\s*%\}\s*\{\{\s*return\((.*?)\)\s*\}\}\s*\{%\s*endmacro",
    re.S,
)


def read_contract(path: Path = CONTRACT_MACRO) -> dict[str, tuple[tuple[str, str], ...]]:
    """event_type -> its payload rules, (field, kind) pairs, as the dbt macro states them."""
    match = _CONTRACT_BODY.search(path.read_text())
    if match is None:
        raise ValueError(f"{path}: no payload_contract() macro returning a literal")
    contract = ast.literal_eval(match.group(1))
    return {event_type: tuple(map(tuple, rules)) for event_type, rules in contract.items()}


CONTRACT = read_contract()
# event_type -> payload fields (a trailing "?" marks an optional field)
CATALOG: dict[str, tuple[str, ...]] = {
    event_type: tuple(field for field, _ in rules) for event_type, rules in CONTRACT.items()
}

EVENT_TYPES: frozenset[str] = frozenset(CATALOG)

# Currencies the generator emits; dbt_project/seeds/fx_rates_daily.csv has a EUR rate for each.
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "BRL", "MXN", "CAD")

MAX_EVENT_ID_LENGTH = 64
SUPPORTED_SCHEMA_MAJOR = 1
