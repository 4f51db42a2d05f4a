"""The event generator: determinism, the contract of docs/input-contract.md, realism, limits.

Pure Python, no database. Checks read the files the generator wrote and judge every line with an
independent reading of the contract (`_envelope_problem`, `_payload_problem`).
"""

from __future__ import annotations

import datetime
import gzip
import re
import tracemalloc
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import orjson
import pytest

from ingestion.catalog import CATALOG, CURRENCIES, MAX_EVENT_ID_LENGTH
from ingestion.generator import (
    MALFORMED_KINDS,
    GenerationSummary,
    GeneratorConfig,
    _uuid,
    generate,
)

REGION_CURRENCIES = {
    "EU": {"EUR"},
    "UK": {"GBP"},
    "LATAM": {"BRL", "MXN"},
    "NA": {"USD", "CAD"},
    "APAC": {"USD"},
}
# Rough EUR value of one minor unit, to add RTP up across currencies.
EUR_PER_UNIT = {"EUR": 1.0, "GBP": 1.17, "USD": 0.92, "CAD": 0.68, "BRL": 0.18, "MXN": 0.05}
REQUIRED = (
    "event_id",
    "event_type",
    "occurred_at",
    "tenant_id",
    "region",
    "player_id",
    "schema_version",
    "payload",
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})")
NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?")
UNSIGNED = ("stake_minor", "win_minor", "amount_minor", "fee_minor", "amount", "gems", "points")
NO_BREAKAGE = {
    "duplicate_rate": 0.0,
    "conflict_rate": 0.0,
    "late_rate": 0.0,
    "malformed_rate": 0.0,
    "invalid_payload_rate": 0.0,
    "unknown_type_rate": 0.0,
}


