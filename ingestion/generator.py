"""Deterministic generator of realistic event streams (`dwh generate`, `dwh demo`, `dwh bench`).

`generate(config, out_dir)` writes one batch file per UTC day, `events-YYYY-MM-DD.ndjson[.gz]`,
newline-delimited compact JSON following docs/input-contract.md, and returns a summary.

What lands in the files, besides the clean events of `generator_world`:
- duplicates: byte-identical copies of a line, mostly later in the same file, some in a later file;
- conflicts: the same `event_id` again with different content, always after the first copy;
- late events: in the file of a day 1..5 days after their `occurred_at` day (files after the
  generated period are written when late events land there);
- malformed lines (the classes in `MALFORMED_KINDS`) and a few blank lines;
- envelope-valid events whose payload breaks the contract, and events of types not in the catalog.

Determinism: the same config gives byte-identical files. Behaviour draws from per-player-day random
streams and per-player outcome sequences (see `generator_world`; the economics it simulates are
stated in docs/generator.md); envelope decisions draw from one `random.Random` stream in
generation order. Nothing reads the clock or `hash()`; gzip headers carry no name and mtime 0.

Memory: lines are written in chunks as they are made; only lines that land in a later file (late
events, copies, events after midnight) are held, plus the players' state.
"""

from __future__ import annotations

import datetime
import gzip
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import orjson
from tqdm import tqdm

from ingestion.catalog import CURRENCIES, MAX_EVENT_ID_LENGTH
from ingestion.generator_tables import DAY_MS, REGION_OFFSETS
from ingestion.generator_world import Player, World

__all__ = [
    "MALFORMED_KINDS",
    "GenerationSummary",
    "GeneratorConfig",
    "generate",
    "players_for_target",
]

GZIP_LEVEL = 3  # zlib level 3 compresses these lines almost as well as 6, twice as fast
_CHUNK_BYTES = 1 << 20
_NL = orjson.OPT_APPEND_NEWLINE
_CALIBRATION_PLAYERS = 4000
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)
_LATE_DAYS = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 5)  # a few beyond 3 days
_REQUIRED = (
    "event_id",
    "event_type",
    "occurred_at",
    "tenant_id",
    "region",
    "player_id",
    "schema_version",
    "payload",
)
MALFORMED_KINDS = (
    "truncated",
    "not_object",
    "missing_field",
    "empty_field",
    "bad_timestamp",
    "naive_timestamp",
    "schema_major",
    "payload_not_object",
    "long_event_id",
)
_UNKNOWN_TYPES = ("promo.viewed", "chat.message", "tournament.joined", "achievement.unlocked")
_BAD_CURRENCIES = ("XXX", "BTC", "ZZZ")
assert not set(_BAD_CURRENCIES) & set(CURRENCIES)


@dataclass(frozen=True)
class GeneratorConfig:
    players: int = 1000
    days: int = 30
    seed: int = 42
    start_date: datetime.date = datetime.date(2026, 1, 1)
    brands: int = 3  # tenant_ids brand-1..brand-N
    duplicate_rate: float = 0.01  # share of events emitted a second time (byte-identical)
    conflict_rate: float = 0.001  # share re-emitted with the same event_id, different content
    late_rate: float = 0.01  # share landing in a file 1..5 days after their occurred_at day
    malformed_rate: float = 0.001  # malformed lines, per event (plus a tenth as many blank lines)
    invalid_payload_rate: float = 0.001  # envelope-valid events whose payload breaks the contract
    unknown_type_rate: float = 0.0005  # envelope-valid events of a type not in the catalog
    gzip: bool = True  # write *.ndjson.gz, else *.ndjson
    events_target: int | None = None  # if set, overrides players: events ≈ this (±10%)

    def __post_init__(self) -> None:
        if self.players < 0 or self.days < 1 or self.brands < 1:
            raise ValueError("players must be >= 0, days and brands >= 1")
        if self.events_target is not None and self.events_target < 1:
            raise ValueError("events_target must be a positive number of events")
        rates = self._rates()
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 0.5:
            raise ValueError("rates must lie in [0, 1] and sum to at most 0.5")

    def _rates(self) -> tuple[float, ...]:
        """Late, duplicate, conflict, malformed, invalid payload, unknown type, blank line."""
        return (
            self.late_rate,
            self.duplicate_rate,
            self.conflict_rate,
            self.malformed_rate,
            self.invalid_payload_rate,
            self.unknown_type_rate,
            self.malformed_rate / 10,
        )


