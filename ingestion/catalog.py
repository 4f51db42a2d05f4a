"""The event catalog of ../shared/spec/events.md, as data.

The loader does not reject unknown types (a newer producer may send them); the dbt project
reports them. Payload fields listed here are the contract's; `?` fields are optional.
"""

from __future__ import annotations

# event_type -> payload fields (a trailing "?" marks an optional field)
CATALOG: dict[str, tuple[str, ...]] = {
    "player.registered": ("channel?",),
    "session.started": ("session_id",),
    "session.ended": ("session_id",),
    "bet.placed": ("bet_id", "game_id", "provider_id", "stake_minor", "currency", "in_bonus"),
    "bet.settled": (
        "bet_id",
        "game_id",
        "provider_id",
        "stake_minor",
        "win_minor",
        "currency",
        "in_bonus",
    ),
    "wallet.debit": ("amount_minor", "currency", "reason", "reference_id"),
    "wallet.credit": ("amount_minor", "currency", "reason", "reference_id"),
    "payment.intent": ("payment_id", "amount_minor", "currency", "method"),
    "payment.authorized": ("payment_id", "amount_minor", "currency", "method"),
    "payment.captured": ("payment_id", "amount_minor", "currency", "method", "fee_minor?"),
    "payment.failed": ("payment_id", "method", "error_code"),
    "bonus.issued": ("bonus_id", "amount_minor", "currency"),
    "bonus.consumed": ("bonus_id", "amount_minor", "currency"),
    "jackpot.contribution": ("game_id", "amount_minor", "currency"),
    "rg.limit.hit": ("limit_type?",),
    "rg.reality_check": ("limit_type?",),
    "credits.earn": ("amount",),
    "credits.spend": ("amount",),
    "gems.earn": ("amount",),
    "gems.spend": ("amount",),
    "gems.purchase": ("gems", "amount_minor", "currency"),
    "dungeon.complete": (),
    "craft.complete": (),
    "pvp.battle": (),
    "pvp.ranked.battle": (),
    "raid.complete": (),
    "market.sale": (),
    "points.awarded": ("game_id", "task_id", "points", "minutes"),
    "device.bound": ("device_id",),
    "device.unbound": ("device_id",),
    "affinity.triggered": ("device_id", "rule_key", "change", "source"),
    "affinity.admin_adjust": ("device_id", "delta", "operator_admin_id", "reason"),
}

EVENT_TYPES: frozenset[str] = frozenset(CATALOG)

# Currencies the generator emits; dbt_project/seeds/fx_rates_daily.csv has a EUR rate for each.
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "BRL", "MXN", "CAD")

MAX_EVENT_ID_LENGTH = 64
SUPPORTED_SCHEMA_MAJOR = 1
