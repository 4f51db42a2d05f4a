"""The synthetic world behind `ingestion.generator`: games, players, what a player does on a day.

Behaviour is decided here and handed to an `emit(player, event_type, t_ms, payload, trace_id)`
callback; the envelope (ids, timestamps, duplicates, lateness, breakage) is the writer's business.
`t_ms` counts milliseconds from 00:00 UTC of the first generated day.

Every player-day draws from its own Mersenne Twister stream, seeded from (seed, player, day): a
player's history does not depend on how many other players there are, so a dry run over the first
players counts exactly the events those players will have in the real run (`events_target`).
Registration day, engagement and player kind come from a low-discrepancy sequence over the player
index, so any prefix of players is a stratified sample of the population. Bet outcomes come from a
low-discrepancy sequence of each player's own (see `_bets`).

The economics (paytables, deposits, fees, bonuses, withdrawals) are the constants of
`generator_tables`; docs/generator.md states the rates and what they add up to.
"""

from __future__ import annotations

import datetime
import random
from bisect import bisect
from collections.abc import Callable
from typing import Any

from ingestion.generator_tables import (
    ADMIN_REASONS,
    ALPHA,
    BONUS_EXPIRY_MS,
    CHANNELS,
    DAY_MS,
    DEPOSITS,
    ECONOMY,
    ECONOMY_CUM,
    ERROR_CODES,
    FEE_LO,
    FEE_SPAN,
    GEM_PACKS,
    GOLDEN,
    HOUR_MS,
    JACKPOT_DIVISOR,
    KINDS,
    LIMIT_TYPES,
    M64,
    MAX_STAKE_IX,
    METHODS,
    MIN_MS,
    P_FEE,
    P_FIRST_DEPOSIT,
    P_REDEPOSIT,
    P_REDEPOSIT_WHALE,
    P_SECOND_DEPOSIT,
    P_WITHDRAWAL,
    P_ZERO_FEE,
    PEAK_HOUR,
    PLATFORMS,
    REGION_CUM,
    REGION_CURRENCIES,
    REGIONS,
    RELOAD_BONUS,
    RULES,
    SCALE,
    STAKES,
    WAGERING,
    WELCOME_BONUS,
    WHALE_DEPOSIT,
    WITHDRAWAL_LO,
    WITHDRAWAL_SPAN,
    build_games,
    mix64,
    perm32,
)

N_KINDS = len(KINDS)
TWO_64 = 18446744073709551616.0  # 2**64: a 64-bit hash as a float in [0, 1)


class Player:
    __slots__ = (
        "act_a",
        "act_b",
        "bets",
        "bonus",
        "bound",
        "channel",
        "currency",
        "deposited",
        "dev_day",
        "dev_owner",
        "device",
        "devices",
        "dup_reg",
        "favs",
        "gambler",
        "gamer",
        "idx",
        "last_deposit",
        "luck",
        "methods",
        "more_sessions",
        "peak_h",
        "pid",
        "platform",
        "reg_day",
        "reg_ms",
        "region",
        "scale",
        "stake_ix",
        "tenant",
        "upgrade_day",
        "ver",
        "wagered",
        "whale",
    )


Emit = Callable[[Player, str, int, dict[str, Any], "str | None"], None]