def _utc(ts: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(ts).astimezone(datetime.UTC)


def _envelope_problem(line: bytes) -> str | None:
    """What the loader would quarantine the line for (None: the line lands)."""
    if not line.strip():
        return "blank"
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "not_json"
    if not isinstance(ev, dict):
        return "not_object"
    if any(key not in ev for key in REQUIRED):
        return "missing_field"
    if any(not isinstance(ev[k], str) or not ev[k] for k in REQUIRED if k != "payload"):
        return "empty_field"
    if len(ev["event_id"]) > MAX_EVENT_ID_LENGTH:
        return "long_event_id"
    ts = ev["occurred_at"]
    if not RFC3339.fullmatch(ts):
        return "naive_timestamp" if NAIVE.fullmatch(ts) else "bad_timestamp"
    try:
        _utc(ts)
    except ValueError:
        return "bad_timestamp"
    if ev["schema_version"].split(".")[0] != "1":
        return "schema_major"
    if not isinstance(ev["payload"], dict):
        return "payload_not_object"
    return None


def _payload_problem(ev: dict[str, Any]) -> str | None:
    """What a data-quality model would flag in a landed event (None: fit for the marts)."""
    fields = CATALOG.get(ev["event_type"])
    if fields is None:
        return "unknown_type"
    payload = ev["payload"]
    for name in fields:
        if not name.endswith("?") and name not in payload:
            return f"missing {name}"
    for name in UNSIGNED:
        if name in payload:
            value = payload[name]
            if not isinstance(value, int) or isinstance(value, bool):
                return f"{name} not an integer"
            if value < 0:
                return f"{name} negative"
    for name in ("change", "delta"):
        if name in payload and type(payload[name]) is not int:
            return f"{name} not an integer"
    if "currency" in payload and payload["currency"] not in CURRENCIES:
        return "unknown currency"
    if "minutes" in payload and not (
        isinstance(payload["minutes"], int | float) and payload["minutes"] >= 0
    ):
        return "bad minutes"
    return None


@dataclass
class Line:
    file: int  # index in summary.files
    day: datetime.date  # the file's day
    raw: bytes
    problem: str | None
    ev: dict[str, Any] | None


@dataclass
class Run:
    config: GeneratorConfig
    summary: GenerationSummary
    lines: list[Line]

    @property
    def landed(self) -> list[Line]:
        return [ln for ln in self.lines if ln.problem is None]

    def first_copies(self) -> list[dict[str, Any]]:
        """Landed events, first copy of each event_id wins (file order, then line order)."""
        seen: dict[str, dict[str, Any]] = {}
        for ln in self.landed:
            assert ln.ev is not None
            seen.setdefault(ln.ev["event_id"], {**ln.ev, "_file_day": ln.day})
        return list(seen.values())


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _file_day(path: Path) -> datetime.date:
    m = re.fullmatch(r"events-(\d{4}-\d{2}-\d{2})\.ndjson(\.gz)?", path.name)
    assert m, path.name
    return datetime.date.fromisoformat(m.group(1))


def _run(config: GeneratorConfig, out: Path, only: bytes | None = None) -> Run:
    summary = generate(config, out)
    lines = []
    for i, path in enumerate(summary.files):
        day = _file_day(path)
        for raw in _read(path).split(b"\n")[:-1]:
            if only is not None and only not in raw:
                continue
            problem = _envelope_problem(raw)
            lines.append(Line(i, day, raw, problem, orjson.loads(raw) if problem is None else None))
    return Run(config, summary, lines)


# Breakage rates raised so that a small run has enough of each kind to count.
SMALL = GeneratorConfig(
    players=300,
    days=10,
    seed=7,
    duplicate_rate=0.02,
    conflict_rate=0.005,
    late_rate=0.02,
    malformed_rate=0.005,
    invalid_payload_rate=0.003,
    unknown_type_rate=0.002,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(SMALL, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """No deliberate breakage at all: every line must be a valid event of the contract."""
    config = GeneratorConfig(players=300, days=10, seed=11, gzip=False, **NO_BREAKAGE)
    return _run(config, tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A month of 2,000 players; only the lines the checks need are parsed."""
    config = GeneratorConfig(players=2000, days=30, seed=3, gzip=False)
    wanted = (b'"bet.settled"', b'"bet.placed"', b'"player.registered"', b'"affinity.triggered"')
    out = tmp_path_factory.mktemp("large")
    summary = generate(config, out)
    lines = []
    for i, path in enumerate(summary.files):
        for raw in path.read_bytes().split(b"\n"):
            if any(w in raw for w in wanted) and _envelope_problem(raw) is None:
                lines.append(Line(i, _file_day(path), raw, None, orjson.loads(raw)))
    return Run(config, summary, lines)


# ---------------------------------------------------------------- determinism and files


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    config = GeneratorConfig(players=120, days=4, seed=5)
    a = generate(config, tmp_path / "a")
    b = generate(config, tmp_path / "b")
    c = generate(GeneratorConfig(players=120, days=4, seed=6), tmp_path / "c")
    assert [p.name for p in a.files] == [p.name for p in b.files]
    assert len(a.files) >= 4
    for pa, pb in zip(a.files, b.files, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    by_name = {p.name: p for p in c.files}
    for pa in a.files[:4]:
        assert _read(pa) != _read(by_name[pa.name]), pa.name


def test_gzip_output_is_deterministic_and_equals_the_plain_output(tmp_path: Path) -> None:
    gz = generate(GeneratorConfig(players=80, days=3, seed=9), tmp_path / "gz")
    plain = generate(GeneratorConfig(players=80, days=3, seed=9, gzip=False), tmp_path / "plain")
    assert all(p.name.endswith(".ndjson.gz") for p in gz.files)
    assert all(p.name.endswith(".ndjson") for p in plain.files)
    for pg, pp in zip(gz.files, plain.files, strict=True):
        header = pg.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] == 0, "no file name (or other optional field) in the gzip header"
        assert header[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
        assert gzip.decompress(pg.read_bytes()) == pp.read_bytes()
    assert (gz.lines, gz.events, gz.by_type) == (plain.lines, plain.events, plain.by_type)


def test_one_file_per_day_named_by_date(small: Run) -> None:
    days = [_file_day(p) for p in small.summary.files]
    start = SMALL.start_date
    assert days[: SMALL.days] == [start + datetime.timedelta(days=d) for d in range(SMALL.days)]
    # files after the period only hold late arrivals
    assert all(d > days[SMALL.days - 1] for d in days[SMALL.days :])
    assert days == sorted(set(days))


def test_uuid_helper_matches_the_uuid_module() -> None:
    for seed in range(20):
        fast = _uuid(Random(seed).getrandbits)
        assert fast == str(uuid.UUID(int=Random(seed).getrandbits(128), version=4))


# ---------------------------------------------------------------- envelope and counts


def test_summary_counts_match_the_files(small: Run) -> None:
    s = small.summary
    problems = Counter(ln.problem for ln in small.lines)
    assert len(small.lines) == s.lines
    assert problems["blank"] == s.blank_lines > 0
    assert sum(n for k, n in problems.items() if k not in (None, "blank")) == s.malformed > 0
    firsts = small.first_copies()
    assert len(firsts) == s.events == sum(s.by_type.values())
    assert Counter(e["event_type"] for e in firsts) == Counter(s.by_type)
    assert s.lines == s.events + s.duplicates + s.conflicts + s.malformed + s.blank_lines
    assert s.players == SMALL.players and s.seconds > 0


def test_every_catalog_type_appears(small: Run) -> None:
    seen = Counter(e["event_type"] for e in small.first_copies())
    missing = [t for t in CATALOG if seen[t] == 0]
    assert not missing, missing


def test_envelope_fields(small: Run) -> None:
    firsts = small.first_copies()
    offsets = ingested = traced = 0
    brands = {f"brand-{i + 1}" for i in range(SMALL.brands)}
    for ev in firsts:
        assert str(uuid.UUID(ev["event_id"])) == ev["event_id"]
        assert uuid.UUID(ev["event_id"]).version == 4
        assert ev["tenant_id"] in brands
        assert ev["region"] in REGION_CURRENCIES
        assert re.fullmatch(r"p_[0-9a-f]{8}", ev["player_id"]), ev["player_id"]
        assert ev["schema_version"] in ("1.0.0", "1.2.0")
        offsets += not ev["occurred_at"].endswith("Z")
        if "ingested_at" in ev:
            ingested += 1
            assert ev["ingested_at"].endswith("Z")
            lag = (_utc(ev["ingested_at"]) - _utc(ev["occurred_at"])).total_seconds()
            assert 0 < lag <= 900, ev
        traced += "trace_id" in ev
    n = len(firsts)
    assert 0.003 < offsets / n < 0.03
    assert 0.93 < ingested / n < 0.97
    assert 0.2 < traced / n < 0.95
    versions = Counter(ev["schema_version"] for ev in firsts)
    assert versions["1.2.0"] > 0.05 * n and versions["1.0.0"] > 0.5 * n


def test_no_event_lands_before_its_utc_day_and_offsets_are_converted(small: Run) -> None:
    crossing = 0  # offset timestamps whose local date differs from the UTC date
    for ln in small.landed:
        assert ln.ev is not None
        occurred = ln.ev["occurred_at"]
        gap = (ln.day - _utc(occurred).date()).days
        assert 0 <= gap <= 5, (ln.day, occurred)
        if not occurred.endswith("Z") and occurred[:10] != _utc(occurred).date().isoformat():
            crossing += 1
    assert crossing > 0, "no offset timestamp crosses a date line: the check is not exercised"


def test_malformed_lines_cover_every_class(tmp_path: Path) -> None:
    config = GeneratorConfig(players=60, days=3, seed=2, malformed_rate=0.05, gzip=False)
    run = _run(config, tmp_path)
    problems = Counter(ln.problem for ln in run.lines if ln.problem is not None)
    assert set(problems) == {
        "blank",
        "not_json",
        "not_object",
        "missing_field",
        "empty_field",
        "bad_timestamp",
        "naive_timestamp",
        "schema_major",
        "payload_not_object",
        "long_event_id",
    }
    assert set(run.summary.by_malformed_kind) == set(MALFORMED_KINDS)
    assert problems["blank"] == run.summary.blank_lines
    assert problems.total() - problems["blank"] == run.summary.malformed
    assert 0.035 < run.summary.malformed / run.summary.events < 0.065


def test_invalid_payloads_and_unknown_types(small: Run) -> None:
    flagged = Counter(_payload_problem(ev) for ev in small.first_copies())
    unknown = flagged.pop("unknown_type", 0)
    flagged.pop(None)
    assert unknown == small.summary.unknown_type > 0
    assert flagged.total() == small.summary.invalid_payload > 0
    kinds = " ".join(flagged)
    for expected in ("negative", "not an integer", "missing bet_id", "unknown currency"):
        assert expected in kinds, (expected, flagged)
    unknown_types = {e["event_type"] for e in small.first_copies()} - set(CATALOG)
    assert unknown_types and all("." in t for t in unknown_types)


# ---------------------------------------------------------------- breakage that lands


def test_duplicates_are_exact_copies_at_about_the_rate(small: Run) -> None:
    copies = Counter(ln.raw for ln in small.landed)
    extra = sum(n - 1 for n in copies.values())
    assert extra == small.summary.duplicates
    assert 0.7 < extra / small.summary.events / SMALL.duplicate_rate < 1.3
    files_of: dict[bytes, list[int]] = defaultdict(list)
    for ln in small.landed:
        if copies[ln.raw] > 1:
            files_of[ln.raw].append(ln.file)
    same = sum(len(set(f)) == 1 for f in files_of.values())
    later = sum(len(set(f)) > 1 for f in files_of.values())
    assert same > later > 0, (same, later)


def test_conflicts_share_the_event_id_with_different_content(small: Run) -> None:
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for ln in small.landed:
        assert ln.ev is not None
        by_id[ln.ev["event_id"]].add(ln.raw)
    conflicting = {k: v for k, v in by_id.items() if len(v) > 1}
    assert len(conflicting) == small.summary.conflicts > 0
    assert 0.5 < len(conflicting) / small.summary.events / SMALL.conflict_rate < 1.5
    for variants in conflicting.values():
        a, b = (orjson.loads(v) for v in variants)
        assert a["payload"] != b["payload"]
        assert {k: v for k, v in a.items() if k != "payload"} == {
            k: v for k, v in b.items() if k != "payload"
        }


def test_late_events_land_one_to_five_days_later(small: Run) -> None:
    gaps = Counter(
        (e["_file_day"] - _utc(e["occurred_at"]).date()).days for e in small.first_copies()
    )
    late = sum(n for gap, n in gaps.items() if gap > 0)
    assert late == small.summary.late
    assert 0.7 < late / small.summary.events / SMALL.late_rate < 1.3
    assert set(gaps) <= {0, 1, 2, 3, 4, 5}
    assert gaps[1] > gaps[3] > 0 and gaps[4] + gaps[5] > 0


# ---------------------------------------------------------------- payload realism


def test_money_is_integer_and_currency_matches_the_region(clean: Run) -> None:
    assert len(clean.lines) == clean.summary.events == clean.summary.lines
    currency_of: dict[str, str] = {}
    identity: dict[str, tuple[str, str]] = {}
    for ln in clean.lines:
        ev = ln.ev
        assert ev is not None
        assert _payload_problem(ev) is None, ev
        pid, payload = ev["player_id"], ev["payload"]
        assert identity.setdefault(pid, (ev["tenant_id"], ev["region"])) == (
            ev["tenant_id"],
            ev["region"],
        )
        for key, value in payload.items():
            if key.endswith("_minor"):
                assert type(value) is int and value >= 0, ev
        if "currency" in payload:
            assert payload["currency"] in REGION_CURRENCIES[ev["region"]], ev
            assert currency_of.setdefault(pid, payload["currency"]) == payload["currency"]
    assert len(identity) == clean.config.players
    assert b"@" not in b"".join(ln.raw for ln in clean.lines)


def test_every_player_registers_in_the_period_before_anything_else(clean: Run) -> None:
    first_reg: dict[str, datetime.datetime] = {}
    first_any: dict[str, datetime.datetime] = {}
    for ln in clean.lines:
        assert ln.ev is not None
        t, pid = _utc(ln.ev["occurred_at"]), ln.ev["player_id"]
        first_any[pid] = min(first_any.get(pid, t), t)
        if ln.ev["event_type"] == "player.registered":
            first_reg[pid] = min(first_reg.get(pid, t), t)
    assert set(first_reg) == set(first_any)
    start = datetime.datetime.combine(clean.config.start_date, datetime.time(), datetime.UTC)
    end = start + datetime.timedelta(days=clean.config.days)
    assert all(start <= t < end for t in first_reg.values())
    assert all(first_reg[p] == first_any[p] for p in first_reg)
    reg_days = Counter(t.date() for t in first_reg.values())
    assert len(reg_days) == clean.config.days, "registrations spread over every day"


def test_bets_settle_after_their_placement_with_the_same_facts(clean: Run) -> None:
    placed = {}
    settled = []
    for ln in clean.lines:
        ev = ln.ev
        assert ev is not None
        if ev["event_type"] == "bet.placed":
            placed[ev["payload"]["bet_id"]] = ev
        elif ev["event_type"] == "bet.settled":
            settled.append(ev)
    assert len(settled) > 1000
    lags = []
    for s in settled:
        p = placed[s["payload"]["bet_id"]]
        for key in ("game_id", "provider_id", "stake_minor", "currency", "in_bonus"):
            assert p["payload"][key] == s["payload"][key]
        assert p["player_id"] == s["player_id"]
        lag = (_utc(s["occurred_at"]) - _utc(p["occurred_at"])).total_seconds()
        assert lag >= 0
        lags.append(lag)
    lags.sort()
    assert lags[len(lags) // 2] < 10, "settle lag is mostly seconds"
    assert lags[-1] > 300, "a few settle much later"
    games = {s["payload"]["game_id"] for s in settled}
    providers = {s["payload"]["provider_id"] for s in settled}
    assert len(games) > 50 and len(providers) == 15
    assert any(s["payload"]["in_bonus"] for s in settled)
    # a wallet debit per bet, a win credit per non-zero win
    wallet = Counter(
        (ln.ev["event_type"], ln.ev["payload"]["reason"], ln.ev["payload"]["reference_id"])
        for ln in clean.lines
        if ln.ev is not None and ln.ev["event_type"].startswith("wallet.")
    )
    for bet_id in placed:
        assert wallet["wallet.debit", "bet", bet_id] == 1
    for s in settled:
        wins = wallet["wallet.credit", "win", s["payload"]["bet_id"]]
        assert wins == (1 if s["payload"]["win_minor"] > 0 else 0)


def test_deposit_funnel(clean: Run) -> None:
    steps: dict[str, dict[str, datetime.datetime]] = defaultdict(dict)
    captured_fee: list[tuple[int, int | None]] = []
    credits = []
    for ln in clean.lines:
        ev = ln.ev
        assert ev is not None
        t, etype, payload = _utc(ev["occurred_at"]), ev["event_type"], ev["payload"]
        if etype.startswith("payment."):
            steps[payload["payment_id"]][etype] = t
            if etype == "payment.captured":
                captured_fee.append((payload["amount_minor"], payload.get("fee_minor")))
            if etype == "payment.failed":
                assert payload["error_code"]
        elif etype == "wallet.credit" and payload["reason"] == "deposit":
            credits.append((payload["reference_id"], t))
    for payment_id, t in credits:
        assert steps[payment_id]["payment.captured"] <= t
    count = Counter(k for s in steps.values() for k in s)
    assert count["payment.intent"] > count["payment.authorized"] > count["payment.captured"]
    assert count["payment.captured"] > len(credits) > 0
    assert count["payment.failed"] > 0
    slow = sum(
        any((t - s["payment.intent"]).total_seconds() > 3600 for t in s.values())
        for s in steps.values()
    )
    assert slow > 0, "some steps arrive more than an hour after the intent"
    with_fee = [(a, f) for a, f in captured_fee if f]
    assert len(with_fee) > 0.7 * len(captured_fee)
    assert all(0.01 <= f / a <= 0.04 for a, f in with_fee)


def test_sessions(clean: Run) -> None:
    started: dict[str, tuple[str, datetime.datetime]] = {}
    ended: dict[str, tuple[str, datetime.datetime]] = {}
    for ln in clean.lines:
        ev = ln.ev
        assert ev is not None
        if ev["event_type"] in ("session.started", "session.ended"):
            target = started if ev["event_type"] == "session.started" else ended
            target[ev["payload"]["session_id"]] = (ev["player_id"], _utc(ev["occurred_at"]))
    durations = []
    for sid, (pid, t) in ended.items():
        assert started[sid][0] == pid
        durations.append((t - started[sid][1]).total_seconds())
    assert min(durations) > 0 and max(durations) <= 3600
    assert 0.05 < sum(d < 60 for d in durations) / len(durations) < 0.3
    # sessions last at most an hour: one started earlier than that before the end should have ended
    end = datetime.datetime.combine(clean.config.start_date, datetime.time(), datetime.UTC)
    end += datetime.timedelta(days=clean.config.days, hours=-1)
    open_ = [sid for sid, (_, t) in started.items() if sid not in ended and t < end]
    assert 0 < len(open_) < 0.05 * len(started), "a few sessions never end"


def test_bonuses_follow_their_issue_and_jackpots_follow_bets(clean: Run) -> None:
    issued: dict[str, tuple[datetime.datetime, int, str]] = {}
    consumed = []
    bet_games: dict[str, set[str]] = defaultdict(set)
    jackpots = []
    first_bonus: dict[str, datetime.datetime] = {}
    in_bonus_bets = []
    for ln in clean.lines:
        ev = ln.ev
        assert ev is not None
        t, etype, payload = _utc(ev["occurred_at"]), ev["event_type"], ev["payload"]
        if etype == "bonus.issued":
            issued[payload["bonus_id"]] = (t, payload["amount_minor"], ev["player_id"])
            first_bonus[ev["player_id"]] = min(first_bonus.get(ev["player_id"], t), t)
        elif etype == "bonus.consumed":
            consumed.append((payload["bonus_id"], t, payload["amount_minor"], ev["player_id"]))
        elif etype == "bet.placed":
            bet_games[ev["player_id"]].add(payload["game_id"])
            if payload["in_bonus"]:
                in_bonus_bets.append((ev["player_id"], t))
        elif etype == "jackpot.contribution":
            jackpots.append((ev["player_id"], payload["game_id"], payload["amount_minor"]))
    assert consumed and len(consumed) < len(issued)
    for bonus_id, t, amount, player in consumed:
        t_issued, amount_issued, issued_to = issued[bonus_id]
        assert t > t_issued and 0 < amount <= amount_issued and player == issued_to
    assert in_bonus_bets
    for player, t in in_bonus_bets:
        assert first_bonus[player] <= t
    assert jackpots
    for player, game, amount in jackpots:
        assert game in bet_games[player] and amount > 0


def test_economy_points_and_affinity_payloads(clean: Run) -> None:
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ln in clean.lines:
        assert ln.ev is not None
        by_type[ln.ev["event_type"]].append(ln.ev["payload"])
    minutes = [p["minutes"] for p in by_type["points.awarded"]]
    assert any(m == 0 for m in minutes) and any(m != int(m) for m in minutes)
    tasks_per_game: dict[str, set[str]] = defaultdict(set)
    for p in by_type["points.awarded"]:
        tasks_per_game[p["game_id"]].add(p["task_id"])
    assert max(len(t) for t in tasks_per_game.values()) <= 5
    for p in by_type["gems.purchase"]:
        assert p["gems"] > 0 and p["amount_minor"] > 0
    triggers = by_type["affinity.triggered"]
    rules = Counter(p["rule_key"] for p in triggers)
    assert {"chat", "gift", "play", "decay"} <= set(rules)
    ranges = {"chat": (1, 3), "gift": (5, 10), "play": (2, 4), "decay": (-5, -1)}
    out_of_range = [
        p
        for p in triggers
        if p["rule_key"] in ranges
        and not ranges[p["rule_key"]][0] <= p["change"] <= ranges[p["rule_key"]][1]
    ]
    assert 0 < len(out_of_range) < 0.1 * len(triggers)
    assert {p["source"] for p in triggers} >= {"app", "server"}
    assert all(p["device_id"].startswith("dev_") for p in triggers)
    adjust = by_type["affinity.admin_adjust"]
    assert adjust and all(p["operator_admin_id"] and p["reason"] for p in adjust)


def test_triggers_after_unbinding(clean: Run) -> None:
    events = sorted(
        (
            ln.ev
            for ln in clean.lines
            if ln.ev is not None and ln.ev["event_type"].startswith(("device.", "affinity.trig"))
        ),
        key=lambda e: _utc(e["occurred_at"]),
    )
    bound: dict[str, bool] = {}
    after_unbind = 0
    for ev in events:
        device = ev["payload"]["device_id"]
        if ev["event_type"] == "device.bound":
            bound[device] = True
        elif ev["event_type"] == "device.unbound":
            bound[device] = False
        elif bound.get(device) is False:
            after_unbind += 1
    assert after_unbind > 0


def test_rtp_retention_and_rare_realism_on_a_month(large: Run) -> None:
    stake = win = 0.0
    zero = big = n = 0
    placed_day = {
        ln.ev["payload"]["bet_id"]: _utc(ln.ev["occurred_at"]).date()
        for ln in large.lines
        if ln.ev is not None
        and ln.ev["event_type"] == "bet.placed"
        and "bet_id" in ln.ev["payload"]
    }
    midnight = 0
    for ln in large.lines:
        ev = ln.ev
        assert ev is not None
        if ev["event_type"] == "bet.settled":
            day = placed_day.get(ev["payload"].get("bet_id"))  # None: an invalid payload
            midnight += day is not None and _utc(ev["occurred_at"]).date() > day
        if ev["event_type"] == "bet.settled" and _payload_problem(ev) is None:
            p = ev["payload"]
            rate = EUR_PER_UNIT[p["currency"]]
            stake += p["stake_minor"] * rate
            win += p["win_minor"] * rate
            n += 1
            zero += p["win_minor"] == 0
            big += p["win_minor"] >= 20 * p["stake_minor"]
    assert n > 40_000
    assert 0.85 <= win / stake <= 1.05
    assert 0.5 < zero / n < 0.8
    assert big > 0
    # rare (a bet placed in the last seconds of a day, or a delayed settlement): needs a month
    assert midnight > 0, "some bets settle after midnight"
    # retention: bet.placed on exactly day N after the registration day
    reg: dict[str, datetime.date] = {}
    regs = Counter()
    bets: dict[str, set[datetime.date]] = defaultdict(set)
    for e in large.first_copies():
        day = _utc(e["occurred_at"]).date()
        if e["event_type"] == "player.registered":
            regs[e["player_id"]] += 1
            reg[e["player_id"]] = min(reg.get(e["player_id"], day), day)
        elif e["event_type"] == "bet.placed":
            bets[e["player_id"]].add(day)
    assert len(reg) == large.config.players
    dup_regs = sum(n > 1 for n in regs.values())
    assert 0 < dup_regs < 0.01 * len(reg)
    last = large.config.start_date + datetime.timedelta(days=large.config.days - 1)

    def retained(offset: int) -> float:
        cohort = [p for p, d in reg.items() if d + datetime.timedelta(days=offset) <= last]
        hits = sum(reg[p] + datetime.timedelta(days=offset) in bets[p] for p in cohort)
        return hits / len(cohort)

    d0, d1, d7, d14 = retained(0), retained(1), retained(7), retained(14)
    assert d0 > d1 > d7 >= d14 > 0.01, (d0, d1, d7, d14)
    rules = Counter(
        e["payload"]["rule_key"]
        for e in large.first_copies()
        if e["event_type"] == "affinity.triggered"
    )
    assert set(rules) - {"chat", "gift", "play", "decay"}, "a rare unknown rule_key"


# ---------------------------------------------------------------- sizing and limits


@pytest.mark.parametrize(("target", "days", "seed"), [(3_000, 5, 1), (40_000, 14, 2)])
def test_events_target(tmp_path: Path, target: int, days: int, seed: int) -> None:
    config = GeneratorConfig(days=days, seed=seed, events_target=target, gzip=False, players=1)
    summary = generate(config, tmp_path)
    assert 0.9 * target <= summary.events <= 1.1 * target
    assert summary.players > 1


def test_peak_memory_does_not_grow_with_days(tmp_path: Path) -> None:
    peaks = {}
    events = {}
    for days in (4, 28):
        config = GeneratorConfig(players=150, days=days, seed=4, late_rate=0.05)
        tracemalloc.start()
        try:
            events[days] = generate(config, tmp_path / str(days)).events
            peaks[days] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert events[28] > 2 * events[4]
    assert peaks[28] < 1.3 * peaks[4] + 1_000_000, peaks
    assert peaks[28] < 24_000_000, peaks


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(GeneratorConfig(players=5, days=2), tmp_path, progress=True)
    captured = capsys.readouterr()
    assert "generating" in captured.err and captured.out == ""
    generate(GeneratorConfig(players=5, days=2), tmp_path / "quiet")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "bad",
    [
        {"players": -1},
        {"days": 0},
        {"brands": 0},
        {"late_rate": 1.5},
        {"duplicate_rate": -0.1},
        {"malformed_rate": 0.4, "late_rate": 0.3},
        {"events_target": 0},
    ],
)
def test_config_is_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GeneratorConfig(**bad)
