"""The analytics API as a client sees it: a real uvicorn server on loopback, a warehouse built
by dbt from the hand-made events of tests/api_fixture.py and published to gold, real row-level
security. Expected values are computed by hand in the comments.

Clients: `one` reads brand-1, `two` brand-2, `every` all brands.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.bench import TARGETS_MS, format_figures, run_api_bench
from api.clients import Client, list_clients, revoke_client
from api.context import Scoped
from api.queries import series
from api.queries.metrics import METRICS, ROLLUP
from api.server import RunningServer, start_in_thread
from api.tokens import sign
from tests.api_fixture import (
    B1,
    Answer,
    Credentials,
    _bet,
    build_and_publish,
    call,
    events,
    land,
    new_client,
    token_of,
)
from tests.events import query


@dataclass
class Api:
    url: str  # the warehouse
    server: RunningServer
    landing: Path
    one: Credentials
    two: Credentials
    every: Credentials
    tokens: dict[str, str]

    def get(self, path: str, who: str = "one", **params: object) -> Answer:
        return call(self.server.url, "GET", path, token=self.tokens[who], params=params or None)

    def post(self, path: str, body: object, who: str = "one") -> Answer:
        return call(self.server.url, "POST", path, token=self.tokens[who], json_body=body)


@pytest.fixture(scope="module")
def api(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url = module_warehouse_url
    landing = tmp_path_factory.mktemp("api_landing")
    land(url, landing / "events.ndjson", events())
    build_and_publish(url, landing, "api-run-1")
    one = new_client(url, "partner-one", ["brand-1"])
    two = new_client(url, "partner-two", ["brand-2"])
    every = new_client(url, "internal-bi", None)
    server = start_in_thread(url)
    try:
        tokens = {
            name: token_of(server.url, creds)
            for name, creds in (("one", one), ("two", two), ("every", every))
        }
        yield Api(url, server, landing, one, two, every, tokens)
    finally:
        server.stop()
        # roles belong to the server, not the database: leave none behind
        with psycopg.connect(url, autocommit=True) as conn:
            for client in list_clients(conn):
                if client.status == "active":
                    revoke_client(conn, client.name)


# -- authentication -------------------------------------------------------------------------------
def test_a_token_is_short_lived_and_required(api: Api) -> None:
    answer = call(
        api.server.url,
        "POST",
        "/v1/oauth/token",
        form={
            "grant_type": "client_credentials",
            "client_id": api.one.client_id,
            "client_secret": api.one.secret,
        },
    )
    assert answer.status == 200
    assert answer.body["token_type"] == "Bearer"
    assert 0 < answer.body["expires_in"] <= 900
    wrong = call(
        api.server.url,
        "POST",
        "/v1/oauth/token",
        form={
            "grant_type": "client_credentials",
            "client_id": api.one.client_id,
            "client_secret": api.one.secret + "x",
        },
    )
    assert wrong.status == 401 and wrong.body["error"] == "unauthorized"
    missing = call(api.server.url, "GET", "/v1/analytics/timeseries", params={"metric": "ggr"})
    assert missing.status == 401
    assert set(missing.body) == {"error", "detail"}


# -- timeseries -----------------------------------------------------------------------------------
SERIES = {
    "metric": "ggr",
    "granularity": "5m",
    "from": "2026-03-01T10:00:00Z",
    "to": "2026-03-01T10:10:00Z",
}


def test_timeseries_of_ggr_per_5_minutes_in_minor_units_per_currency(api: Api) -> None:
    answer = api.get("/v1/analytics/timeseries", **SERIES)
    assert answer.status == 200, answer.body
    # brand-1, bucket 10:00: b1 (1000 - 500) + b2 (2000 - 1500) = 1000 EUR;
    # bucket 10:05: b3 3000 - 0 = 3000 EUR, b4 500 - 1000 = -500 USD.
    assert answer.body == {
        "metric": "ggr",
        "granularity": "5m",
        "series": [
            {"ts": "2026-03-01T10:00:00Z", "currency": "EUR", "value_minor": 1000},
            {"ts": "2026-03-01T10:05:00Z", "currency": "EUR", "value_minor": 3000},
            {"ts": "2026-03-01T10:05:00Z", "currency": "USD", "value_minor": -500},
        ],
        "next_cursor": None,
    }
    assert answer.headers["cache-control"] == "private, max-age=60"
    assert answer.headers["etag"]
    # minor units are whole numbers, in the JSON text too (1000, not 1000.0)
    assert all(type(r["value_minor"]) is int for r in answer.body["series"])


def test_timeseries_by_brand_shows_a_brand_client_its_brand_only(api: Api) -> None:
    every = api.get("/v1/analytics/timeseries", "every", **SERIES, group_by="brand_id")
    # brand-2: 10:00 c1 7000 - 7000 = 0; 10:05 c2 9000 - 1000 = 8000
    assert [
        (r["ts"][11:16], r["brand_id"], r["currency"], r["value_minor"])
        for r in every.body["series"]
    ] == [
        ("10:00", "brand-1", "EUR", 1000),
        ("10:00", "brand-2", "EUR", 0),
        ("10:05", "brand-1", "EUR", 3000),
        ("10:05", "brand-1", "USD", -500),
        ("10:05", "brand-2", "EUR", 8000),
    ]
    one = api.get("/v1/analytics/timeseries", "one", **SERIES, group_by="brand_id,game_id")
    assert {r["brand_id"] for r in one.body["series"]} == {"brand-1"}
    two = api.get("/v1/analytics/timeseries", "two", **SERIES, group_by="brand_id")
    assert [(r["brand_id"], r["value_minor"]) for r in two.body["series"]] == [
        ("brand-2", 0),
        ("brand-2", 8000),
    ]


def test_another_brand_is_403_and_its_games_are_empty(api: Api) -> None:
    asked = api.get("/v1/analytics/timeseries", **SERIES, filters="brand_id:brand-2")
    assert asked.status == 403 and asked.body["error"] == "forbidden"
    # g3 is played in brand-2 only: brand-1's client sees nothing of it
    g3 = api.get("/v1/analytics/timeseries", **SERIES, filters="game_id:g3")
    assert g3.status == 200 and g3.body["series"] == []
    own = api.get("/v1/analytics/timeseries", **SERIES, filters="brand_id:brand-1,game_id:g1")
    assert [r["value_minor"] for r in own.body["series"]] == [1000]


def test_combinations_the_marts_cannot_answer_are_400_naming_what_is(api: Api) -> None:
    ngr = api.get("/v1/analytics/timeseries", **{**SERIES, "metric": "ngr"})
    assert ngr.status == 400
    assert ngr.body["detail"] == (
        "ngr at 5m is not available: ngr is served at granularity 1d by brand_id, region, currency"
    )
    by_game = api.get(
        "/v1/analytics/timeseries",
        metric="ngr",
        granularity="1d",
        group_by="game_id",
        **{"from": "2026-03-01", "to": "2026-03-02"},
    )
    assert by_game.status == 400 and "brand_id, region, currency" in by_game.body["detail"]
    unaligned = api.get("/v1/analytics/timeseries", **{**SERIES, "from": "2026-03-01T10:02:00Z"})
    assert unaligned.status == 400 and "5m boundaries" in unaligned.body["detail"]
    unknown = api.get("/v1/analytics/timeseries", **{**SERIES, "metric": "profit"})
    assert unknown.status == 400 and "ggr" in unknown.body["detail"]


def test_daily_metrics_ngr_dau_and_deposit_success(api: Api) -> None:
    days = {"granularity": "1d", "from": "2026-03-01", "to": "2026-03-03"}
    ngr = api.get("/v1/analytics/timeseries", metric="ngr", **days)
    # no bonus, jackpot or fee: NGR = GGR. D1: EUR 1000 + 3000 = 4000, USD -500;
    # D2: b5 400 - 100 = 300 EUR.
    assert [(r["ts"][:10], r["currency"], r["value_minor"]) for r in ngr.body["series"]] == [
        ("2026-03-01", "EUR", 4000),
        ("2026-03-01", "USD", -500),
        ("2026-03-02", "EUR", 300),
    ]
    assert all(type(r["value_minor"]) is int for r in ngr.body["series"])
    dau = api.get("/v1/analytics/timeseries", metric="dau", **days)
    # D1: p1, p2, p3 placed bets; D2: p1 (a bet) and p2 (a 600 s session >= 60 s)
    assert [(r["ts"][:10], r["value"]) for r in dau.body["series"]] == [
        ("2026-03-01", 3),
        ("2026-03-02", 2),
    ]
    success = api.get("/v1/analytics/timeseries", metric="deposits_success", **days)
    # D1 payments: pay1..pay5 intents; captured within the funnel: pay1, pay3 (pay2's capture
    # has no authorization after its intent) -> 2 / 5
    assert [(r["ts"][:10], r["value"]) for r in success.body["series"]] == [("2026-03-01", 0.4)]


def test_pages_follow_the_cursor(api: Api) -> None:
    first = api.get("/v1/analytics/timeseries", **SERIES, limit=2)
    assert [r["value_minor"] for r in first.body["series"]] == [1000, 3000]
    cursor = first.body["next_cursor"]
    assert cursor
    second = api.get("/v1/analytics/timeseries", **SERIES, limit=2, cursor=cursor)
    assert [r["value_minor"] for r in second.body["series"]] == [-500]
    assert second.body["next_cursor"] is None
    # a cursor belongs to its request
    other = api.get(
        "/v1/analytics/timeseries", **{**SERIES, "metric": "stake"}, limit=2, cursor=cursor
    )
    assert other.status == 400
    forged = api.get("/v1/analytics/timeseries", **SERIES, limit=2, cursor=cursor[:-2] + "AA")
    assert forged.status == 400 and forged.body["detail"] == "invalid cursor"


def test_a_matching_etag_is_304(api: Api) -> None:
    first = api.get("/v1/analytics/timeseries", **SERIES)
    again = call(
        api.server.url,
        "GET",
        "/v1/analytics/timeseries",
        token=api.tokens["one"],
        params=SERIES,
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status == 304 and again.body is None
    assert again.headers["etag"] == first.headers["etag"]
    # another client's answer differs, and so does its ETag
    two = api.get("/v1/analytics/timeseries", "two", **SERIES)
    assert two.headers["etag"] != first.headers["etag"]


# -- slice ------------------------------------------------------------------------------------
DAY1 = {"from": "2026-03-01", "to": "2026-03-02"}


def test_slice_of_games_by_rtp(api: Api) -> None:
    answer = api.get("/v1/analytics/slice", metric="rtp", dim="game_id", **DAY1, limit=50)
    assert answer.status == 200, answer.body
    # brand-1 on D1: g2 USD 1000 / 500 = 2; g1 EUR (500 + 1500) / (1000 + 2000) = 2/3;
    # g2 EUR 0 / 3000 = 0
    assert answer.body["items"] == [
        {"game_id": "g2", "currency": "USD", "value": 2.0},
        {"game_id": "g1", "currency": "EUR", "value": pytest.approx(2 / 3)},
        {"game_id": "g2", "currency": "EUR", "value": 0.0},
    ]
    ascending = api.get("/v1/analytics/slice", metric="rtp", dim="game_id", **DAY1, order="value")
    assert [i["value"] for i in ascending.body["items"]] == [0.0, pytest.approx(2 / 3), 2.0]
    two = api.get("/v1/analytics/slice", "two", metric="rtp", dim="game_id", **DAY1)
    # brand-2: g1 7000 / 7000 = 1; g3 1000 / 9000
    assert two.body["items"] == [
        {"game_id": "g1", "currency": "EUR", "value": 1.0},
        {"game_id": "g3", "currency": "EUR", "value": pytest.approx(1 / 9)},
    ]


def test_slice_by_brand_never_shows_another_brand(api: Api) -> None:
    one = api.get("/v1/analytics/slice", metric="bets", dim="brand_id", **DAY1)
    # brand-1 settled b1..b4 on D1
    assert one.body["items"] == [{"brand_id": "brand-1", "value": 4}]
    every = api.get("/v1/analytics/slice", "every", metric="bets", dim="brand_id", **DAY1)
    assert every.body["items"] == [
        {"brand_id": "brand-1", "value": 4},
        {"brand_id": "brand-2", "value": 2},
    ]
    assert (
        api.get(
            "/v1/analytics/slice", metric="bets", dim="brand_id", **DAY1, filters="brand_id:brand-2"
        ).status
        == 403
    )
    by_hour = api.get(
        "/v1/analytics/slice",
        metric="stake",
        dim="currency",
        **{"from": "2026-03-01T10:00:00Z", "to": "2026-03-01T11:00:00Z"},
    )
    # brand-1 10:00-11:00: EUR 1000 + 2000 + 3000, USD 500
    assert by_hour.body["items"] == [
        {"currency": "EUR", "value": 6000},
        {"currency": "USD", "value": 500},
    ]


# -- retention and LTV --------------------------------------------------------------------------
RETENTION = {
    "cohort": "registration",
    "start_date": "2026-03-01",
    "end_date": "2026-03-01",
    "days": [1, 2, 7, 14],
}


def test_retention_from_gold_with_mature_offsets_only(api: Api) -> None:
    answer = api.post("/v1/analytics/retention", RETENTION)
    assert answer.status == 200, answer.body
    # cohort D1 of brand-1: p1, p2, p3. Return event bet.placed: p1 on D2 (day 1), p2 on D8
    # (day 7); nobody on D3. D15 is after the last day with data (D8): day 14 is null.
    assert answer.body == {
        "cohort": "registration",
        "return_event": "bet.placed",
        "source": "gold",
        "rows": [
            {
                "cohort_date": "2026-03-01",
                "size": 3,
                "d1": pytest.approx(1 / 3),
                "d2": 0.0,
                "d7": pytest.approx(1 / 3),
                "d14": None,
            }
        ],
    }
    every = api.post("/v1/analytics/retention", RETENTION, "every")
    # brand-2's q1 joins the cohort and never returns: 1 of 4 on days 1 and 7
    assert every.body["rows"] == [
        {"cohort_date": "2026-03-01", "size": 4, "d1": 0.25, "d2": 0.0, "d7": 0.25, "d14": None}
    ]
    deposits = api.post("/v1/analytics/retention", {**RETENTION, "cohort": "first_deposit"})
    # first payment.captured on D1: p1, p2, p3; the same returns
    assert deposits.body["rows"][0]["size"] == 3
    assert deposits.body["rows"][0]["d1"] == pytest.approx(1 / 3)


def test_retention_on_another_return_event_comes_from_silver_by_the_same_rule(api: Api) -> None:
    body = {**RETENTION, "return_event": "points.awarded"}
    answer = api.post("/v1/analytics/retention", body)
    assert answer.status == 200, answer.body
    # points.awarded: p1 on D2 (day 1), p3 on D3 (day 2), nobody on D8
    assert answer.body["source"] == "silver"
    assert answer.body["rows"] == [
        {
            "cohort_date": "2026-03-01",
            "size": 3,
            "d1": pytest.approx(1 / 3),
            "d2": pytest.approx(1 / 3),
            "d7": 0.0,
            "d14": None,
        }
    ]
    every = api.post("/v1/analytics/retention", body, "every")
    # brand-2's p1 has an award on D2 but is in no cohort (never registered): still 1 of 4
    assert every.body["rows"] == [
        {"cohort_date": "2026-03-01", "size": 4, "d1": 0.25, "d2": 0.25, "d7": 0.0, "d14": None}
    ]
    # the silver rule on the default event gives gold's answer
    same = api.post("/v1/analytics/retention", {**RETENTION, "return_event": "bet.placed"})
    assert same.body["source"] == "gold"


def test_retention_refuses_what_it_cannot_answer(api: Api) -> None:
    assert api.post("/v1/analytics/retention", {**RETENTION, "days": [31]}).status == 400
    assert api.post("/v1/analytics/retention", {**RETENTION, "cohort": "login"}).status == 400
    other = api.post("/v1/analytics/retention", {**RETENTION, "filters": {"brand_id": "brand-2"}})
    assert other.status == 403
    region = api.post("/v1/analytics/retention", {**RETENTION, "filters": {"region": "EU"}})
    assert region.status == 400 and "brand_id" in region.body["detail"]


def test_ltv_per_cohort_in_eur_cents(api: Api) -> None:
    answer = api.get("/v1/analytics/ltv", cohort="registration", currency="EUR", horizon="3d")
    assert answer.status == 200, answer.body
    # cohort D1 of brand-1 (3 players), NGR in EUR: D1 p1 500 + 3000, p2 500, p3 -500 USD at
    # 0.896814 = -448.407 -> 3551.593 / 3 = 1183.86 -> 1184; D2 + p1's 300 -> 3851.593 / 3 =
    # 1283.86 -> 1284; nothing after.
    assert answer.body == {
        "cohort": "registration",
        "currency": "EUR",
        "horizon_days": 3,
        "cohorts": [
            {
                "date": "2026-03-01",
                "brand_id": "brand-1",
                "size": 3,
                "ltv_minor": [1184, 1284, 1284, 1284],
            }
        ],
    }
    every = api.get("/v1/analytics/ltv", "every", cohort="registration", horizon="1d")
    # brand-2's q1: c1 0 + c2 8000 on D1
    assert [(c["brand_id"], c["ltv_minor"]) for c in every.body["cohorts"]] == [
        ("brand-1", [1184, 1284]),
        ("brand-2", [8000, 8000]),
    ]
    usd = api.get("/v1/analytics/ltv", currency="USD")
    assert usd.status == 400 and "EUR" in usd.body["detail"]
    assert api.get("/v1/analytics/ltv", horizon="91d").status == 400
    assert api.get("/v1/analytics/ltv", brand="brand-2").status == 403


# -- funnel ---------------------------------------------------------------------------------------
DEPOSIT_FUNNEL = {
    "steps": [
        {"event": "payment.intent"},
        {"event": "payment.authorized"},
        {"event": "payment.captured"},
        {"event": "wallet.credit", "reason": "deposit"},
    ],
    "window_sec": 3600,
    "from": "2026-03-01T00:00:00Z",
    "to": "2026-03-02T00:00:00Z",
}


def _counts(answer: Answer) -> list[int]:
    assert answer.status == 200, answer.body
    return [s["count"] for s in answer.body["steps"]]


def test_the_deposit_funnel_per_player(api: Api) -> None:
    answer = api.post("/v1/analytics/funnel", DEPOSIT_FUNNEL)
    # p1: intent 10:00, authorized 10:01, captured 10:02, deposit credit 10:03 -> 4 steps.
    # p2: enters at 11:00; its authorization at 10:59 is out of order, the next one (16:01,
    #     of its second entry) is past the window -> 1 step; entering again changes nothing.
    # p3: intent 12:00, authorized 12:30 (and again 12:40, counted once), captured at 13:00,
    #     exactly at the window (included); the deposit credit at 13:00:01 is past it, the
    #     bonus credit at 12:50 is no deposit -> 3 steps.
    assert answer.body == {
        "total": 3,
        "window_sec": 3600,
        "steps": [
            {"name": "payment.intent", "count": 3, "rate": 1.0},
            {"name": "payment.authorized", "count": 2, "rate": pytest.approx(2 / 3)},
            {"name": "payment.captured", "count": 2, "rate": pytest.approx(2 / 3)},
            {"name": "wallet.credit[reason=deposit]", "count": 1, "rate": pytest.approx(1 / 3)},
        ],
    }
    # one second less of window: p3's capture at 13:00 falls out
    assert _counts(api.post("/v1/analytics/funnel", {**DEPOSIT_FUNNEL, "window_sec": 3599})) == [
        3,
        2,
        1,
        1,
    ]
    # all brands: q1 (brand-2) enters at 10:00 and is authorized at 10:01
    assert _counts(api.post("/v1/analytics/funnel", DEPOSIT_FUNNEL, "every")) == [4, 3, 2, 1]


def test_funnel_entries_are_the_first_step_one_event_in_the_range(api: Api) -> None:
    later = {**DEPOSIT_FUNNEL, "from": "2026-03-01T11:30:00Z"}
    # entries from 11:30: p3 at 12:00 (3 steps, as above), p1 again at 15:00 (authorized
    # 15:01), p2 again at 16:00 (authorized 16:01)
    assert _counts(api.post("/v1/analytics/funnel", later)) == [3, 3, 1, 0]


def test_a_repeated_step_needs_another_event(api: Api) -> None:
    twice = {
        **DEPOSIT_FUNNEL,
        "steps": [{"event": "payment.authorized"}, {"event": "payment.authorized"}],
    }
    # p3's 12:30 and 12:40; p1's 10:01 and 15:01 and p2's 10:59 and 16:01 are hours apart
    assert _counts(api.post("/v1/analytics/funnel", twice)) == [3, 1]
    credits = {
        **DEPOSIT_FUNNEL,
        "steps": [{"event": "wallet.credit"}, {"event": "wallet.credit", "reason": "deposit"}],
    }
    # p1's only credit (10:03, a deposit) is its entry and cannot be its step 2 too; p3 enters
    # with its bonus credit at 12:50 and has a deposit credit at 13:00:01, within the hour
    assert _counts(api.post("/v1/analytics/funnel", credits)) == [2, 1]


def test_funnel_requests_it_cannot_answer(api: Api) -> None:
    unknown = {**DEPOSIT_FUNNEL, "steps": [{"event": "payment.intent"}, {"event": "made.up"}]}
    assert api.post("/v1/analytics/funnel", unknown).status == 400
    field = {
        **DEPOSIT_FUNNEL,
        "steps": [{"event": "payment.intent", "colour": "red"}, {"event": "payment.captured"}],
    }
    answer = api.post("/v1/analytics/funnel", field)
    assert answer.status == 400 and "no payload field colour" in answer.body["detail"]
    other = api.post("/v1/analytics/funnel", {**DEPOSIT_FUNNEL, "filters": {"brand_id": "brand-2"}})
    assert other.status == 403
    own = api.post("/v1/analytics/funnel", {**DEPOSIT_FUNNEL, "filters": {"region": "US"}}, "every")
    assert _counts(own) == [1, 1, 0, 0]  # q1 only


# -- points ---------------------------------------------------------------------------------------
PLAYER = "/v1/points/games/g1/tasks/t1/players/p1"


def test_a_player_on_a_task(api: Api) -> None:
    answer = api.get(PLAYER, at="2026-03-02T09:02:30Z", seconds=100, minutes=1)
    assert answer.status == 200, answer.body
    # awards at 09:00:00, 09:00:30, 09:02:00 (points 10, 20, -5): gaps 30 and 90 -> mean 60,
    # last window 90; at 09:02:30: 30 s since the last award; in the last 100 s (after
    # 09:00:50) one award; in the last minute (after 09:01:30) one.
    assert answer.body == {
        "brand_id": "brand-1",
        "game_id": "g1",
        "task_id": "t1",
        "player_id": "p1",
        "at": "2026-03-02T09:02:30Z",
        "awards": 3,
        "total_points": 25,
        "first_award_at": "2026-03-02T09:00:00Z",
        "last_award_at": "2026-03-02T09:02:00Z",
        "avg_seconds_between_awards": 60.0,
        "last_window_seconds": 90.0,
        "seconds_since_last_award": 30.0,
        "award_times": ["2026-03-02T09:00:00Z", "2026-03-02T09:00:30Z", "2026-03-02T09:02:00Z"],
        "awards_last_seconds": 1,
        "has_award_last_minutes": True,
    }
    assert answer.headers["cache-control"] == "private, no-cache"
    wider = api.get(PLAYER, at="2026-03-02T09:02:30Z", seconds=150, minutes=2)
    assert wider.body["awards_last_seconds"] == 2  # after 09:00:00: 09:00:30 and 09:02:00
    later = api.get(PLAYER, at="2026-03-02T09:05:00Z", minutes=2)
    assert later.body["has_award_last_minutes"] is False  # nothing after 09:03:00
    assert "awards_last_seconds" not in later.body
    now = api.get(PLAYER)
    # without `at`: now, months after the last award
    assert now.body["seconds_since_last_award"] > 200 * 86400


def test_sentinels_for_one_award_and_none(api: Api) -> None:
    single = api.get("/v1/points/games/g1/tasks/t1/players/p3").body
    assert (
        single["awards"],
        single["avg_seconds_between_awards"],
        single["last_window_seconds"],
    ) == (1, -1.0, 0.0)
    nobody = api.get("/v1/points/games/g1/tasks/t1/players/p9").body
    assert (
        nobody["awards"],
        nobody["total_points"],
        nobody["avg_seconds_between_awards"],
        nobody["last_window_seconds"],
        nobody["seconds_since_last_award"],
        nobody["award_times"],
    ) == (0, 0, -1, 0, None, [])


def test_a_view_a_full_refresh_dropped_is_made_again(api: Api) -> None:
    # dbt's full refresh replaces silver's tables with `drop ... cascade`, taking the api
    # schema's views along
    with psycopg.connect(api.url, autocommit=True) as conn:
        conn.execute("drop view api.points_awards")
    answer = api.get(PLAYER, at="2026-03-02T09:02:30Z")
    assert (answer.status, len(answer.body["award_times"])) == (200, 3)
    assert query(api.url, "select to_regclass('api.points_awards') is not null") == [(True,)]


def test_player_ids_are_per_brand_and_brands_are_checked(api: Api) -> None:
    theirs = api.get(PLAYER, "two", at="2026-03-02T10:00:00Z")
    assert (theirs.body["brand_id"], theirs.body["awards"], theirs.body["total_points"]) == (
        "brand-2",
        1,
        50,
    )
    assert api.get(PLAYER, "one", brand="brand-2").status == 403
    needs_brand = api.get(PLAYER, "every")
    assert needs_brand.status == 400 and "brand is required" in needs_brand.body["detail"]
    assert api.get(PLAYER, "every", brand="brand-1").body["awards"] == 3


def test_task_and_game_figures(api: Api) -> None:
    task = api.get("/v1/points/games/g1/tasks/t1").body
    # brand-1's merged timeline: D2 09:00:00 .. D3 08:00:00 = 82800 s over 4 awards -> 82800/3
    assert task == {
        "brand_id": "brand-1",
        "game_id": "g1",
        "task_id": "t1",
        "awards": 4,
        "players": 2,
        "total_points": 32,
        "avg_seconds_between_awards": 27600.0,
    }
    game = api.get("/v1/points/games/g1", player="p1").body
    # non-zero minutes 10, 20.5 (p1) and 5.5 (p3): 36 / 3 = 12; p1: 30.5 / 2 = 15.25
    assert game == {
        "brand_id": "brand-1",
        "game_id": "g1",
        "awards": 4,
        "players": 2,
        "total_points": 32,
        "avg_minutes": 12.0,
        "player": {"player_id": "p1", "awards": 3, "total_points": 25, "avg_minutes": 15.25},
    }
    assert "player" not in api.get("/v1/points/games/g1").body


# -- the game server's metrics ---------------------------------------------------------------
def test_game_metrics_of_a_day(api: Api) -> None:
    d1 = api.get("/v1/game/metrics", day="2026-03-01").body
    # D1, brand-1: 3 registrations, credits earned 100 and spent 40, one pvp battle; dau 3;
    # March so far: p1, p2, p3 active; one session of 1800 s -> 30 minutes
    assert d1["today"] == {
        "new_players": 3,
        "credits_earned": 100,
        "credits_spent": 40,
        "gems_earned": 0,
        "gems_spent": 0,
        "gems_purchased": 0,
        "dungeons_run": 0,
        "crafts_completed": 0,
        "pvp_battles": 1,
        "raid_battles": 0,
        "market_sales": 0,
        "purchase_revenue_eur_minor": 0,
    }
    assert (d1["dau"], d1["mau"], d1["avg_session_minutes"]) == (3, 3, 30)
    d8 = api.get("/v1/game/metrics", day="2026-03-08").body
    # D8: p2's bet -> dau 1; March: still p1, p2, p3; sessions 1800 + 600 over 2 -> 20 min
    assert (d8["today"]["new_players"], d8["dau"], d8["mau"], d8["avg_session_minutes"]) == (
        0,
        1,
        3,
        20,
    )
    every = api.get("/v1/game/metrics", "every", day="2026-03-01").body
    # brand-2 adds q1: a registration, 999 credits, one active player
    assert (
        every["today"]["new_players"],
        every["today"]["credits_earned"],
        every["dau"],
        every["mau"],
    ) == (4, 1099, 4, 4)
    assert api.get("/v1/game/metrics", brand="brand-2").status == 403


def test_game_metrics_of_the_last_30_days(api: Api) -> None:
    days = api.get("/v1/game/metrics/last-30-days", day="2026-03-08").body["days"]
    # brand-1 has economy counters on D1 only
    assert [(d["day"], d["new_players"], d["credits_earned"], d["dau"]) for d in days] == [
        ("2026-03-01", 3, 100, 3),
    ]


# -- tokens, clients, errors ----------------------------------------------------------------------
def _key(url: str) -> bytes:
    with psycopg.connect(url) as conn:
        return bytes(conn.execute("select key from security.api_signing_key").fetchone()[0])  # type: ignore[index]


def test_expired_forged_and_revoked_tokens_are_401(api: Api) -> None:
    key = _key(api.url)
    expired = sign(key, api.one.client_id, seconds=900, now=time.time() - 901)
    forged = sign(b"not the key" * 3, api.one.client_id, seconds=900)
    for token, why in (
        (expired, "token expired"),
        (forged, "invalid token signature"),
        ("v1.e30.AAAA", "invalid token signature"),
        ("garbage", "malformed token"),
    ):
        answer = call(api.server.url, "GET", PLAYER, token=token)
        assert (answer.status, answer.body["detail"]) == (401, why)
    # a valid token of a client that is then revoked stops working at once
    doomed = new_client(api.url, "doomed", ["brand-1"])
    token = token_of(api.server.url, doomed)
    assert call(api.server.url, "GET", PLAYER, token=token).status == 200
    with psycopg.connect(api.url, autocommit=True) as conn:
        revoke_client(conn, "doomed")
    after = call(api.server.url, "GET", PLAYER, token=token)
    assert (after.status, after.body["error"]) == (401, "unauthorized")
    again = call(
        api.server.url,
        "POST",
        "/v1/oauth/token",
        form={
            "grant_type": "client_credentials",
            "client_id": doomed.client_id,
            "client_secret": doomed.secret,
        },
    )
    assert again.status == 401


def test_the_command_line_creates_lists_and_revokes_clients(api: Api) -> None:
    def dwh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dwh.cli", "api-client", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "DWH_DATABASE_URL": api.url},
            timeout=120,
            check=False,
        )

    made = dwh("create", "cli-partner", "--brand", "brand-1", "brand-2")
    assert made.returncode == 0, made.stderr
    client_id = re.search(r"^client_id: (\w+)$", made.stdout, re.M).group(1)  # type: ignore[union-attr]
    secret = re.search(r"^client_secret: (\S+)$", made.stdout, re.M).group(1)  # type: ignore[union-attr]
    stored = query(
        api.url, "select secret_hash from security.api_clients where client_id = %s", [client_id]
    )[0][0]
    assert stored.startswith("scrypt$") and secret not in stored
    listed = dwh("list")
    assert f"cli-partner\t{client_id}\tactive\tbrand-1,brand-2" in listed.stdout
    assert dwh("create", "cli-partner", "--all-brands").returncode == 2  # names are unique
    assert dwh("revoke", "cli-partner").returncode == 0
    assert f"cli-partner\t{client_id}\trevoked" in dwh("list").stdout
    assert query(
        api.url, "select count(*) from pg_roles where rolname = %s", [f"api_client_{client_id}"]
    ) == [(0,)]


def test_dwh_serve_serves_the_api(api: Api) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "dwh.cli", "serve", "--port", str(port)],
        env={**os.environ, "DWH_DATABASE_URL": api.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = call(f"http://127.0.0.1:{port}", "GET", PLAYER, token=api.tokens["one"])
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        # a token of this warehouse is good on every server of it (the key is in the database)
        assert (answer.status, answer.body["awards"]) == (200, 3)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_errors_are_json_without_traceback(api: Api) -> None:
    missing = api.get("/v1/analytics/nothing")
    assert (missing.status, missing.body["error"]) == (404, "not_found")
    bad = api.get("/v1/points/games/g1/tasks/t1/players/p1", seconds="many")
    assert bad.status == 400 and set(bad.body) == {"error", "detail"}
    # a client whose role someone dropped behind the API's back: the server fails, and says
    # only that
    broken = new_client(api.url, "broken", ["brand-1"])
    token = token_of(api.server.url, broken)
    with psycopg.connect(api.url, autocommit=True) as conn:
        conn.execute(
            "delete from security.brand_scopes where role_name = %s",
            [f"api_client_{broken.client_id}"],
        )
        conn.execute(f"drop role api_client_{broken.client_id}")
    failed = call(api.server.url, "GET", PLAYER, token=token)
    assert failed.status == 500
    assert set(failed.body) == {"error", "detail"} and failed.body["error"] == "internal"
    assert "Traceback" not in failed.body["detail"] and "api_client" not in failed.body["detail"]


def test_openapi_docs_are_served(api: Api) -> None:
    with urllib.request.urlopen(api.server.url + "/docs", timeout=30) as response:
        assert response.status == 200 and b"swagger" in response.read().lower()
    spec = call(api.server.url, "GET", "/openapi.json").body
    assert "/v1/analytics/funnel" in spec["paths"] and "/v1/oauth/token" in spec["paths"]


# -- row-level security in the database itself ----------------------------------------------------
def test_a_client_role_reads_its_brand_only_in_gold_and_the_api_views(api: Api) -> None:
    role = f"api_client_{api.one.client_id}"
    with psycopg.connect(api.url) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select table_schema || '.' || table_name from information_schema.columns "
                "where column_name = 'brand_id' and table_schema in ('gold', 'api')"
            ).fetchall()
        ]
        assert len(tables) > 15
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        seen = {}
        for table in tables:
            seen[table] = conn.execute(
                f"select count(*) filter (where brand_id = 'brand-1'), "
                f"count(*) filter (where brand_id <> 'brand-1') from {table}"
            ).fetchone()
        assert all(other == 0 for _, other in seen.values()), seen
        assert seen["gold.fct_bets_rollup"][0] > 0 and seen["api.events"][0] > 0
        for forbidden in ("silver.int_events", "security.api_clients", "audit.api_access"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {forbidden} limit 1")
            conn.rollback()
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))


# -- the access audit and the rate limit ----------------------------------------------------------
def test_the_access_audit_holds_a_row_per_request_and_refuses_changes(api: Api) -> None:
    auditor = new_client(api.url, "audited", ["brand-1"])
    token = token_of(api.server.url, auditor)
    assert call(api.server.url, "GET", PLAYER, token=token, params={"seconds": 60}).status == 200
    assert (
        call(
            api.server.url,
            "GET",
            "/v1/analytics/timeseries",
            token=token,
            params={**SERIES, "metric": "ngr"},
        ).status
        == 400
    )
    assert (
        call(
            api.server.url,
            "GET",
            "/v1/analytics/timeseries",
            token=token,
            params={**SERIES, "filters": "brand_id:brand-2"},
        ).status
        == 403
    )
    api.server.server.config.app.state.ctx.flush_audit()  # type: ignore[attr-defined]
    rows = query(
        api.url,
        "select endpoint, method, status, rows, filters from audit.api_access "
        "where client_id = %s order by access_id",
        [auditor.client_id],
    )
    # the token request, then the three calls; no player id, no secret
    assert [(r[0], r[2]) for r in rows] == [
        ("/v1/oauth/token", 200),
        ("/v1/points/games/{game}/tasks/{task}/players/{player}", 200),
        ("/v1/analytics/timeseries", 400),
        ("/v1/analytics/timeseries", 403),
    ]
    assert rows[1][3] == 1 and rows[1][4] == {"seconds": "60"}
    assert rows[3][4]["filters"] == "brand_id:brand-2"
    text = str(query(api.url, "select * from audit.api_access"))
    assert auditor.secret not in text and "p1" not in text
    with psycopg.connect(api.url, autocommit=True) as conn:
        for statement in (
            "update audit.api_access set status = 200",
            "delete from audit.api_access",
            "truncate audit.api_access",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)


def test_past_the_rate_limit_a_client_gets_429(api: Api) -> None:
    limited = start_in_thread(api.url, rate_per_second=0.5, burst=3)
    try:
        token = api.tokens["one"]
        statuses = [call(limited.url, "GET", PLAYER, token=token).status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = call(limited.url, "GET", PLAYER, token=token)
        assert refused.body["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 2  # a token every 2 s
        # the limit is per client
        assert call(limited.url, "GET", PLAYER, token=api.tokens["two"]).status == 200
    finally:
        limited.stop()


# -- the benchmark ----------------------------------------------------------------------------
def test_the_api_bench_measures_every_request_type(api: Api) -> None:
    figures = run_api_bench(api.url, concurrency=2, requests=6)
    assert list(figures) == list(TARGETS_MS)
    for label, figure in figures.items():
        assert (figure.requests, figure.errors) == (6, 0), label
        assert 0 < figure.p50_ms <= figure.p95_ms <= figure.p99_ms, label
        assert figure.requests_per_second > 0 and figure.target_p95_ms == TARGETS_MS[label]
    # the bench's client is gone again
    assert query(
        api.url,
        "select count(*) from security.api_clients "
        "where name like 'bench-%%' and status = 'active'",
    ) == [(0,)]
    assert "| points, one player and task |" in format_figures(figures)


# -- the brand-grain rollup ------------------------------------------------------------------------
def test_a_brand_series_reads_the_brand_rollup_and_answers_the_same(api: Api) -> None:
    """A query naming only brand_id and currency reads fct_bets_rollup_brand; every such answer
    (each rollup metric, granularity, filter and group) equals the one of fct_bets_rollup."""
    assert ROLLUP.table_for([]) == "gold.fct_bets_rollup_brand"
    assert ROLLUP.table_for(["brand_id", "currency"]) == "gold.fct_bets_rollup_brand"
    assert ROLLUP.table_for(["brand_id", "game_id"]) == "gold.fct_bets_rollup"
    fine_only = replace(ROLLUP, coarse=None)
    lower, upper = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({}, []),
        ({"brand_id": "brand-1"}, []),
        ({}, ["brand_id"]),
        ({"currency": "EUR"}, ["brand_id", "currency"]),
    ]
    answered = 0
    with psycopg.connect(api.url) as conn:
        # the warehouse's owner: no row-level security, every brand
        scoped = Scoped(conn, Client("owner", "owner", "owner", None), 0)
        for name in ("stake", "win", "ggr", "bets", "rtp"):
            coarse = METRICS[name]
            assert coarse.source is ROLLUP
            fine = replace(coarse, source=fine_only)
            for granularity in ("1m", "5m", "1h", "1d"):
                for filters, group_by in cases:
                    args = (granularity, lower, upper, filters, group_by, 1000, 0)
                    found = series.timeseries(scoped, coarse, *args)
                    assert found == series.timeseries(scoped, fine, *args), (name, args)
                    answered += len(found)
                for dim in ("brand_id", "currency"):
                    sliced = (dim, granularity, lower, upper, {}, True, 1000, 0)
                    found = series.slice_(scoped, coarse, *sliced)
                    assert found == series.slice_(scoped, fine, *sliced), (name, sliced)
                    answered += len(found)
        brand_rows = conn.execute("select count(*) from gold.fct_bets_rollup_brand").fetchone()
    assert answered > 0 and brand_rows is not None and brand_rows[0] > 0


# -- a new publication (keep these last: they change the warehouse) --------------------------------
def test_a_publication_that_changes_the_answer_changes_the_etag(api: Api) -> None:
    before = api.get("/v1/analytics/timeseries", **SERIES)
    page = api.get("/v1/analytics/timeseries", **SERIES, limit=2)
    theirs = api.get("/v1/analytics/timeseries", "two", **SERIES)
    # a late bet of brand-1 settled at 10:04 on D1: 100 - 0 more GGR in the 10:00 bucket
    land(
        api.url,
        api.landing / "late.ndjson",
        _bet("b7", "p2", "2026-03-01 10:04:00", "g1", "pA", 100, 0, "EUR", B1),
    )
    # the brand-grain rollup answers a brand-only series: build it (and its ancestors)
    build_and_publish(api.url, api.landing, "api-run-2", "--select", "+fct_bets_rollup_brand")
    after = call(
        api.server.url,
        "GET",
        "/v1/analytics/timeseries",
        token=api.tokens["one"],
        params=SERIES,
        headers={"If-None-Match": before.headers["etag"]},
    )
    assert after.status == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.body["series"][0] == {
        "ts": "2026-03-01T10:00:00Z",
        "currency": "EUR",
        "value_minor": 1100,
    }
    # brand-2's answer did not change: its ETag still matches
    same = call(
        api.server.url,
        "GET",
        "/v1/analytics/timeseries",
        token=api.tokens["two"],
        params=SERIES,
        headers={"If-None-Match": theirs.headers["etag"]},
    )
    assert same.status == 304
    # a cursor of the previous publication is refused, not silently mixed
    stale = api.get("/v1/analytics/timeseries", **SERIES, limit=2, cursor=page.body["next_cursor"])
    assert (stale.status, stale.body["error"]) == (400, "stale_cursor")
