"""The semantic layer (dwh/metrics.py, dbt_project/models/semantic/): every metric, queried
through MetricFlow against the published gold marts, equals the hand-computed value and the
same aggregate computed from the mart in SQL.

One small event set is landed, built (the five marts the semantic models read, and the time
spine) and published to `gold` once for the module. Then the candidate of fct_revenue_daily is
changed without a publication: the metrics must still answer from `gold`.

Days: Mon 2026-01-05 (week W1 = 01-05..01-11), Tue 01-06, Wed 01-07, Mon 01-12 (week W2),
Wed 02-04 (week 2026-02-02); the last day with data is Sun 02-08 (an event of an unknown type).
FX (seed reference.fx_rates_daily, EUR per USD): 2026-01-06 0.925552, 2026-01-07 0.924950.

brand-1 (EU, EUR):
  p1 registers 01-05; bets b1 01-05 (stake 1000, win 300), b2 01-06 (500, 900),
     b3 01-12 (200, 0), b4 02-04 (100, 0); deposit pay1 01-05: intent, authorized, captured
     with fee 100 (first deposit 01-05).
  p2 registers 01-05; bet b5 01-06 (400, 100); bonus consumed 01-06: 50; deposit pay2 01-06:
     intent only.
  p3 registers 01-12; deposit pay3 01-12: intent, authorized, captured without fee (first
     deposit 01-12); never bets.
brand-2 (LATAM, USD):
  q1 registers 01-06; bet c1 01-06 (2000, 1500), jackpot contribution 01-06: 20; deposit payq
     01-06: intent, authorized, captured with fee 60 (first deposit 01-06); bet c2 01-07
     (1000, 200).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from dwh.cli import main
from dwh.metrics import SemanticLayer, published_relations, query, semantic_layer
from orchestration.marts import gold_grains
from tests.events import at, build, event, land_events
from tests.events import query as sql
from tests.test_access_publish import login_url
from warehouse.access import grant_brand_reader
from warehouse.database import connect
from warehouse.dbt import target_path
from warehouse.publish import publish

SEMANTIC_YML = Path(__file__).resolve().parents[1] / "dbt_project/models/semantic/_semantic.yml"
MARTS = (
    "fct_revenue_daily",
    "fct_deposit_funnel_daily",
    "fct_active_players_daily",
    "fct_retention",
    "fct_ltv",
)
W1, W2, W_FEB = datetime(2026, 1, 5), datetime(2026, 1, 12), datetime(2026, 2, 2)
B1 = {"brand": "brand-1", "region": "EU"}
B2 = {"brand": "brand-2", "region": "LATAM"}


def _bet(bet: str, when: str, stake: int, win: int, currency: str, **who: Any) -> list[dict]:
    money = {"game_id": "g1", "provider_id": "pr1", "currency": currency, "in_bonus": False}
    return [
        event("bet.placed", at(when), bet_id=bet, stake_minor=stake, **money, **who),
        event(
            "bet.settled",
            at(when, minutes=1),
            bet_id=bet,
            stake_minor=stake,
            win_minor=win,
            **money,
            **who,
        ),
    ]


def _deposit(pay: str, when: str, currency: str, steps: int, fee: int | None, **who: Any) -> list:
    money = {"payment_id": pay, "amount_minor": 5000, "currency": currency, "method": "card"}
    events = [event("payment.intent", at(when), **money, **who)]
    if steps >= 2:
        events.append(event("payment.authorized", at(when, seconds=30), **money, **who))
    if steps >= 3:
        fees = {} if fee is None else {"fee_minor": fee}
        events.append(event("payment.captured", at(when, seconds=60), **money, **fees, **who))
    return events


def _events() -> list[dict[str, Any]]:
    p1, p2, p3 = ({**B1, "player": p} for p in ("p1", "p2", "p3"))
    q1 = {**B2, "player": "q1"}
    return [
        event("player.registered", at("2026-01-05 09:00"), **p1),
        *_bet("b1", "2026-01-05 09:10", 1000, 300, "EUR", **p1),
        *_deposit("pay1", "2026-01-05 10:00", "EUR", 3, 100, **p1),
        *_bet("b2", "2026-01-06 12:00", 500, 900, "EUR", **p1),
        *_bet("b3", "2026-01-12 12:00", 200, 0, "EUR", **p1),
        *_bet("b4", "2026-02-04 12:00", 100, 0, "EUR", **p1),
        event("player.registered", at("2026-01-05 11:00"), **p2),
        *_bet("b5", "2026-01-06 15:00", 400, 100, "EUR", **p2),
        event(
            "bonus.consumed",
            at("2026-01-06 17:00"),
            bonus_id="bo1",
            amount_minor=50,
            currency="EUR",
            **p2,
        ),
        *_deposit("pay2", "2026-01-06 16:00", "EUR", 1, None, **p2),
        event("player.registered", at("2026-01-12 08:00"), **p3),
        *_deposit("pay3", "2026-01-12 09:00", "EUR", 3, None, **p3),
        event("player.registered", at("2026-01-06 08:00"), **q1),
        *_bet("c1", "2026-01-06 09:00", 2000, 1500, "USD", **q1),
        event(
            "jackpot.contribution",
            at("2026-01-06 09:10"),
            game_id="g1",
            amount_minor=20,
            currency="USD",
            **q1,
        ),
        *_deposit("payq", "2026-01-06 09:30", "USD", 3, 60, **q1),
        *_bet("c2", "2026-01-07 10:00", 1000, 200, "USD", **q1),
        # the last day with data: offsets up to 02-08 are mature
        event("test.end_of_data", at("2026-02-08 12:00"), **{**B1, "player": "p9"}),
    ]


@dataclass(frozen=True)
class Warehouse:
    url: str
    layer: SemanticLayer


@pytest.fixture(scope="module")
def warehouse(
    module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    url = module_warehouse_url
    land_events(url, tmp_path_factory.mktemp("semantic") / "events.ndjson", _events())
    build(
        url,
        "--select",
        *(f"+{mart}" for mart in MARTS),
        "sem_time_spine_daily",
        "--exclude-resource-type",
        "unit_test",  # the marts' unit tests do not depend on the data; their modules run them
    )
    grains = gold_grains(target_path() / "manifest.json")
    with connect(url) as conn:
        publish(conn, MARTS, run_id="semantic-layer-test", keys={m: grains[m] for m in MARTS})
    # An unpublished candidate: a build whose checks failed leaves gold_candidate unlike gold.
    with connect(url) as conn:
        conn.execute(
            "update gold_candidate.fct_revenue_daily "
            "set ngr_eur_minor = ngr_eur_minor + 1000000, stake_minor = stake_minor + 1000000"
        )
    with semantic_layer(url) as layer:
        yield Warehouse(url, layer)


def _ask(warehouse: Warehouse, metric: str, *group_by: str) -> list[tuple[Any, ...]]:
    answer = query(warehouse.layer, [metric], group_by)
    # columns in the order asked (group-by items first, metric last), rows sorted
    order = [answer.columns.index(name) for name in (*group_by, metric)]
    return sorted(
        (tuple(row[i] for i in order) for row in answer.rows),
        key=lambda row: tuple(str(v) for v in row),
    )


def _num(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _close(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Same rows; numbers equal to 9 decimals (ratios come back as floats or numerics)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b, strict=True):
            if isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal):
                if abs(_num(x) - _num(y)) > Decimal("1e-9"):  # type: ignore[operator]
                    return False
            elif x != y:
                return False
    return True


def _mart(warehouse: Warehouse, statement: str) -> list[tuple[Any, ...]]:
    rows = sql(warehouse.url, statement)
    return sorted(
        (tuple(_naive(v) for v in row) for row in rows), key=lambda r: tuple(str(v) for v in r)
    )


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


# days after 01-05 with active players, and how many (both brands)
ACTIVE_DAYS = {0: 1, 1: 3, 2: 1, 7: 1, 30: 1}

# (metric, group-by items, the hand-computed rows, the same aggregate of the gold mart in SQL)
CASES: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]], str]] = [
    # NGR in EUR cents, by week and brand.
    # brand-1 W1: 01-05 NGR = 1000 - 300 - fee 100 = 600; 01-06 = (500 + 400) - (900 + 100)
    #   - bonus 50 = -150; 600 - 150 = 450. W2: 01-12 = 200 - 0 = 200 (pay3 has no fee).
    #   Week of 02-02: 02-04 = 100.
    # brand-2 W1: 01-06 = 2000 - 1500 - jackpot 20 - fee 60 = 420 USD cents
    #   -> round(420 x 0.925552 = 388.73) = 389; 01-07 = 1000 - 200 = 800 -> round(739.96) = 740;
    #   389 + 740 = 1129.
    (
        "ngr",
        ("metric_time__week", "brand"),
        [
            (W1, "brand-1", 450),
            (W1, "brand-2", 1129),
            (W2, "brand-1", 200),
            (W_FEB, "brand-1", 100),
        ],
        "select date_trunc('week', day), brand_id, sum(ngr_eur_minor) "
        "from gold.fct_revenue_daily group by 1, 2",
    ),
    # GGR in EUR, by brand: brand-1 700 - 100 + 200 + 100 = 900; brand-2: 01-06 500 USD
    #   -> round(462.776) = 463, 01-07 800 -> 740; 1203.
    (
        "ggr",
        ("brand",),
        [("brand-1", 900), ("brand-2", 1203)],
        "select brand_id, sum(ggr_eur_minor) from gold.fct_revenue_daily group by 1",
    ),
    # Stake and win by currency: EUR 1000 + 500 + 400 + 200 + 100 = 2200, win 300 + 900 + 100
    #   = 1300; USD stake 2000 + 1000 = 3000, win 1500 + 200 = 1700.
    (
        "stake",
        ("revenue__currency",),
        [("EUR", 2200), ("USD", 3000)],
        "select currency, sum(stake_minor) from gold.fct_revenue_daily group by 1",
    ),
    (
        "win",
        ("revenue__currency",),
        [("EUR", 1300), ("USD", 1700)],
        "select currency, sum(win_minor) from gold.fct_revenue_daily group by 1",
    ),
    # GGR and NGR in the currency: EUR GGR 2200 - 1300 = 900, NGR 900 - fee 100 - bonus 50
    #   = 750; USD GGR 3000 - 1700 = 1300, NGR 1300 - 20 - 60 = 1220.
    (
        "ggr_local",
        ("revenue__currency",),
        [("EUR", 900), ("USD", 1300)],
        "select currency, sum(ggr_minor) from gold.fct_revenue_daily group by 1",
    ),
    (
        "ngr_local",
        ("revenue__currency",),
        [("EUR", 750), ("USD", 1220)],
        "select currency, sum(ngr_minor) from gold.fct_revenue_daily group by 1",
    ),
    # RTP = win / stake: EUR 1300 / 2200, USD 1700 / 3000; brand-1 on 01-06 (one mart row):
    #   1000 / 900, the mart's rtp.
    (
        "rtp",
        ("revenue__currency",),
        [("EUR", Decimal(1300) / 2200), ("USD", Decimal(1700) / 3000)],
        "select currency, sum(win_minor)::numeric / sum(stake_minor) "
        "from gold.fct_revenue_daily group by 1",
    ),
    (
        "rtp",
        ("metric_time__day", "brand"),
        [
            (datetime(2026, 1, 5), "brand-1", Decimal(300) / 1000),
            (datetime(2026, 1, 6), "brand-1", Decimal(1000) / 900),
            (datetime(2026, 1, 6), "brand-2", Decimal(1500) / 2000),
            (datetime(2026, 1, 7), "brand-2", Decimal(200) / 1000),
            (datetime(2026, 1, 12), "brand-1", Decimal(0)),
            (datetime(2026, 2, 4), "brand-1", Decimal(0)),
        ],
        "select day, brand_id, rtp from gold.fct_revenue_daily",
    ),
    # Deposits, by brand: brand-1 intents pay1, pay2, pay3 = 3, captured pay1, pay3 = 2;
    #   brand-2 payq 1 / 1.
    (
        "deposit_intents",
        ("brand",),
        [("brand-1", 3), ("brand-2", 1)],
        "select brand_id, sum(intents) from gold.fct_deposit_funnel_daily group by 1",
    ),
    (
        "deposits_captured",
        ("brand",),
        [("brand-1", 2), ("brand-2", 1)],
        "select brand_id, sum(captured) from gold.fct_deposit_funnel_daily group by 1",
    ),
    # Success rate by brand: 2 / 3 and 1 / 1; by day for brand-1, the mart's captured_rate:
    #   01-05 1 / 1, 01-06 0 / 1 (pay2 never captured), 01-12 1 / 1.
    (
        "deposit_success_rate",
        ("brand",),
        [("brand-1", Decimal(2) / 3), ("brand-2", Decimal(1))],
        "select brand_id, sum(captured)::numeric / sum(intents) "
        "from gold.fct_deposit_funnel_daily group by 1",
    ),
    (
        "deposit_success_rate",
        ("metric_time__day", "brand"),
        [
            (datetime(2026, 1, 5), "brand-1", Decimal(1)),
            (datetime(2026, 1, 6), "brand-1", Decimal(0)),
            (datetime(2026, 1, 6), "brand-2", Decimal(1)),
            (datetime(2026, 1, 12), "brand-1", Decimal(1)),
        ],
        "select day, brand_id, captured_rate from gold.fct_deposit_funnel_daily",
    ),
    # DAU on a day: brand-1 01-06 p1 and p2 = 2, brand-2 q1 = 1 (one row each in the mart).
    # By week: the DAU of the week's last day with data (Sun 01-11: nobody; Sun 01-18: nobody;
    #   week of 02-02, last day 02-08: nobody) -> 0 for every brand.
    (
        "dau",
        ("metric_time__week", "brand"),
        [
            (W1, "brand-1", 0),
            (W1, "brand-2", 0),
            (W2, "brand-1", 0),
            (W2, "brand-2", 0),
            (datetime(2026, 1, 19), "brand-1", 0),
            (datetime(2026, 1, 19), "brand-2", 0),
            (datetime(2026, 1, 26), "brand-1", 0),
            (datetime(2026, 1, 26), "brand-2", 0),
            (W_FEB, "brand-1", 0),
            (W_FEB, "brand-2", 0),
        ],
        "select date_trunc('week', day), brand_id, dau from gold.fct_active_players_daily "
        "where extract(isodow from day) = 7 or day = '2026-02-08'",
    ),
    # WAU by week = the WAU of the week's last day: W1 (Sun 01-11): brand-1 p1, p2 = 2;
    #   brand-2 q1 = 1. W2 (01-18): brand-1 p1 (01-12) = 1; brand-2 0. Weeks of 01-19 and
    #   01-26: 0. Week of 02-02 (last day 02-08): brand-1 p1 (02-04) = 1, brand-2 0.
    (
        "wau",
        ("metric_time__week", "brand"),
        [
            (W1, "brand-1", 2),
            (W1, "brand-2", 1),
            (W2, "brand-1", 1),
            (W2, "brand-2", 0),
            (datetime(2026, 1, 19), "brand-1", 0),
            (datetime(2026, 1, 19), "brand-2", 0),
            (datetime(2026, 1, 26), "brand-1", 0),
            (datetime(2026, 1, 26), "brand-2", 0),
            (W_FEB, "brand-1", 1),
            (W_FEB, "brand-2", 0),
        ],
        "select date_trunc('week', day), brand_id, wau from gold.fct_active_players_daily "
        "where extract(isodow from day) = 7 or day = '2026-02-08'",
    ),
    # MAU by month = the MAU of the month's last day with data: January (01-31, the 30 days
    #   from 01-02): brand-1 p1, p2 = 2, brand-2 q1 = 1; February (02-08, from 01-10): brand-1
    #   p1 = 1, brand-2 0.
    (
        "mau",
        ("metric_time__month", "brand"),
        [
            (datetime(2026, 1, 1), "brand-1", 2),
            (datetime(2026, 1, 1), "brand-2", 1),
            (datetime(2026, 2, 1), "brand-1", 1),
            (datetime(2026, 2, 1), "brand-2", 0),
        ],
        "select date_trunc('month', day), brand_id, mau from gold.fct_active_players_daily "
        "where day in ('2026-01-31', '2026-02-08')",
    ),
    # DAU by day over both brands (a player is in one brand, so brands add up): 01-05 p1 = 1,
    #   01-06 p1, p2, q1 = 3, 01-07 q1 = 1, 01-12 p1 = 1, 02-04 p1 = 1; every other day of the
    #   calendar 01-05..02-08 has 0.
    (
        "dau",
        ("metric_time__day",),
        [
            (datetime(2026, 1, 5) + timedelta(days=n), ACTIVE_DAYS.get(n, 0))
            for n in range((date(2026, 2, 8) - date(2026, 1, 5)).days + 1)
        ],
        "select day, sum(dau) from gold.fct_active_players_daily group by 1",
    ),
    # Retention, registration cohorts: brand-1 01-05 {p1, p2}, brand-1 01-12 {p3}, brand-2
    #   01-06 {q1}. D1: p1 and p2 bet on 01-06, q1 on 01-07, p3 never: (2 + 0 + 1) / 4 = 3/4;
    #   by brand 2/3 and 1/1. D7: p1 on 01-12 only: 1/4. D30 (cohort + 30 must be <= 02-08):
    #   01-05 -> 02-04 (p1 bets), 01-06 -> 02-05 (nobody); 01-12 -> 02-11 not mature, left
    #   out: 1 / (2 + 1) = 1/3.
    (
        "registration_retention_d1",
        ("brand",),
        [("brand-1", Decimal(2) / 3), ("brand-2", Decimal(1))],
        "select brand_id, sum(retained_players)::numeric / sum(cohort_size) from "
        "gold.fct_retention where cohort_type = 'registration' and day_offset = 1 group by 1",
    ),
    (
        "registration_retention_d1",
        (),
        [(Decimal(3) / 4,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'registration' and day_offset = 1",
    ),
    (
        "registration_retention_d7",
        (),
        [(Decimal(1) / 4,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'registration' and day_offset = 7",
    ),
    (
        "registration_retention_d30",
        (),
        [(Decimal(1) / 3,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'registration' and day_offset = 30",
    ),
    # One cohort: the mart's retention_rate. brand-1 registered 01-05, D7: p1 of 2 = 1/2.
    (
        "registration_retention_d7",
        ("metric_time__day", "brand"),
        [
            (datetime(2026, 1, 5), "brand-1", Decimal(1) / 2),
            (datetime(2026, 1, 6), "brand-2", Decimal(0)),
            (datetime(2026, 1, 12), "brand-1", Decimal(0)),
        ],
        "select cohort_date, brand_id, retention_rate from gold.fct_retention "
        "where cohort_type = 'registration' and day_offset = 7",
    ),
    # First-deposit cohorts: brand-1 01-05 {p1}, brand-1 01-12 {p3}, brand-2 01-06 {q1}.
    #   D1: p1 (01-06), q1 (01-07): 2/3. D7: p1 (01-12): 1/3. D30: 01-05 -> 02-04 p1 retained,
    #   01-06 -> 02-05 not, 01-12 not mature: 1/2.
    (
        "first_deposit_retention_d1",
        (),
        [(Decimal(2) / 3,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'first_deposit' and day_offset = 1",
    ),
    (
        "first_deposit_retention_d7",
        (),
        [(Decimal(1) / 3,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'first_deposit' and day_offset = 7",
    ),
    (
        "first_deposit_retention_d30",
        (),
        [(Decimal(1) / 2,)],
        "select sum(retained_players)::numeric / sum(cohort_size) from gold.fct_retention "
        "where cohort_type = 'first_deposit' and day_offset = 30",
    ),
    # LTV, EUR cents. NGR per player and day: p1 01-05 1000 - 300 - 100 = 600, 01-06 500 - 900
    #   = -400, 01-12 200, 02-04 100; p2 01-06 400 - 100 - 50 = 250; p3 0; q1 01-06 2000 - 1500
    #   - 20 - 60 = 420 USD, 01-07 800 USD: 420 x 0.925552 + 800 x 0.924950 = 1128.69 -> 1129.
    # Registration D7: brand-1 01-05 through 01-12: 600 - 400 + 200 + 250 = 650; 01-12 {p3}: 0;
    #   q1: 1129. (650 + 0 + 1129) / (2 + 1 + 1) = 1779 / 4. D30: 01-12 not mature:
    #   (650 + 100 + 1129) / (2 + 1) = 1879 / 3. D90: no mature cohort, no answer.
    (
        "registration_ltv_d7",
        (),
        [(Decimal(1779) / 4,)],
        "select sum(cumulative_ngr_eur_minor)::numeric / sum(cohort_size) from gold.fct_ltv "
        "where cohort_type = 'registration' and day_offset = 7",
    ),
    (
        "registration_ltv_d30",
        (),
        [(Decimal(1879) / 3,)],
        "select sum(cumulative_ngr_eur_minor)::numeric / sum(cohort_size) from gold.fct_ltv "
        "where cohort_type = 'registration' and day_offset = 30",
    ),
    # One cohort: the mart's ltv_eur_minor. brand-1 01-05 D7: 650 / 2 = 325; brand-2 01-06:
    #   1129 / 1 (the mart rounds the unrounded 1128.69 once: 1129 as well); 01-12: 0.
    (
        "registration_ltv_d7",
        ("metric_time__day", "brand"),
        [
            (datetime(2026, 1, 5), "brand-1", 325),
            (datetime(2026, 1, 6), "brand-2", 1129),
            (datetime(2026, 1, 12), "brand-1", 0),
        ],
        "select cohort_date, brand_id, ltv_eur_minor from gold.fct_ltv "
        "where cohort_type = 'registration' and day_offset = 7",
    ),
    # First deposit D7: p1 through 01-12 600 - 400 + 200 = 400, p3 0, q1 1129: 1529 / 3.
    #   D30: p1 through 02-04 500, q1 1129, p3 not mature: 1629 / 2.
    (
        "first_deposit_ltv_d7",
        (),
        [(Decimal(1529) / 3,)],
        "select sum(cumulative_ngr_eur_minor)::numeric / sum(cohort_size) from gold.fct_ltv "
        "where cohort_type = 'first_deposit' and day_offset = 7",
    ),
    (
        "first_deposit_ltv_d30",
        (),
        [(Decimal(1629) / 2,)],
        "select sum(cumulative_ngr_eur_minor)::numeric / sum(cohort_size) from gold.fct_ltv "
        "where cohort_type = 'first_deposit' and day_offset = 30",
    ),
    # The inputs of the ratios, by themselves, by cohort type (every row of every mature
    #   offset: figures to filter, not to read alone). Registration: 01-05 brand-1 (size 2)
    #   offsets 0..30 (02-04 <= 02-08): 31 rows; 01-12 brand-1 (1) offsets 0..27: 28 rows;
    #   01-06 brand-2 (1): 31 rows -> 62 + 28 + 31 = 121 members. First deposit, sizes 1:
    #   31 + 28 + 31 = 90. Retained, registration: 01-05 cohort D0 p1 (b1), D1 p1 and p2, D7
    #   p1, D30 p1 = 5; q1 D0, D1 = 2; p3 0 -> 7. First deposit: p1 D0, D1, D7, D30 = 4, q1 2
    #   -> 6.
    (
        "retention_cohort_members",
        ("retention_cohort__cohort_type",),
        [("first_deposit", 90), ("registration", 121)],
        "select cohort_type, sum(cohort_size) from gold.fct_retention group by 1",
    ),
    (
        "retained_players",
        ("retention_cohort__cohort_type",),
        [("first_deposit", 6), ("registration", 7)],
        "select cohort_type, sum(retained_players) from gold.fct_retention group by 1",
    ),
]


@pytest.mark.parametrize(
    ("metric", "group_by", "hand", "mart_sql"),
    CASES,
    ids=[f"{c[0]}-by-{'-'.join(c[1]) or 'all'}" for c in CASES],
)
def test_metric_equals_the_mart_and_the_hand_value(
    warehouse: Warehouse,
    metric: str,
    group_by: tuple[str, ...],
    hand: list[tuple[Any, ...]],
    mart_sql: str,
) -> None:
    answer = _ask(warehouse, metric, *group_by)
    mart = _mart(warehouse, mart_sql)
    assert _close(answer, mart), (answer, mart)
    assert _close(answer, sorted(hand, key=lambda r: tuple(str(v) for v in r))), (answer, hand)


def test_a_filter_selects_the_rows_of_a_ratio_input(warehouse: Warehouse) -> None:
    # Day-7 rows of fct_ltv (the LTV ratios' inputs): registration cumulative NGR 650 + 0 +
    # 1129 = 1779 over 2 + 1 + 1 = 4 members; first deposit 400 + 0 + 1129 = 1529 over 3.
    where = ["{{ Dimension('ltv_cohort__day_offset') }} = 7"]
    by = ["ltv_cohort__cohort_type"]
    answer = query(warehouse.layer, ["cumulative_ngr_eur", "ltv_cohort_members"], by, where=where)
    rows = sorted(
        tuple(
            row[answer.columns.index(c)] for c in (*by, "cumulative_ngr_eur", "ltv_cohort_members")
        )
        for row in answer.rows
    )
    mart = _mart(
        warehouse,
        "select cohort_type, sum(cumulative_ngr_eur_minor), sum(cohort_size) from gold.fct_ltv "
        "where day_offset = 7 group by 1",
    )
    assert _close(rows, mart)
    assert _close(rows, [("first_deposit", 1529, 3), ("registration", 1779, 4)])


def test_ltv_d90_has_no_answer_before_a_cohort_is_90_days_old(warehouse: Warehouse) -> None:
    # The last day with data is 02-08: no cohort's day 90 is mature, the mart has no such row,
    # and the metric has no value (never a ratio over immature members).
    assert sql(warehouse.url, "select count(*) from gold.fct_ltv where day_offset = 90") == [(0,)]
    for metric in ("registration_ltv_d90", "first_deposit_ltv_d90"):
        answer = query(warehouse.layer, [metric])
        assert [row for row in answer.rows if row[-1] is not None] == []


def test_answers_come_from_gold_not_from_an_unpublished_candidate(warehouse: Warehouse) -> None:
    # The fixture added 1,000,000 to ngr_eur_minor and stake_minor of every candidate row after
    # the publication: gold still holds the published 450 + 200 + 100 and 1129.
    candidate = _mart(
        warehouse,
        "select brand_id, sum(ngr_eur_minor) from gold_candidate.fct_revenue_daily group by 1",
    )
    assert candidate == [("brand-1", 4_000_750), ("brand-2", 2_001_129)]  # 4 and 2 rows
    assert _ask(warehouse, "ngr", "brand") == [("brand-1", 750), ("brand-2", 1129)]
    answer = query(warehouse.layer, ["stake"], ["revenue__currency"])
    assert '"gold"."fct_revenue_daily"' in answer.sql
    assert "gold_candidate" not in answer.sql


def test_dwh_metrics_query_prints_ngr_by_week_and_brand(
    warehouse: Warehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["metrics", "query", "--metrics", "ngr", "--group-by", "metric_time__week,brand"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    # a header, a rule, then one line per week and brand (4, as in the first case above)
    rows = [line.split() for line in lines[2:] if line.strip()]
    assert sorted(rows) == [
        ["2026-01-05T00:00:00", "brand-1", "450"],
        ["2026-01-05T00:00:00", "brand-2", "1129"],
        ["2026-01-12T00:00:00", "brand-1", "200"],
        ["2026-02-02T00:00:00", "brand-1", "100"],
    ]


def test_dwh_metrics_csv_and_list(warehouse: Warehouse, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["metrics", "query", "--metrics", "deposit_success_rate", "--group-by", "brand", "--csv"]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "brand,deposit_success_rate"
    rows = sorted(line.split(",") for line in out[1:])
    # brand-1: pay1 and pay3 of 3 intents captured; brand-2: 1 of 1
    assert [brand for brand, _ in rows] == ["brand-1", "brand-2"]
    assert [float(rate) for _, rate in rows] == pytest.approx([2 / 3, 1.0])

    assert main(["metrics", "list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    manifest = yaml.safe_load(SEMANTIC_YML.read_text())
    assert listed == {metric["name"] for metric in manifest["metrics"]}
    # every metric the issue asks for
    assert {
        "ggr",
        "ngr",
        "rtp",
        "stake",
        "deposit_success_rate",
        "dau",
        "wau",
        "mau",
        "registration_retention_d1",
        "registration_retention_d7",
        "registration_retention_d30",
        "first_deposit_retention_d1",
        "first_deposit_retention_d7",
        "first_deposit_retention_d30",
        "registration_ltv_d30",
    } <= listed


def test_published_relations_point_the_semantic_models_at_gold() -> None:
    manifest = {
        "semantic_models": [
            {
                "name": "revenue",
                "node_relation": {
                    "alias": "fct_revenue_daily",
                    "schema_name": "gold_candidate",
                    "database": "other_db",
                    "relation_name": '"other_db"."gold_candidate"."fct_revenue_daily"',
                },
            }
        ],
        "project_configuration": {
            "time_spines": [
                {
                    "node_relation": {
                        "alias": "sem_time_spine_daily",
                        "schema_name": "semantic",
                        "database": "other_db",
                        "relation_name": '"other_db"."semantic"."sem_time_spine_daily"',
                    }
                }
            ]
        },
    }
    published = published_relations(manifest)
    assert published["semantic_models"][0]["node_relation"] == {
        "alias": "fct_revenue_daily",
        "schema_name": "gold",
        "database": None,
        "relation_name": '"gold"."fct_revenue_daily"',
    }
    spine = published["project_configuration"]["time_spines"][0]["node_relation"]
    assert spine["relation_name"] == '"semantic"."sem_time_spine_daily"'
    # the input is left as it was
    assert manifest["semantic_models"][0]["node_relation"]["schema_name"] == "gold_candidate"

    manifest["semantic_models"][0]["node_relation"]["schema_name"] = "silver"
    with pytest.raises(ValueError, match="over the gold marts"):
        published_relations(manifest)


def test_dwh_metrics_list_verbose_and_explain(
    warehouse: Warehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["metrics", "list", "-v"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ngr = lines.index(next(line for line in lines if line.startswith("ngr ")))
    assert lines[ngr + 1].strip().startswith("Net gaming revenue in EUR cents")
    group_by = lines[ngr + 2].split("group by: ")[1].split(", ")
    assert {"brand", "metric_time", "revenue__currency", "revenue__region"} <= set(group_by)

    assert main(["metrics", "query", "--metrics", "ngr", "--group-by", "brand", "--explain"]) == 0
    explained = capsys.readouterr().out
    assert '"gold"."fct_revenue_daily"' in explained
    assert "gold_candidate" not in explained


def test_the_time_spine_is_a_fixed_calendar(warehouse: Warehouse) -> None:
    # 2000-01-01 .. 2099-12-31: 100 years of 365 days plus 25 leap days (2000, 2004, .., 2096)
    assert sql(
        warehouse.url,
        "select count(*), count(distinct date_day), min(date_day), max(date_day) "
        "from semantic.sem_time_spine_daily",
    ) == [(36525, 36525, date(2000, 1, 1), date(2099, 12, 31))]


def test_before_any_publication_dwh_metrics_says_so(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # a fresh, empty database: no gold yet, and never an answer from elsewhere
    assert main(["metrics", "query", "--metrics", "ngr", "--group-by", "brand"]) == 1
    err = capsys.readouterr().err
    assert 'not published yet: "gold"."fct_active_players_daily"' in err
    assert "`dwh run`" in err


def test_a_brand_reader_gets_the_metrics_of_its_brands_only(warehouse: Warehouse) -> None:
    # The engine connects as the URL's login: row-level security on gold applies to metric
    # queries as to any other. brand-2 alone: NGR 1129, 1 of 1 deposit captured.
    name = f"sem_partner_{uuid.uuid4().hex[:8]}"  # roles are server-wide: unique per run
    with connect(warehouse.url) as conn:
        login = grant_brand_reader(conn, name, ["brand-2"])
    assert login.password is not None
    with semantic_layer(login_url(warehouse.url, name, login.password)) as layer:
        ngr = query(layer, ["ngr"], ["brand"])
        assert ngr.rows == [("brand-2", 1129)]
        rate = query(layer, ["deposit_success_rate"])
        assert [float(row[0]) for row in rate.rows] == [1.0]