class World:
    """Static catalogs plus the behaviour model. `emit` must be set before simulating."""

    def __init__(self, *, seed: int, days: int, brands: int, start_date: datetime.date) -> None:
        self.days = days
        self.end_ms = days * DAY_MS
        self.games = build_games()
        wrng = random.Random((seed << 8) | 1)
        self.base_key = (seed & M64) << 64
        self.mix_key = mix64(seed & M64)
        self.id_key = wrng.getrandbits(64)
        self.offsets = tuple(wrng.random() for _ in range(3))
        self.brands = tuple(f"brand-{i + 1}" for i in range(brands))
        self.brand_cum = self._cum([1.0 / (i + 1) ** 0.8 for i in range(brands)])
        # registrations per day: weekends busier, growing, one campaign spike
        spike = wrng.randrange(days)
        weights = []
        for d in range(days):
            weekday = (start_date + datetime.timedelta(days=d)).weekday()
            w = (1.25 if weekday >= 5 else 1.0) * (1.0 + 0.4 * d / days)
            weights.append(w * (2.0 if d == spike else 1.0))
        self.reg_cum = self._cum(weights)
        self.weekend = tuple(
            (start_date + datetime.timedelta(days=d)).weekday() >= 5 for d in range(days)
        )
        pop = [1.0 / (i + 1) ** 0.9 for i in range(len(self.games))]
        self.game_cum = self._cum(pop)
        self.rng = random.Random(0)
        self.emit: Emit = _no_emit

    @staticmethod
    def _cum(weights: list[float]) -> list[float]:
        total, acc, out = sum(weights), 0.0, []
        for w in weights:
            acc += w
            out.append(acc / total)
        out[-1] = 1.0
        return out

    def _game(self, r: Callable[[], float]) -> int:
        return min(bisect(self.game_cum, r()), len(self.games) - 1)

    # ---------------------------------------------------------------- players

    def make_player(self, idx: int) -> Player:
        rng = self.rng
        rng.seed(self.base_key + (idx << 20))
        r = rng.random
        u1, u2, u3 = ((o + a * (idx + 1)) % 1.0 for o, a in zip(self.offsets, ALPHA, strict=True))
        p = Player()
        p.idx = idx
        p.pid = f"p_{perm32(idx, self.id_key):08x}"
        p.tenant = self.brands[min(bisect(self.brand_cum, r()), len(self.brands) - 1)]
        p.region = REGIONS[bisect(REGION_CUM, r())]
        currencies = REGION_CURRENCIES[p.region]
        p.currency = currencies[int(r() * len(currencies))]
        p.scale = SCALE[p.currency]
        p.methods = METHODS[p.currency]
        p.reg_day = min(bisect(self.reg_cum, u1), self.days - 1)
        p.peak_h = PEAK_HOUR[p.region] + rng.gauss(0.0, 1.5)
        p.reg_ms = int(((p.peak_h + rng.gauss(0.0, 3.0)) % 24.0) * HOUR_MS)
        p.act_a = 0.10 + 0.75 * u2
        p.act_b = 0.30 + 0.50 * r()
        p.more_sessions = 0.15 + 0.30 * u2
        p.gambler = u3 < 0.80
        p.gamer = u3 >= 0.55
        p.whale = p.gambler and r() < 0.02
        p.stake_ix = min(int(abs(rng.gauss(0.0, 1.3))) + (2 if p.whale else 1), MAX_STAKE_IX)
        p.favs = tuple(self._game(r) for _ in range(3))
        p.channel = CHANNELS[int(r() * len(CHANNELS))] if r() < 0.9 else None
        p.platform = PLATFORMS[int(r() * len(PLATFORMS))]
        p.dup_reg = r() < 0.002
        p.dev_owner = r() < (0.6 if p.gamer else 0.2)
        p.dev_day = p.reg_day + int(r() * 2)
        p.upgrade_day = p.reg_day + int(r() * 2 * self.days)
        p.device, p.bound, p.devices = None, False, 0
        p.deposited, p.last_deposit, p.bonus, p.ver = False, 0, None, "1.0.0"
        # where the player's outcome sequences (one per kind of game) start: hashes, so that the
        # other draws stay as they were
        p.luck = tuple(mix64(self.id_key ^ (idx << 3 | k)) / TWO_64 for k in range(N_KINDS))
        p.bets, p.wagered = [0] * N_KINDS, 0
        return p

    def is_active(self, p: Player, d: int) -> bool:
        k = d - p.reg_day
        if k <= 0:
            return k == 0
        u = mix64(self.mix_key ^ ((p.idx << 16) + d)) / TWO_64
        prob = p.act_a * (1.0 + k) ** -p.act_b * (1.2 if self.weekend[d] else 1.0)
        return u < prob

    # ---------------------------------------------------------------- a day

    def player_day(self, p: Player, d: int) -> None:
        rng = self.rng
        rng.seed(self.base_key + (p.idx << 20) + d + 1)
        r = rng.random
        emit = self.emit
        day0 = d * DAY_MS
        p.ver = "1.2.0" if d >= p.upgrade_day else "1.0.0"
        first = None
        if d == p.reg_day:
            t = day0 + p.reg_ms
            emit(p, "player.registered", t, {"channel": p.channel} if p.channel else {}, None)
            if p.dup_reg:
                emit(
                    p,
                    "player.registered",
                    t + MIN_MS + int(r() * 6 * HOUR_MS),
                    {"channel": p.channel or "organic"},
                    None,
                )
            first = t + 20_000 + int(r() * 600_000)
            if r() < 0.12:
                return  # registered, did not play today
        n = 1
        while n < 6 and r() < p.more_sessions:
            n += 1
        starts = sorted(
            day0 + int(((p.peak_h + rng.gauss(0.0, 3.5)) % 24.0) * HOUR_MS) for _ in range(n)
        )
        cursor = day0
        if first is not None:
            starts[0] = cursor = first
        deposit_left = 0
        if p.gambler:
            p_deposit = (
                (P_REDEPOSIT_WHALE if p.whale else P_REDEPOSIT) if p.deposited else P_FIRST_DEPOSIT
            )
            deposit_left = 1 if r() < p_deposit else 0
            if deposit_left and r() < P_SECOND_DEPOSIT:
                deposit_left = 2
        device_today = p.dev_owner and d >= p.dev_day
        had_device = p.device is not None and p.bound  # bound before today's sessions
        day_end = day0 + DAY_MS
        for start in starts:
            ts = max(start, cursor)
            if ts >= day_end:
                break
            te = self._session(p, ts, r, deposit_left > 0, device_today)
            deposit_left = max(0, deposit_left - 1)
            cursor = te + MIN_MS + int(r() * 20 * MIN_MS)
        t_any = day0 + int(r() * DAY_MS)
        if first is not None:  # nothing before the registration
            t_any = max(t_any, cursor)
        if p.device is not None and (had_device or p.bound):
            if had_device and r() < 0.9:  # the server's daily decay, 04:00 in Asia/Shanghai
                change = -1 - int(r() * 5) if r() > 0.02 else -8
                emit(
                    p,
                    "affinity.triggered",
                    day0 + 20 * HOUR_MS + int(r() * HOUR_MS),
                    {
                        "device_id": p.device,
                        "rule_key": "decay",
                        "change": change,
                        "source": "server",
                    },
                    None,
                )
            if r() < 0.1:
                big = r() < 0.3
                delta = (500 + int(r() * 1501)) if big else (1 + int(r() * 100))
                emit(
                    p,
                    "affinity.admin_adjust",
                    t_any if had_device else max(t_any, cursor),
                    {
                        "device_id": p.device,
                        "delta": delta if r() < 0.6 else -delta,
                        "operator_admin_id": f"adm_{1 + int(r() * 12):02d}",
                        "reason": ADMIN_REASONS[int(r() * len(ADMIN_REASONS))],
                    },
                    None,
                )
        if p.gambler and r() < 0.02:
            lt = LIMIT_TYPES[int(r() * len(LIMIT_TYPES))]
            emit(p, "rg.limit.hit", t_any + 1000, {"limit_type": lt}, None)
        if p.deposited and r() < P_WITHDRAWAL:
            # cashing out a win: of the order of the last deposit
            wd = f"wd_{rng.getrandbits(64):016x}"
            emit(
                p,
                "wallet.debit",
                t_any + 2000,
                {
                    "amount_minor": int(p.last_deposit * (WITHDRAWAL_LO + WITHDRAWAL_SPAN * r())),
                    "currency": p.currency,
                    "reason": "withdrawal",
                    "reference_id": wd,
                },
                None,
            )

    def _session(
        self, p: Player, ts: int, r: Callable[[], float], deposit: bool, device_today: bool
    ) -> int:
        rng, emit = self.rng, self.emit
        u = r()
        if u < 0.15:
            length = 5_000 + int(r() * 54_000)
        else:
            length = min(HOUR_MS, 60_000 + int(rng.lognormvariate(13.2, 0.9)))
        te = ts + length
        sid = f"s_{rng.getrandbits(64):016x}"
        payload: dict[str, Any] = {"session_id": sid}
        if p.ver != "1.0.0":
            payload["platform"] = p.platform
        emit(p, "session.started", ts, payload, None)
        gi = p.favs[int(r() * 3)] if r() < 0.75 else self._game(r)
        t = ts + 1_000 + int(r() * 20_000)
        if device_today and r() < 0.7:
            t = self._device(p, ts, te, r)
        if deposit:
            t = self._deposit(p, t, r)
        # real-money bets need funds: only after a deposit (docs/generator.md)
        if p.gambler and p.deposited and r() < (0.9 if length >= 60_000 else 0.3):
            n = 1 + int(rng.expovariate(0.08))  # about 13 rounds
            if length < 60_000:
                n = min(n, 3)
            self._bets(p, gi, t, max(te, t + 1000), n, r)
        if p.gamer:
            self._economy(p, ts, length, r)
        if r() < (0.5 if p.gamer else 0.25):
            self._points(p, gi, ts, length, r)
        if p.device is not None and device_today and r() < 0.6:
            self._affinity(p, ts, length, r)
            if r() < 0.4:
                self._affinity(p, ts, length, r)
        for k in range(1, length // (30 * MIN_MS) + 1):
            emit(
                p,
                "rg.reality_check",
                ts + k * 30 * MIN_MS,
                {"limit_type": "session_time"} if r() < 0.5 else {},
                None,
            )
        if p.bonus is not None and ts - p.bonus[2] > BONUS_EXPIRY_MS:
            p.bonus = None  # wagering not met in time: forfeited, it never costs anything
        if p.bonus is not None and p.wagered >= WAGERING * p.bonus[1]:
            bonus_id, amount, issued = p.bonus  # wagering met: what is left becomes cash
            p.bonus = None
            t_use = max(te, issued + MIN_MS)
            if r() < 0.3:
                amount = max(1, int(amount * (0.2 + 0.7 * r())))
            emit(
                p,
                "bonus.consumed",
                t_use,
                {"bonus_id": bonus_id, "amount_minor": amount, "currency": p.currency},
                None,
            )
            emit(
                p,
                "wallet.credit",
                t_use + 50,
                {
                    "amount_minor": amount,
                    "currency": p.currency,
                    "reason": "bonus",
                    "reference_id": bonus_id,
                },
                None,
            )
        if r() >= 0.02:  # a few sessions never end
            emit(p, "session.ended", te, {"session_id": sid}, None)
        return te

    def _device(self, p: Player, ts: int, te: int, r: Callable[[], float]) -> int:
        t = ts + 2_000 + int(r() * 30_000)
        if not p.bound and r() < 0.7:
            if p.device is None or r() < 0.6:
                p.device = f"dev_{self.rng.getrandbits(48):012x}"
                p.devices += 1
            p.bound = True
            self.emit(p, "device.bound", t, {"device_id": p.device}, None)
        elif p.bound and r() < 0.12:
            p.bound = False
            self.emit(p, "device.unbound", te - 1_000, {"device_id": p.device}, None)
        return t + 1_000

    def _deposit(self, p: Player, t: int, r: Callable[[], float]) -> int:
        """A deposit attempt; returns when the player goes on playing (slow steps don't wait)."""
        return min(self._deposit_steps(p, t, r), t + 90_000)

    def _deposit_steps(self, p: Player, t: int, r: Callable[[], float]) -> int:
        rng, emit, cur = self.rng, self.emit, p.currency
        amount = DEPOSITS[int(r() * len(DEPOSITS))] * p.scale * (WHALE_DEPOSIT if p.whale else 1)
        method = p.methods[int(r() * len(p.methods))]
        pid = f"pay_{rng.getrandbits(64):016x}"
        trace = f"{rng.getrandbits(128):032x}"
        body = {"payment_id": pid, "amount_minor": amount, "currency": cur, "method": method}
        emit(p, "payment.intent", t, body, trace)

        def step(lo: int, hi: int) -> int:  # 2% of steps arrive one to three hours later
            slow = HOUR_MS + int(r() * 2 * HOUR_MS) if r() < 0.02 else 0
            return lo + int(r() * (hi - lo)) + slow

        u = r()
        if u < 0.10:
            emit(
                p,
                "payment.failed",
                t + step(1_000, 15_000),
                {
                    "payment_id": pid,
                    "method": method,
                    "error_code": ERROR_CODES[int(r() * len(ERROR_CODES))],
                },
                trace,
            )
            return t + 20_000
        if u < 0.14:
            return t + 20_000  # abandoned after the intent
        t += step(500, 10_000)
        emit(p, "payment.authorized", t, dict(body), trace)
        u = r()
        if u < 0.02:
            emit(
                p,
                "payment.failed",
                t + step(1_000, 10_000),
                {"payment_id": pid, "method": method, "error_code": "capture_declined"},
                trace,
            )
            return t + 15_000
        if u < 0.05:
            return t + 15_000
        t += step(500, 20_000)
        captured = dict(body)
        u = r()
        if u < P_FEE:
            captured["fee_minor"] = int(amount * (FEE_LO + FEE_SPAN * r()) + 0.5)
        elif u < P_FEE + P_ZERO_FEE:
            captured["fee_minor"] = 0
        emit(p, "payment.captured", t, captured, trace)
        if r() < 0.01:
            return t + 5_000  # captured, never credited
        t += 100 + int(r() * 3_000)
        emit(
            p,
            "wallet.credit",
            t,
            {"amount_minor": amount, "currency": cur, "reason": "deposit", "reference_id": pid},
            trace,
        )
        if p.bonus is None and (
            (not p.deposited and r() < WELCOME_BONUS[0]) or r() < RELOAD_BONUS[0]
        ):
            # a welcome bonus matching part of the first deposit (capped), smaller reloads
            bonus = (
                min(int(amount * WELCOME_BONUS[1]), WELCOME_BONUS[2] * p.scale)
                if not p.deposited
                else int(amount * RELOAD_BONUS[1])
            )
            bonus_id = f"bn_{rng.getrandbits(64):016x}"
            p.bonus, p.wagered = (bonus_id, max(1, bonus), t + 500), 0
            emit(
                p,
                "bonus.issued",
                t + 500,
                {"bonus_id": bonus_id, "amount_minor": p.bonus[1], "currency": cur},
                None,
            )
        p.deposited, p.last_deposit = True, amount
        return t + 1_000

    def _bets(self, p: Player, gi: int, t0: int, t1: int, n: int, r: Callable[[], float]) -> None:
        rng, emit, games = self.rng, self.emit, self.games
        getrandbits = rng.getrandbits
        cur, scale, six, n_stakes = p.currency, p.scale, p.stake_ix, len(STAKES)
        span = t1 - t0
        bonus_from = p.bonus[2] if p.bonus is not None else t1 + 1  # in_bonus after the issue
        wagered = 0
        game = games[gi]
        for t in sorted(t0 + int(r() * span) for _ in range(n)):
            if r() < 0.1:
                game = games[p.favs[int(r() * 3)]]
            u = r()
            ix = six + game.stake_step + (2 if u < 0.03 else 1 if u < 0.15 else 0)
            stake = STAKES[ix if ix < n_stakes else n_stakes - 1] * scale
            bet_id = f"b_{getrandbits(64):016x}"
            trace = f"{getrandbits(128):032x}"
            in_bonus = t >= bonus_from and r() < 0.5
            if t >= bonus_from:
                wagered += stake
            gid, prov = game.game_id, game.provider_id
            emit(
                p,
                "bet.placed",
                t,
                {
                    "bet_id": bet_id,
                    "game_id": gid,
                    "provider_id": prov,
                    "stake_minor": stake,
                    "currency": cur,
                    "in_bonus": in_bonus,
                },
                trace,
            )
            debit = {
                "amount_minor": stake,
                "currency": cur,
                "reason": "bet",
                "reference_id": bet_id,
            }
            emit(p, "wallet.debit", t + 5 + int(r() * 80), debit, trace)
            if game.jackpot:
                emit(
                    p,
                    "jackpot.contribution",
                    t + 10 + int(r() * 90),
                    {
                        "game_id": gid,
                        "amount_minor": max(1, stake // JACKPOT_DIVISOR),
                        "currency": cur,
                    },
                    trace,
                )
            u = r()
            if u < 0.002:  # voided: refunded, never settled
                emit(
                    p,
                    "wallet.credit",
                    t + 30_000,
                    {
                        "amount_minor": stake,
                        "currency": cur,
                        "reason": "refund",
                        "reference_id": bet_id,
                    },
                    trace,
                )
                continue
            lag = game.lag_lo + int(r() * (game.lag_hi - game.lag_lo))
            if u > 0.995:  # delayed settlement: minutes to hours
                lag += 5 * MIN_MS + int(r() * r() * 6 * HOUR_MS)
            ts = t + lag
            # The outcome is the quantile q of the game's paytable, q from the player's own
            # low-discrepancy (Weyl) sequence for the kind of game: each bet's distribution is the
            # paytable's, while a player's outcomes spread over the paytable as evenly as over
            # millions of bets, so that a demo-sized data set shows the paytables' RTP
            # (docs/generator.md).
            k = game.seq
            q = (p.luck[k] + p.bets[k] * GOLDEN) % 1.0
            p.bets[k] += 1
            win, p_win = 0, game.p_win
            if q < p_win:
                v, low = q / p_win, 0.0
                for cum, lo, hi in game.bands:
                    if v < cum:
                        win = int(stake * (lo + (hi - lo) * (v - low) / (cum - low)) + 0.5)
                        break
                    low = cum
            emit(
                p,
                "bet.settled",
                ts,
                {
                    "bet_id": bet_id,
                    "game_id": gid,
                    "provider_id": prov,
                    "stake_minor": stake,
                    "win_minor": win,
                    "currency": cur,
                    "in_bonus": in_bonus,
                },
                trace,
            )
            if win:
                emit(
                    p,
                    "wallet.credit",
                    ts + 5 + int(r() * 150),
                    {"amount_minor": win, "currency": cur, "reason": "win", "reference_id": bet_id},
                    trace,
                )
        p.wagered += wagered

    def _economy(self, p: Player, ts: int, length: int, r: Callable[[], float]) -> None:
        rng, emit = self.rng, self.emit
        n = 1 + int(rng.expovariate(0.2))
        for etype in rng.choices(ECONOMY, cum_weights=ECONOMY_CUM, k=n):
            t = ts + int(r() * length)
            if etype == "credits.earn":
                payload: dict[str, Any] = {
                    "amount": 10 + int(r() * 490),
                    "source": ("quest", "dungeon", "daily")[int(r() * 3)],
                }
            elif etype == "credits.spend":
                payload = {
                    "amount": 20 + int(r() * 600),
                    "sink": ("shop", "upgrade", "repair")[int(r() * 3)],
                }
            elif etype == "gems.earn":
                payload = {"amount": 1 + int(r() * 25)}
            elif etype == "gems.spend":
                payload = {"amount": 5 + int(r() * 95), "item_id": f"i_{int(r() * 400)}"}
            elif etype == "dungeon.complete":
                payload = {
                    "dungeon_id": f"d_{1 + int(r() * 40)}",
                    "difficulty": ("normal", "hard", "nightmare")[int(r() ** 2 * 3)],
                }
            elif etype == "craft.complete":
                payload = {
                    "item_id": f"i_{int(r() * 400)}",
                    "quality": ("common", "rare", "epic")[int(r() ** 2 * 3)],
                }
            elif etype == "pvp.battle":
                payload = {"result": ("win", "loss", "draw")[int(r() * 2.1)]}
            elif etype == "pvp.ranked.battle":
                payload = {
                    "result": ("win", "loss")[int(r() * 2)],
                    "rating_delta": int(r() * 50) - 25,
                }
            elif etype == "raid.complete":
                payload = {
                    "raid_id": f"r_{1 + int(r() * 8)}",
                    "party_size": 4 + int(r() * 5),
                    "success": r() < 0.6,
                }
            else:
                payload = {"item_id": f"i_{int(r() * 400)}", "price_credits": 50 + int(r() * 950)}
            emit(p, etype, t, payload, None)
        if r() < (0.2 if p.whale else 0.04):
            gems, price = GEM_PACKS[int(r() * len(GEM_PACKS))]
            t = ts + int(r() * length)
            purchase = f"gp_{rng.getrandbits(64):016x}"
            amount = price * p.scale
            trace = f"{rng.getrandbits(128):032x}"
            emit(
                p,
                "gems.purchase",
                t,
                {
                    "gems": gems,
                    "amount_minor": amount,
                    "currency": p.currency,
                    "purchase_id": purchase,
                },
                trace,
            )
            emit(
                p,
                "wallet.debit",
                t + 20,
                {
                    "amount_minor": amount,
                    "currency": p.currency,
                    "reason": "purchase",
                    "reference_id": purchase,
                },
                trace,
            )

    def _points(self, p: Player, gi: int, ts: int, length: int, r: Callable[[], float]) -> None:
        tasks, gid = self.games[gi].tasks, self.games[gi].game_id
        t = ts
        for _ in range(1 + int(r() * 4)):
            t += int(r() * length / 2)
            u = r()
            minutes: float = (
                0 if u < 0.15 else (1 + int(r() * 30) if u < 0.55 else round(0.5 + r() * 30, 1))
            )
            payload = {
                "game_id": gid,
                "task_id": tasks[int(r() ** 2 * len(tasks))],
                "points": (5, 10, 10, 20, 25, 50, 100, 250)[int(r() * 8)],
                "minutes": minutes,
            }
            self.emit(p, "points.awarded", t, payload, None)
            if r() < 0.03:  # the same task awarded twice in the same millisecond
                self.emit(p, "points.awarded", t, dict(payload), None)

    def _affinity(self, p: Player, ts: int, length: int, r: Callable[[], float]) -> None:
        emit = self.emit
        v = r()
        rule, _, lo, hi, odd, (gap_lo, gap_hi) = next(x for x in RULES if v < x[1])
        device = p.device if r() > 0.01 else f"dev_{self.rng.getrandbits(48):012x}"  # never bound
        t = ts + int(r() * length)
        for _ in range(1 + int(self.rng.expovariate(1 / 7))):
            change = lo + int(r() * (hi - lo + 1)) if r() > 0.03 else odd[int(r() * len(odd))]
            source = "app" if r() < 0.88 else ("server", "web")[int(r() * 2)]
            emit(
                p,
                "affinity.triggered",
                t,
                {"device_id": device, "rule_key": rule, "change": change, "source": source},
                None,
            )
            t += (gap_lo + int(r() * (gap_hi - gap_lo))) * 1000


def _no_emit(p: Player, etype: str, t: int, payload: dict[str, Any], trace: str | None) -> None:
    raise RuntimeError("World.emit is not set")


__all__ = ["Emit", "Player", "World"]
