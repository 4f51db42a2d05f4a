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

# ---- The operator's economics (docs/generator.md states the rates and what they add up to).
# Amounts are minor units before the currency's scale. A player's usual stake is one of the
# steps 1..MAX_STAKE_IX (mostly 2 or 2.50 EUR), one step higher for whales; a bet is a round
# at that stake, sometimes one or two steps more, one step more at a table or live game.
STAKES = (100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000)
MAX_STAKE_IX = 5
# Deposits: 10..50 EUR (four times that for a whale). Only a player who has deposited bets (a
# casino takes no real-money bet without funds), so the stakes, the number of rounds and the
# deposit rates below make turnover about 7x deposits and GGR about a quarter of deposits.
DEPOSITS = (1000, 1000, 1000, 1000, 1500, 2000, 2000, 2500, 3000, 5000)
WHALE_DEPOSIT = 4
P_FIRST_DEPOSIT = 0.65  # per active day of a gambler who has not deposited yet
P_REDEPOSIT, P_REDEPOSIT_WHALE = 0.08, 0.20  # per active day afterwards
P_SECOND_DEPOSIT = 0.05  # a second deposit on the same day
# Processing fees on a capture: 85 % carry 1.5..3.5 % of the amount, 5 % a fee of 0 and 10 %
# none, so fees are 0.85 x 2.5 % = 2.125 % of deposits.
P_FEE, P_ZERO_FEE = 0.85, 0.05
FEE_LO, FEE_SPAN = 0.015, 0.02
JACKPOT_DIVISOR = 100  # a jackpot slot puts 1 % of each stake into the jackpot
# Bonuses: a welcome bonus matching the first deposit (up to 100 EUR, 70 % take it), reloads of
# a tenth of a deposit (15 %). A bonus costs only when it becomes cash: once the player has
# staked WAGERING times it within BONUS_EXPIRY_MS of its issue (else it is forfeited). Most
# players do not, which keeps the bonus cost near a fifth of GGR.
WELCOME_BONUS = (0.70, 1.0, 10_000)  # take-up, share of the deposit, cap
RELOAD_BONUS = (0.15, 0.10)  # take-up, share of the deposit
WAGERING = 15
BONUS_EXPIRY_MS = 7 * 86_400_000
# Withdrawals: on an active day after a deposit, with P_WITHDRAWAL, 0.5..1.5 x the last deposit;
# about half of what is deposited goes back out.
P_WITHDRAWAL = 0.18
WITHDRAWAL_LO, WITHDRAWAL_SPAN = 0.5, 1.0
GEM_PACKS = ((100, 99), (550, 499), (550, 499), (1200, 999), (2500, 1999), (6500, 4999))

# Paytables: the return to player (RTP) each kind of game is built for, and its win multipliers
# given a win as (cumulative share, low, high), uniform within a band. P(win) is solved so that
# P(win) x mean multiplier = RTP. Slots have the longest tail (up to 25x); table games pay
# mostly even money (2x the stake back), blackjacks (2.5x), dozens (3x) and ties (9x); live
# games add a game-show tail; crash games pay the cash-out multiplier; instant games are
# scratch cards. Tails are kept short so that a few thousand players show stable numbers.
Band = tuple[float, float, float]
PAYTABLES: dict[str, tuple[float, tuple[Band, ...]]] = {
    "slot": (
        0.960,
        (
            (0.55, 0.5, 1.5),
            (0.85, 1.5, 3.0),
            (0.97, 3.0, 6.0),
            (0.997, 6.0, 12.0),
            (1.0, 12.0, 25.0),
        ),
    ),
    "table": (0.985, ((0.80, 2.0, 2.0), (0.95, 2.5, 2.5), (0.995, 3.0, 3.0), (1.0, 9.0, 9.0))),
    "live": (0.975, ((0.80, 2.0, 2.0), (0.95, 2.5, 3.0), (0.995, 4.0, 8.0), (1.0, 8.0, 20.0))),
    "crash": (0.970, ((0.70, 1.1, 2.0), (0.95, 2.0, 4.0), (0.995, 4.0, 8.0), (1.0, 8.0, 20.0))),
    "instant": (0.950, ((0.70, 1.0, 2.0), (0.95, 2.0, 4.0), (0.995, 4.0, 8.0), (1.0, 8.0, 20.0))),
}


def mean_win_multiplier(bands: tuple[Band, ...]) -> float:
    """The mean multiplier of a win: each band's share times its midpoint."""
    lows = (0.0, *(cum for cum, _, _ in bands[:-1]))
    return sum((cum - low) * (lo + hi) / 2 for low, (cum, lo, hi) in zip(lows, bands, strict=True))


P_WIN = {kind: rtp / mean_win_multiplier(bands) for kind, (rtp, bands) in PAYTABLES.items()}
assert all(0.0 < p < 1.0 for p in P_WIN.values())

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
# kind, share of the catalog, settle lag range (ms), stake steps above the player's usual stake
# (a table or live seat costs more than a spin: the minimum bet at a table is a few EUR)
KINDS = (
    ("slot", 0.70, 150, 2_500, 0),
    ("table", 0.12, 1_000, 8_000, 1),
    ("live", 0.10, 15_000, 90_000, 1),
    ("crash", 0.05, 2_000, 40_000, 0),
    ("instant", 0.03, 50, 600, 0),
)
KIND_INDEX = {kind[0]: i for i, kind in enumerate(KINDS)}
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

GOLDEN = 0.6180339887498949  # (sqrt(5) - 1) / 2: the Weyl sequence of bet outcomes
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
    __slots__ = (
        "bands",
        "game_id",
        "jackpot",
        "kind",
        "lag_hi",
        "lag_lo",
        "p_win",
        "provider_id",
        "seq",
        "stake_step",
        "tasks",
    )

    def __init__(
        self,
        game_id: str,
        provider_id: str,
        lag: tuple[int, int],
        jackpot: bool,
        tasks: tuple[str, ...],
        kind: str = "slot",
        stake_step: int = 0,
    ) -> None:
        self.game_id, self.provider_id = game_id, provider_id
        self.jackpot, self.tasks = jackpot, tasks
        self.lag_lo, self.lag_hi = lag
        self.kind, self.stake_step = kind, stake_step
        self.p_win, self.bands = P_WIN[kind], PAYTABLES[kind][1]
        self.seq = KIND_INDEX[kind]  # which of a player's outcome sequences the game draws from


def build_games(n: int = 200) -> list[Game]:
    """A fixed catalog of `n` games over 15 providers (the same for every seed)."""
    rng = random.Random(20260101)
    games = []
    kind_cum = []
    acc = 0.0
    for _, share, _, _, _ in KINDS:
        acc += share
        kind_cum.append(acc)
    for i in range(n):
        kind, _, lo, hi, step = KINDS[min(bisect(kind_cum, rng.random()), len(KINDS) - 1)]
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
                kind,
                step,
            )
        )
    return games
