"""A small, hand-computed warehouse for the API tests, and a real API server on loopback.

Two brands. brand-1 (region EU): players p1, p2, p3, registered on 2026-03-01 (D1); brand-2
(region US): q1, registered on D1, and a p1 of its own (the same id, another player). The last
day with data is 2026-03-08 (D8, p2's bet.placed). Every figure the tests expect is computed
by hand from the events below, in the tests' comments.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from api.clients import create_client
from orchestration.marts import gold_grains, gold_marts
from tests.events import at, build, event, land_events
from warehouse.dbt import target_path
from warehouse.publish import publish

D1 = "2026-03-01"
B1 = {"brand": "brand-1", "region": "EU"}
B2 = {"brand": "brand-2", "region": "US"}


def _bet(
    bet_id: str,
    player: str,
    when: str,
    game: str,
    provider: str,
    stake: int,
    win: int,
    currency: str,
    brand: dict[str, str],
) -> list[dict[str, Any]]:
    money = {
        "bet_id": bet_id,
        "game_id": game,
        "provider_id": provider,
        "stake_minor": stake,
        "currency": currency,
        "in_bonus": False,
    }
    placed_at = at(when, seconds=-30)
    return [
        event("bet.placed", placed_at, player=player, **brand, **money),
        event("bet.settled", when, player=player, **brand, **money, win_minor=win),
    ]


def _payment(
    step: str, payment: str, player: str, when: str, brand: dict[str, str], **extra: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {"payment_id": payment, "method": "card"}
    if step != "payment.failed":
        fields.update(amount_minor=5000, currency="EUR")
    return event(step, when, player=player, **brand, **fields, **extra)


def _credit(player: str, when: str, reason: str, reference: str) -> dict[str, Any]:
    return event(
        "wallet.credit",
        when,
        player=player,
        **B1,
        amount_minor=5000,
        currency="EUR",
        reason=reason,
        reference_id=reference,
    )


def _award(
    player: str, when: str, points: int, minutes: float, brand: dict[str, str], task: str = "t1"
) -> dict[str, Any]:
    return event(
        "points.awarded",
        when,
        player=player,
        **brand,
        game_id="g1",
        task_id=task,
        points=points,
        minutes=minutes,
    )


def events() -> list[dict[str, Any]]:
    d1, d2, d3, d8 = "2026-03-01 ", "2026-03-02 ", "2026-03-03 ", "2026-03-08 "
    rows: list[dict[str, Any]] = []
    for player in ("p1", "p2", "p3"):
        rows.append(event("player.registered", d1 + "08:00:00", player=player, **B1))
    rows.append(event("player.registered", d1 + "08:00:00", player="q1", **B2))
    # bets (settled at the given time, placed 30 s earlier)
    rows += _bet("b1", "p1", d1 + "10:01:30", "g1", "pA", 1000, 500, "EUR", B1)
    rows += _bet("b2", "p2", d1 + "10:03:00", "g1", "pA", 2000, 1500, "EUR", B1)
    rows += _bet("b3", "p1", d1 + "10:07:00", "g2", "pB", 3000, 0, "EUR", B1)
    rows += _bet("b4", "p3", d1 + "10:08:00", "g2", "pB", 500, 1000, "USD", B1)
    rows += _bet("b5", "p1", d2 + "12:00:00", "g1", "pA", 400, 100, "EUR", B1)
    rows += _bet("c1", "q1", d1 + "10:02:00", "g1", "pA", 7000, 7000, "EUR", B2)
    rows += _bet("c2", "q1", d1 + "10:06:00", "g3", "pC", 9000, 1000, "EUR", B2)
    # p2's bet on D8: placed, never settled; the last day with data
    rows.append(
        event(
            "bet.placed",
            d8 + "09:00:00",
            player="p2",
            **B1,
            bet_id="b6",
            game_id="g1",
            provider_id="pA",
            stake_minor=100,
            currency="EUR",
            in_bonus=False,
        )
    )
    # payments and deposit credits (the funnel)
    rows += [
        _payment("payment.intent", "pay1", "p1", d1 + "10:00:00", B1),
        _payment("payment.authorized", "pay1", "p1", d1 + "10:01:00", B1),
        _payment("payment.captured", "pay1", "p1", d1 + "10:02:00", B1),
        _credit("p1", d1 + "10:03:00", "deposit", "pay1"),
        _payment("payment.authorized", "pay2", "p2", d1 + "10:59:00", B1),  # before its intent
        _payment("payment.intent", "pay2", "p2", d1 + "11:00:00", B1),
        _payment("payment.captured", "pay2", "p2", d1 + "11:01:00", B1),
        _payment("payment.intent", "pay3", "p3", d1 + "12:00:00", B1),
        _payment("payment.authorized", "pay3", "p3", d1 + "12:30:00", B1),
        _payment("payment.authorized", "pay3", "p3", d1 + "12:40:00", B1),  # repeated step
        _credit("p3", d1 + "12:50:00", "bonus", "bonus-1"),  # not a deposit
        _payment("payment.captured", "pay3", "p3", d1 + "13:00:00", B1),  # exactly at the window
        _credit("p3", d1 + "13:00:01", "deposit", "pay3"),  # one second past the window
        _payment("payment.intent", "pay4", "p1", d1 + "15:00:00", B1),  # p1 enters again
        _payment("payment.authorized", "pay4", "p1", d1 + "15:01:00", B1),
        _payment("payment.intent", "pay5", "p2", d1 + "16:00:00", B1),  # p2 enters again
        _payment("payment.authorized", "pay5", "p2", d1 + "16:01:00", B1),
        _payment("payment.intent", "qpay1", "q1", d1 + "10:00:00", B2),
        _payment("payment.authorized", "qpay1", "q1", d1 + "10:01:00", B2),
    ]
    # sessions: p1 30 minutes on D1, p2 10 minutes on D2
    rows += [
        event("session.started", d1 + "11:00:00", player="p1", **B1, session_id="s1"),
        event("session.ended", d1 + "11:30:00", player="p1", **B1, session_id="s1"),
        event("session.started", d2 + "10:00:00", player="p2", **B1, session_id="s2"),
        event("session.ended", d2 + "10:10:00", player="p2", **B1, session_id="s2"),
    ]
    # the game economy on D1
    rows += [
        event("credits.earn", d1 + "09:00:00", player="p1", **B1, amount=100),
        event("credits.spend", d1 + "09:10:00", player="p1", **B1, amount=40),
        event("pvp.battle", d1 + "09:20:00", player="p2", **B1),
        event("credits.earn", d1 + "09:00:00", player="q1", **B2, amount=999),
    ]
    # points: brand-1 p1 three awards on (g1, t1) on D2, p3 one on D3; brand-2's p1 one
    rows += [
        _award("p1", d2 + "09:00:00", 10, 0, B1),
        _award("p1", d2 + "09:00:30", 20, 10, B1),
        _award("p1", d2 + "09:02:00", -5, 20.5, B1),
        _award("p3", d3 + "08:00:00", 7, 5.5, B1),
        _award("p1", d2 + "09:00:10", 50, 0, B2),
    ]
    return rows


def build_and_publish(url: str, landing: Path, run_id: str, *select: str) -> int:
    """dbt (models and seeds, no tests: the marts' tests have their own modules) and one
    publication of every gold mart; the publication's id."""
    build(url, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", *select)
    manifest = target_path() / "manifest.json"
    with psycopg.connect(url, autocommit=True) as conn:
        return publish(
            conn, gold_marts(manifest), run_id=run_id, keys=gold_grains(manifest)
        ).publication_id


def land(url: str, path: Path, rows: list[dict[str, Any]]) -> None:
    report = land_events(url, path, rows)
    assert not report.failed and report.total("quarantined") == 0, report
    assert report.total("landed") == len(rows), report


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str


def new_client(url: str, name: str, brands: list[str] | None) -> Credentials:
    with psycopg.connect(url, autocommit=True) as conn:
        made = create_client(conn, name, brands)
    return Credentials(made.client.client_id, made.secret)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    data = None
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status, got = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    body = json.loads(raw) if raw else None
    return Answer(status, {k.lower(): v for k, v in got.items()}, body)


def token_of(base: str, credentials: Credentials) -> str:
    answer = call(
        base,
        "POST",
        "/v1/oauth/token",
        form={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.secret,
        },
    )
    assert answer.status == 200, answer
    return str(answer.body["access_token"])