@dataclass(frozen=True)
class GenerationSummary:
    files: list[Path]
    lines: int  # every line written, blank and malformed included
    events: int  # distinct envelope-valid events (invalid payloads and unknown types included)
    duplicates: int  # byte-identical extra copies
    malformed: int  # malformed non-blank lines
    late: int  # events landing in a file later than their occurred_at day
    by_type: dict[str, int]  # distinct events per event_type
    seconds: float
    players: int = 0
    conflicts: int = 0  # extra copies with the same event_id and different content
    invalid_payload: int = 0
    unknown_type: int = 0
    blank_lines: int = 0
    by_malformed_kind: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Clock:
    """RFC 3339 formatting of `t_ms` (ms since the first day's midnight) from lookup tables:
    `"YYYY-MM-DDTHH:MM:"` per minute (a bounded cache), `"SS.mmm"` per millisecond of a minute."""

    MAX_MINUTES = 20_000

    def __init__(self, start: datetime.date) -> None:
        self.epoch = datetime.datetime(start.year, start.month, start.day)
        self.minutes: dict[int, str] = {}
        self.secms = [f"{s:02d}.{ms:03d}" for s in range(60) for ms in range(1000)]

    def minute(self, m: int) -> str:
        if len(self.minutes) >= self.MAX_MINUTES:
            self.minutes.clear()
        s = (self.epoch + datetime.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:")
        self.minutes[m] = s
        return s

    def local(self, t: int) -> str:
        """`t` as `YYYY-MM-DDTHH:MM:SS.mmm`, no offset."""
        m, rem = divmod(t, 60_000)
        return (self.minutes.get(m) or self.minute(m)) + self.secms[rem]


def _uuid(getrandbits: Any) -> str:
    """What `str(uuid.UUID(int=getrandbits(128), version=4))` gives, faster."""
    h = "%032x" % ((getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Writer:
    def __init__(self, config: GeneratorConfig, world: World, out_dir: Path) -> None:
        self.config, self.world, self.out_dir = config, world, out_dir
        self.rng = Random((config.seed << 8) | 2)
        self.clock = _Clock(config.start_date)
        self.cuts: list[float] = []
        acc = 0.0
        for rate in config._rates():
            acc += rate
            self.cuts.append(acc)
        self.last_day = config.days - 1
        self.cur_day = -1
        # Lines (each ending in "\n") are appended to byte buffers: orjson's bytes objects carry
        # a 4 KiB allocation each, so holding them in lists would cost ten times the line size.
        self.main = bytearray()  # the open file's lines not yet written
        self.tail = bytearray()  # re-deliveries for the end of the open file
        self.pending: dict[int, bytearray] = {}  # lines for files not yet open
        self.by_type: dict[str, int] = {}
        self.by_malformed: dict[str, int] = {}
        self.files: list[Path] = []
        self.lines = self.late = self.duplicates = self.conflicts = self.malformed = 0
        self.invalid = self.unknown = self.blank = 0
        self.fh: Any = None
        self.raw: Any = None

    # ------------------------------------------------------------ files

    def open_day(self, day: int) -> None:
        date = self.config.start_date + datetime.timedelta(days=day)
        path = self.out_dir / f"events-{date.isoformat()}.ndjson{'.gz' if self.config.gzip else ''}"
        self.raw = path.open("wb")
        self.fh = (
            gzip.GzipFile(
                filename="", mode="wb", fileobj=self.raw, compresslevel=GZIP_LEVEL, mtime=0
            )
            if self.config.gzip
            else self.raw
        )
        self.files.append(path)
        self.cur_day = day
        self.main += self.pending.pop(day, b"")

    def flush(self) -> None:
        if self.main:
            self.fh.write(self.main)
            self.lines += self.main.count(b"\n")
            self.main.clear()

    def close_day(self) -> None:
        self.main += self.tail
        self.tail.clear()
        self.flush()
        if self.fh is not self.raw:
            self.fh.close()
        self.raw.close()

    def put(self, day: int, line: bytes) -> None:
        if day == self.cur_day:
            self.main += line
            if len(self.main) >= _CHUNK_BYTES:
                self.flush()
        else:
            self._later(day, line)

    def _later(self, day: int, line: bytes) -> None:
        buf = self.pending.get(day)
        if buf is None:
            self.pending[day] = buf = bytearray()
        buf += line

    def put_copy(self, day: int, line: bytes) -> None:
        """A re-delivery of a line landing on `day`: later in the same file, or in a later one."""
        r = self.rng.random
        if r() < 0.2 and day + 2 <= self.last_day:
            day += 1 + (r() < 0.3)
        if day == self.cur_day:
            self.tail += line
        else:
            self._later(day, line)

    # ------------------------------------------------------------ events

    def make_emit(self) -> Any:
        w, clock = self, self.clock
        local, minutes, minute, secms = clock.local, clock.minutes, clock.minute, clock.secms
        er, getrandbits = self.rng.random, self.rng.getrandbits
        dumps, main, by_type, put = orjson.dumps, self.main, self.by_type, self.put
        nl, extend = orjson.OPT_APPEND_NEWLINE, self.main.extend
        end_ms, rare, rare_path = self.world.end_ms, self.cuts[-1], self.rare
        offsets = REGION_OFFSETS

        def emit(p: Player, etype: str, t: int, payload: dict[str, Any], trace: str | None) -> None:
            if t >= end_ms:
                return  # has not happened yet when the period ends
            h = "%032x" % ((getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
            ev: dict[str, Any] = {
                "event_id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
                "event_type": etype,
            }
            u = er()
            if u < 0.01:  # a producer stamping local time with its offset
                offs = offsets[p.region]
                off = offs[int(u * 100 * len(offs))]
                sign, a = ("+", off) if off >= 0 else ("-", -off)
                ev["occurred_at"] = f"{local(t + off * 60_000)}{sign}{a // 60:02d}:{a % 60:02d}"
            else:
                m, rem = divmod(t, 60_000)
                ev["occurred_at"] = (minutes.get(m) or minute(m)) + secms[rem] + "Z"
            u = er()
            if u < 0.95:
                lag = 50 + int((u - 0.005) * 5240) if u >= 0.005 else 60_000 + int(u * 1.6e8)
                m, rem = divmod(t + lag, 60_000)
                ev["ingested_at"] = (minutes.get(m) or minute(m)) + secms[rem] + "Z"
            ev["tenant_id"] = p.tenant
            ev["region"] = p.region
            ev["player_id"] = p.pid
            if trace is not None:
                ev["trace_id"] = trace
            ev["schema_version"] = p.ver
            ev["payload"] = payload
            by_type[etype] = by_type.get(etype, 0) + 1
            u = er()
            if u < rare:
                rare_path(ev, p, t, u)
                return
            day = t // DAY_MS
            if day == w.cur_day:
                extend(dumps(ev, option=nl))
                if len(main) >= _CHUNK_BYTES:
                    w.flush()
            else:
                put(day, dumps(ev, option=nl))

        return emit

    def rare(self, ev: dict[str, Any], p: Player, t: int, u: float) -> None:
        cuts, r = self.cuts, self.rng.random
        day = t // DAY_MS
        line = orjson.dumps(ev, option=_NL)
        if u < cuts[0]:
            self.late += 1
            self.put(day + _LATE_DAYS[int(r() * len(_LATE_DAYS))], line)
            return
        self.put(day, line)
        if u < cuts[1]:
            self.duplicates += 1
            self.put_copy(day, line)
        elif u < cuts[2]:
            self.conflicts += 1
            self.put_copy(day, orjson.dumps(self._altered(ev), option=_NL))
        elif u < cuts[3]:
            kind, bad = self._malformed(ev)
            self.malformed += 1
            self.by_malformed[kind] = self.by_malformed.get(kind, 0) + 1
            self.put(day, bad + b"\n")
        elif u < cuts[5]:
            if u < cuts[4]:
                self.invalid += 1
                etype, payload = self._invalid_payload(p)
            else:
                self.unknown += 1
                etype, payload = self._unknown_payload()
            t2 = t + 1 + int(r() * 500)
            if t2 >= self.world.end_ms:
                t2 = t
            extra = self._envelope(ev, etype, t2, payload)
            self.by_type[etype] = self.by_type.get(etype, 0) + 1
            self.put(t2 // DAY_MS, orjson.dumps(extra, option=_NL))
        else:
            self.blank += 1
            self.put(day, b"\n")

    def _envelope(
        self, base: dict[str, Any], etype: str, t: int, payload: dict[str, Any]
    ) -> dict[str, Any]:
        ev = {
            "event_id": _uuid(self.rng.getrandbits),
            "event_type": etype,
            "occurred_at": self.clock.local(t) + "Z",
            "ingested_at": self.clock.local(t + 200) + "Z",
        }
        for key in ("tenant_id", "region", "player_id"):
            ev[key] = base[key]
        ev["schema_version"] = base["schema_version"]
        ev["payload"] = payload
        return ev

    def _altered(self, ev: dict[str, Any]) -> dict[str, Any]:
        """The same event_id with different content: a changed number or an extra field."""
        payload = dict(ev["payload"])
        for key in (
            "amount_minor",
            "stake_minor",
            "win_minor",
            "amount",
            "points",
            "change",
            "delta",
        ):
            if isinstance(payload.get(key), int) and not isinstance(payload[key], bool):
                payload[key] += 1 + int(self.rng.random() * 9)
                break
        else:
            payload["revision"] = 2
        return {**ev, "payload": payload}

    def _malformed(self, ev: dict[str, Any]) -> tuple[str, bytes]:
        r, rng = self.rng.random, self.rng
        kind = MALFORMED_KINDS[int(r() * len(MALFORMED_KINDS))]
        bad = {**ev, "event_id": _uuid(rng.getrandbits)}
        if kind == "truncated":
            line = orjson.dumps(bad)
            return kind, line[: 10 + int(r() * (len(line) - 11))]
        if kind == "not_object":
            return kind, (b"[1,2]", b'"bet.placed"', b"42", b"null", b"[]")[int(r() * 5)]
        if kind == "missing_field":
            del bad[_REQUIRED[int(r() * len(_REQUIRED))]]
        elif kind == "empty_field":
            bad[("event_id", "event_type", "tenant_id", "region", "player_id")[int(r() * 5)]] = ""
        elif kind == "bad_timestamp":
            bad["occurred_at"] = (
                "yesterday",
                "2026-13-45T25:61:00Z",
                "not a timestamp",
                "1767225600",
            )[int(r() * 4)]
        elif kind == "naive_timestamp":
            occ = bad["occurred_at"]
            bad["occurred_at"] = occ[:-1] if occ.endswith("Z") else occ[:-6]
        elif kind == "schema_major":
            bad["schema_version"] = ("2.0.0", "2.1.0")[int(r() * 2)]
        elif kind == "payload_not_object":
            bad["payload"] = ([1, 2], "bet", 17, True)[int(r() * 4)]
        else:
            bad["event_id"] = f"{_uuid(rng.getrandbits)}-{_uuid(rng.getrandbits)}"
            assert len(bad["event_id"]) > MAX_EVENT_ID_LENGTH
        return kind, orjson.dumps(bad)

    def _invalid_payload(self, p: Player) -> tuple[str, dict[str, Any]]:
        r, rng = self.rng.random, self.rng
        games = self.world.games
        game = games[int(r() * len(games))]
        stake: Any = (10, 50, 100, 200)[int(r() * 4)] * p.scale
        bet = {
            "bet_id": f"b_{rng.getrandbits(64):016x}",
            "game_id": game.game_id,
            "provider_id": game.provider_id,
            "stake_minor": stake,
            "currency": p.currency,
            "in_bonus": False,
        }
        kind = int(r() * 7)
        if kind == 0:
            bet["stake_minor"] = -stake
        elif kind == 1:
            bet["stake_minor"] = stake + 0.5
        elif kind == 2:
            del bet["bet_id"]
        elif kind == 3:
            bet["currency"] = _BAD_CURRENCIES[int(r() * 3)]
        if kind <= 3:
            return ("bet.placed" if kind != 2 else "bet.settled"), (
                bet if kind != 2 else {**bet, "win_minor": 0}
            )
        if kind == 4:
            return "wallet.debit", {
                "amount_minor": -stake,
                "currency": p.currency,
                "reason": "bet",
                "reference_id": bet["bet_id"],
            }
        if kind == 5:
            return "payment.captured", {
                "payment_id": f"pay_{rng.getrandbits(64):016x}",
                "amount_minor": 1000 * p.scale,
                "currency": _BAD_CURRENCIES[int(r() * 3)],
                "method": "card",
            }
        return "bet.settled", {**bet, "stake_minor": stake + 0.25, "win_minor": 0}

    def _unknown_payload(self) -> tuple[str, dict[str, Any]]:
        r = self.rng.random
        etype = _UNKNOWN_TYPES[int(r() * len(_UNKNOWN_TYPES))]
        return etype, {"ref": f"x_{int(r() * 1000)}", "value": int(r() * 100)}


def _world(config: GeneratorConfig) -> World:
    return World(
        seed=config.seed, days=config.days, brands=config.brands, start_date=config.start_date
    )


def players_for_target(config: GeneratorConfig) -> int:
    """The number of players whose events come closest to `config.events_target`.

    A dry run counts the events of the first players exactly (a player's events do not depend on
    the other players); beyond `_CALIBRATION_PLAYERS` it extrapolates from their mean.
    """
    assert config.events_target is not None
    target = config.events_target / (1 + config.invalid_payload_rate + config.unknown_type_rate)
    world = _world(config)
    end_ms = world.end_ms
    count = [0]

    def emit(p: Player, etype: str, t: int, payload: dict[str, Any], trace: str | None) -> None:
        if t < end_ms:
            count[0] += 1

    world.emit = emit
    for i in range(_CALIBRATION_PLAYERS):
        before = count[0]
        p = world.make_player(i)
        for d in range(p.reg_day, config.days):
            if world.is_active(p, d):
                world.player_day(p, d)
        if count[0] >= target:
            return i + 1 if count[0] - target <= target - before or i == 0 else i
    return max(1, round(_CALIBRATION_PLAYERS * target / max(count[0], 1)))


def generate(
    config: GeneratorConfig, out_dir: Path, *, progress: bool = False
) -> GenerationSummary:
    """Write the event files for `config` into `out_dir` (created if missing).

    Files of the same names are overwritten; other files in `out_dir` are left alone.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_players = config.players if config.events_target is None else players_for_target(config)
    world = _world(config)
    writer = _Writer(config, world, out_dir)
    world.emit = writer.make_emit()
    players = [world.make_player(i) for i in range(n_players)]
    is_active, player_day = world.is_active, world.player_day
    days = tqdm(
        range(config.days), desc="generating", unit="day", file=sys.stderr, disable=not progress
    )
    for d in days:
        writer.open_day(d)
        for p in players:
            if p.reg_day <= d and is_active(p, d):
                player_day(p, d)
        writer.close_day()
        if progress:
            days.set_postfix(events=sum(writer.by_type.values()), refresh=False)
    for d in sorted(writer.pending):  # late events landing after the period
        writer.open_day(d)
        writer.close_day()
    return GenerationSummary(
        files=writer.files,
        lines=writer.lines,
        events=sum(writer.by_type.values()),
        duplicates=writer.duplicates,
        malformed=writer.malformed,
        late=writer.late,
        by_type=dict(sorted(writer.by_type.items())),
        seconds=time.perf_counter() - started,
        players=n_players,
        conflicts=writer.conflicts,
        invalid_payload=writer.invalid,
        unknown_type=writer.unknown,
        blank_lines=writer.blank,
        by_malformed_kind=dict(sorted(writer.by_malformed.items())),
    )
