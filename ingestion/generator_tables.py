"""Static tables of the synthetic world: regions, currencies, games, win bands, affinity rules.

Used by `ingestion.generator_world` (behaviour) and `ingestion.generator` (the writer).
"""

from __future__ import annotations

import random
from bisect import bisect

from ingestion.catalog import CURRENCIES

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000
M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1

REGIONS = ("EU", "UK", "LATAM", "NA", "APAC")
REGION_CUM = (0.36, 0.50, 0.70, 0.90, 1.0)
REGION_CURRENCIES: dict[str, tuple[str, ...]] = {
    "EU": ("EUR",),
    "UK": ("GBP",),
    "LATAM": ("BRL", "MXN"),
    "NA": ("USD", "CAD"),
    "APAC": ("USD",),
}
assert all(c in CURRENCIES for cs in REGION_CURRENCIES.values() for c in cs)
# Nominal amounts scale with the currency (integer minor units stay integers).
SCALE = {"EUR": 1, "GBP": 1, "USD": 1, "CAD": 1, "BRL": 5, "MXN": 20}
PEAK_HOUR = {"EU": 19.0, "UK": 19.5, "LATAM": 23.0, "NA": 25.0, "APAC": 12.0}
METHODS = {
    "EUR": ("card", "card", "trustly", "paypal", "skrill", "apple_pay"),
    "GBP": ("card", "card", "paypal", "apple_pay", "open_banking"),
    "BRL": ("pix", "pix", "pix", "card", "boleto"),
    "MXN": ("card", "spei", "oxxo", "card"),
    "USD": ("card", "card", "apple_pay", "paypal", "crypto_gateway"),
    "CAD": ("card", "interac", "interac", "paypal"),
}
# UTC offsets (minutes) a region's producers sometimes stamp instead of `Z`.
REGION_OFFSETS: dict[str, tuple[int, ...]] = {
    "EU": (60, 120),
    "UK": (0, 60),
    "LATAM": (-180, -300, -360),
    "NA": (-300, -240, -360, -480),
    "APAC": (480, 540, 330, 600),
}
CHANNELS = ("organic", "organic", "paid_search", "affiliate", "social", "referral", "app_store")
PLATFORMS = ("ios", "android", "android", "web")
ERROR_CODES = (
    "card_declined",
    "insufficient_funds",
    "3ds_failed",
    "timeout",
    "fraud_suspected",
    "limit_exceeded",
)
LIMIT_TYPES = ("deposit", "loss", "wager", "session_time")
ADMIN_REASONS = (
    "support_ticket",
    "compensation",
    "abuse_reversal",
    "event_reward",
    "migration_fix",
)

# minor units before currency scale: most bets 1..10 EUR, so that players wager their
# deposits several times over, as on a real casino floor
STAKES = (100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000)
DEPOSITS = (1000, 2000, 2000, 2500, 5000, 5000, 10000, 10000, 20000, 50000)
GEM_PACKS = ((100, 99), (550, 499), (550, 499), (1200, 999), (2500, 1999), (6500, 4999))

# Win multipliers given a win: (cumulative share, low, high). P(win) makes RTP 0.95.
WIN_BANDS = (
    (0.60, 0.2, 1.5),
    (0.88, 1.5, 4.0),
    (0.98, 4.0, 12.0),
    (0.999, 12.0, 40.0),
    (1.0, 40.0, 150.0),
)
TARGET_RTP = 0.95
MEAN_WIN_MULT = sum(
    (c - p) * (lo + hi) / 2
    for (p, _, _), (c, lo, hi) in zip(((0.0, 0, 0), *WIN_BANDS[:-1]), WIN_BANDS, strict=True)
)
P_WIN = TARGET_RTP / MEAN_WIN_MULT

PROVIDERS = (
    "aurora",
    "blackfin",
    "cobalt",
    "dragonfly",
    "emberlight",
    "foxglove",
    "granite",
    "halcyon",
    "ironwood",
    "juniper",
    "kestrel",
    "lumen",
    "marigold",
    "nimbus",
    "orchid",
)
# kind, share, settle lag range (ms)
KINDS = (
    ("slot", 0.70, 150, 2_500),
    ("table", 0.12, 1_000, 8_000),
    ("live", 0.10, 15_000, 90_000),
    ("crash", 0.05, 2_000, 40_000),
    ("instant", 0.03, 50, 600),
)
TASKS = (
    "daily_play",
    "spin_streak",
    "first_win",
    "big_win",
    "bonus_round",
    "level_up",
    "tournament_entry",
    "combo_x5",
    "collect_set",
)
ECONOMY = (
    "credits.earn",
    "credits.spend",
    "gems.earn",
    "gems.spend",
    "dungeon.complete",
    "craft.complete",
    "pvp.battle",
    "pvp.ranked.battle",
    "raid.complete",
    "market.sale",
)
ECONOMY_CUM = tuple(float(x) for x in (22, 36, 43, 49, 61, 69, 78, 83, 87, 92))
# rule_key, cumulative weight, in-range change (lo, hi), out-of-range changes, gap range (s)
RULES = (
    ("chat", 0.45, 1, 3, (5, 0), (5, 120)),
    ("gift", 0.65, 5, 10, (12, 15), (30, 600)),
    ("play", 0.995, 2, 4, (8, -1), (20, 300)),
    ("dance", 1.0, 1, 5, (9,), (10, 60)),
)

R3 = 1.2207440846057596  # root of x**4 = x + 1: the R3 low-discrepancy sequence
ALPHA = (1 / R3, 1 / R3**2, 1 / R3**3)


def mix64(x: int) -> int:
    """splitmix64 finalizer: a cheap, deterministic integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def perm32(x: int, key: int) -> int:
    """A bijection of 32-bit integers (xor, odd multiplications, xorshifts): unique player ids."""
    x = (x ^ key) & M32
    x = (x * 0x9E3779B1) & M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & M32
    x ^= x >> 16
    return (x + (key >> 32)) & M32


class Game:
    __slots__ = ("game_id", "jackpot", "lag_hi", "lag_lo", "provider_id", "tasks")

    def __init__(
        self,
        game_id: str,
        provider_id: str,
        lag: tuple[int, int],
        jackpot: bool,
        tasks: tuple[str, ...],
    ) -> None:
        self.game_id, self.provider_id = game_id, provider_id
        self.jackpot, self.tasks = jackpot, tasks
        self.lag_lo, self.lag_hi = lag


def build_games(n: int = 200) -> list[Game]:
    """A fixed catalog of `n` games over 15 providers (the same for every seed)."""
    rng = random.Random(20260101)
    games = []
    kind_cum = []
    acc = 0.0
    for _, share, _, _ in KINDS:
        acc += share
        kind_cum.append(acc)
    for i in range(n):
        kind, _, lo, hi = KINDS[min(bisect(kind_cum, rng.random()), len(KINDS) - 1)]
        provider = (
            PROVIDERS[i % len(PROVIDERS)] if i < 2 * len(PROVIDERS) else rng.choice(PROVIDERS)
        )
        tasks = tuple(rng.sample(TASKS, rng.randint(3, 5)))
        games.append(
            Game(
                f"g_{kind}_{i + 1:03d}",
                f"prov_{provider}",
                (lo, hi),
                kind == "slot" and rng.random() < 0.15,
                tasks,
            )
        )
    return games


def win_multiplier_mean() -> float:
    """Expected return per unit staked (used by tests): P_WIN times the mean multiplier."""
    return P_WIN * MEAN_WIN_MULT
