"""`dwh report`: the HTML page from gold holds the hand-computed numbers, loads nothing, and
renders in a real headless browser (Debian's chromium) without an error.

One hand-made event set (two brands, three days, EUR and USD) is landed, built with dbt and
published to gold once for the module (warehouse/publish.py), then one publication attempt
is recorded as blocked after it (warehouse/publish.record_blocked, with check results shaped
as the GX step writes them). Every expected number below is computed by hand from the events.

Days: D1 = 2026-03-01, D2 = 2026-03-02, D3 = 2026-03-03 (the last day with data). FX: USD
2026-03-02 is 0.896487 EUR per dollar (dbt_project/seeds/fx_rates_daily.csv); EUR at par.

brand-a (EUR): pa1 registers D1, bets 1000 and wins 400 on D1 (GGR 600), deposits on D1
(intent, authorized, captured with a fee of 50, credited), consumes a bonus of 100 on D2,
bets 200 and wins 1000 on D3 (GGR -800); pa2 registers D1, bets 500 and wins 0 on D2.
brand-b (USD): pb1 registers D2, bets 2000 and wins 500 on D2 (GGR 1500 USD), starts a
deposit on D2 that goes no further (an intent only).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dwh.report import write_report
from dwh.report_data import (
    CurrencyTotal,
    Publication,
    ReportData,
    RevenueDay,
)
from dwh.report_page import render
from tests.events import at, build, event, land_events
from warehouse.publish import publish, record_blocked
from warehouse.settings import PROJECT_ROOT

D1, D2, D3 = "2026-03-01", "2026-03-02", "2026-03-03"
MARTS = (
    "fct_revenue_daily",
    "fct_active_players_daily",
    "fct_retention",
    "fct_ltv",
    "fct_deposit_funnel_daily",
)
SELECT = ("--select", *(f"+{m}" for m in MARTS), "--exclude-resource-type", "unit_test")
CHARTS = 2 + 2 + 2 + 2 + 1  # GGR, NGR; active per brand; retention per cohort type; LTV; funnel
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
CHROMIUM_SECONDS = 120


def _bet(bet: str, when: str, stake: int, win: int, currency: str, **who: Any) -> list[dict]:
    common = {"bet_id": bet, "game_id": "g1", "provider_id": "pr1", "currency": currency}
    return [
        event("bet.placed", at(when), stake_minor=stake, in_bonus=False, **common, **who),
        event(
            "bet.settled",
            at(when, minutes=1),
            stake_minor=stake,
            win_minor=win,
            in_bonus=False,
            **common,
            **who,
        ),
    ]


def _payment(step: str, pay: str, when: str, currency: str, **extra: Any) -> dict:
    return event(
        f"payment.{step}",
        at(when),
        payment_id=pay,
        amount_minor=1000,
        currency=currency,
        method="card",
        **extra,
    )


PA1 = {"brand": "brand-a", "player": "pa1", "region": "EU"}
PA2 = {"brand": "brand-a", "player": "pa2", "region": "EU"}
PB1 = {"brand": "brand-b", "player": "pb1", "region": "NA"}

EVENTS = [
    event("player.registered", at(f"{D1} 09:00"), **PA1),
    *_bet("b1", f"{D1} 10:00", 1000, 400, "EUR", **PA1),
    _payment("intent", "pay1", f"{D1} 11:00", "EUR", **PA1),
    _payment("authorized", "pay1", f"{D1} 11:01", "EUR", **PA1),
    _payment("captured", "pay1", f"{D1} 11:02", "EUR", fee_minor=50, **PA1),
    event(
        "wallet.credit",
        at(f"{D1} 11:03"),
        amount_minor=1000,
        currency="EUR",
        reason="deposit",
        reference_id="pay1",
        **PA1,
    ),
    event("player.registered", at(f"{D1} 12:00"), **PA2),
    *_bet("b2", f"{D2} 12:00", 500, 0, "EUR", **PA2),
    event(
        "bonus.consumed", at(f"{D2} 13:00"), bonus_id="bo1", amount_minor=100, currency="EUR", **PA1
    ),
    *_bet("b3", f"{D3} 09:00", 200, 1000, "EUR", **PA1),
    event("player.registered", at(f"{D2} 08:00"), **PB1),
    *_bet("b4", f"{D2} 08:30", 2000, 500, "USD", **PB1),
    _payment("intent", "pay2", f"{D2} 09:00", "USD", **PB1),
]

# GX outcomes as orchestration/assets/publication.py records them for a blocked attempt
BLOCKED_CHECKS = {
    "fct_revenue_daily": {
        "success": False,
        "outcomes": [
            {"expectation": "ngr_formula", "success": False, "unexpected_count": 3, "sample": []},
            {"expectation": "unique_grain", "success": True, "unexpected_count": 0, "sample": []},
        ],
    },
    "fct_ltv": {"success": True, "outcomes": []},
}
BLOCKED_MESSAGE = "fct_revenue_daily: ngr_formula failed <b>3 rows</b> & more"


# -- reading the page ---------------------------------------------------------------------------
class _Page(HTMLParser):
    """The page's table rows (their data attributes, per table), heat-map cells (per chart)
    and every element's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.cells: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._table: str | None = None
        self._svg: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append((tag, values))
        if tag == "table":
            self._table = values.get("data-table")
        elif tag == "tr" and self._table:
            data = {k[5:]: v for k, v in values.items() if k.startswith("data-")}
            if data:
                self.rows[self._table].append(data)
        elif tag == "svg":
            self._svg = values.get("id")
        elif tag == "rect" and values.get("data-mark") == "cell" and self._svg:
            key = (values["data-row"], values["data-column"])
            self.cells[self._svg][key] = float(values["data-value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _ints(rows: list[dict[str, str]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(int(r[k]) if r[k].lstrip("-").isdigit() else r[k] for k in keys) for r in rows]


# -- the module's warehouse ---------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    url: str
    html: str
    path: Path
    publication_id: int
    blocked_id: int


@pytest.fixture(scope="module")
def published(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Published:
    home = tmp_path_factory.mktemp("report")
    land_events(module_warehouse_url, home / "events.ndjson", EVENTS)
    build(module_warehouse_url, *SELECT)
    with psycopg.connect(module_warehouse_url, autocommit=True) as conn:
        publication = publish(conn, MARTS, run_id="report-test-run")
        blocked = record_blocked(
            conn,
            MARTS,
            run_id="report-test-blocked",
            check_results=BLOCKED_CHECKS,
            message=BLOCKED_MESSAGE,
        )
    written = write_report(home / "out" / "index.html", module_warehouse_url)
    return Published(
        module_warehouse_url,
        written.path.read_text(encoding="utf-8"),
        written.path,
        publication.publication_id,
        blocked,
    )


def test_revenue_per_day_and_brand_in_eur(published: Published) -> None:
    page = parse(published.html)
    # brand-a D1: GGR 1000 - 400 = 600, NGR 600 - fee 50 = 550; D2: GGR 500 - 0 = 500, NGR
    # 500 - bonus 100 = 400; D3: GGR 200 - 1000 = -800 = NGR. brand-b D2: GGR 2000 - 500 =
    # 1500 USD x 0.896487 = 1344.7305 -> 1345 EUR cents, NGR the same (no cost).
    assert _ints(page.rows["revenue"], "day", "brand", "ggr-eur-minor", "ngr-eur-minor") == [
        (D1, "brand-a", 600, 550),
        (D2, "brand-a", 500, 400),
        (D2, "brand-b", 1345, 1345),
        (D3, "brand-a", -800, -800),
    ]
    assert all(r["unconverted-rows"] == "0" for r in page.rows["revenue"])
    # displayed in EUR with two decimals: 13.45 EUR, -8.00 EUR
    assert "13.45" in page.all_text and "-8.00" in page.all_text


def test_revenue_by_currency_is_never_mixed(published: Published) -> None:
    page = parse(published.html)
    # brand-a EUR: stake 1000 + 500 + 200 = 1700, win 400 + 0 + 1000 = 1400, GGR 300,
    # NGR 300 - 100 - 50 = 150; brand-b USD: stake 2000, win 500, GGR = NGR = 1500 (USD cents)
    keys = ("brand", "currency", "stake-minor", "win-minor", "ggr-minor", "ngr-minor")
    assert _ints(page.rows["revenue-by-currency"], *keys) == [
        ("brand-a", "EUR", 1700, 1400, 300, 150),
        ("brand-b", "USD", 2000, 500, 1500, 1500),
    ]
    assert "15.00" in page.all_text  # USD 1500 cents, shown in dollars next to "USD"


def test_dau_wau_mau(published: Published) -> None:
    page = parse(published.html)
    # active = placed a bet or was credited a deposit. brand-a: pa1 on D1 and D3, pa2 on D2:
    # dau 1, 1, 1; wau = mau: {pa1} = 1, {pa1, pa2} = 2, 2. brand-b: pb1 on D2 only; a row on
    # every day of the calendar D1..D3 (zeros before its first event): dau 0, 1, 0; wau = mau
    # 0, 1, 1.
    assert _ints(page.rows["active"], "day", "brand", "dau", "wau", "mau") == [
        (D1, "brand-a", 1, 1, 1),
        (D1, "brand-b", 0, 0, 0),
        (D2, "brand-a", 1, 2, 2),
        (D2, "brand-b", 1, 1, 1),
        (D3, "brand-a", 1, 2, 2),
        (D3, "brand-b", 0, 1, 1),
    ]


def test_retention_heat_map(published: Published) -> None:
    page = parse(published.html)
    # registration cohorts, brands summed: D1 = {pa1, pa2} (size 2): a bet on D1 (pa1), D2
    # (pa2), D3 (pa1): 1 of 2 each offset 0, 1, 2. D2 = {pb1} (size 1): bet on D2 (1 of 1),
    # none on D3 (0 of 1). Offsets after D3 are not mature: no cell.
    # first_deposit cohorts: D1 = {pa1} (captured on D1): bets on D1 and D3: 1, 0, 1 of 1.
    assert page.cells["chart-retention-1"] == {
        (D1, "0"): 0.5,
        (D1, "1"): 0.5,
        (D1, "2"): 0.5,
        (D2, "0"): 1.0,
        (D2, "1"): 0.0,
    }
    assert page.cells["chart-retention-0"] == {(D1, "0"): 1.0, (D1, "1"): 0.0, (D1, "2"): 1.0}
    # the table next to it: D0 and D1 counts, D7 not mature
    assert _ints(page.rows["retention-registration"], "cohort", "size", "d0", "d1") == [
        (D1, 2, 1, 1),
        (D2, 1, 1, 0),
    ]
    assert "d7" not in page.rows["retention-registration"][0]


def test_ltv_curves(published: Published) -> None:
    page = parse(published.html)
    # registration, brand-a, cohort D1 {pa1, pa2}: NGR pa1 D1 1000 - 400 - 50 = 550; D2 pa2
    # 500, pa1 -100; D3 pa1 200 - 1000 = -800: cumulative 550, 950, 150 over 2 players.
    # brand-b, cohort D2 {pb1}: 1500 USD x 0.896487 = 1344.73 -> 1345 on D0 and D1 (D3).
    keys = ("brand", "offset", "players", "cumulative-ngr-eur-minor")
    assert _ints(page.rows["ltv-registration"], *keys) == [
        ("brand-a", 0, 2, 550),
        ("brand-a", 1, 2, 950),
        ("brand-a", 2, 2, 150),
        ("brand-b", 0, 1, 1345),
        ("brand-b", 1, 1, 1345),
    ]
    # first_deposit, brand-a, cohort D1 {pa1}: 550, 550 - 100 = 450, 450 - 800 = -350
    assert _ints(page.rows["ltv-first_deposit"], *keys) == [
        ("brand-a", 0, 1, 550),
        ("brand-a", 1, 1, 450),
        ("brand-a", 2, 1, -350),
    ]
    # LTV shown in EUR per player: 950 / 2 = 475 cents = 4.75
    assert "4.75" in page.all_text


def test_deposit_funnel(published: Published) -> None:
    page = parse(published.html)
    # brand-a: pay1 intent -> authorized -> captured -> credited within the hour: 1, 1, 1, 1;
    # brand-b: pay2 intent only: 1, 0, 0, 0. All brands: 2, 1, 1, 1.
    keys = ("brand", "intents", "authorized", "captured", "credited")
    assert _ints(page.rows["funnel"], *keys) == [
        ("brand-a", 1, 1, 1, 1),
        ("brand-b", 1, 0, 0, 0),
    ]
    bars = [
        (a["data-step"], a["data-count"]) for t, a in page.elements if a.get("data-mark") == "bar"
    ]
    assert bars == [("intents", "2"), ("authorized", "1"), ("captured", "1"), ("credited", "1")]


def test_latest_publication_and_its_checks(published: Published) -> None:
    page = parse(published.html)
    latest = [a for _, a in page.elements if a.get("id") == "latest-publication"]
    assert [a["data-publication-id"] for a in latest] == [str(published.publication_id)]
    # row counts of the publication, as publish() counted them: revenue 4 rows (the four
    # (day, brand) pairs above, one region and currency each); active players 3 days x 2
    # brands = 6; deposit funnel 2 (one per brand, day, region and method).
    counts = {r["mart"]: int(r["rows"]) for r in page.rows["published-rows"]}
    assert counts["fct_revenue_daily"] == 4
    assert counts["fct_active_players_daily"] == 6
    assert counts["fct_deposit_funnel_daily"] == 2
    assert set(counts) == set(MARTS)
    # the blocked attempt after it: named, with its failing expectation; gold unchanged
    attempts = [a for _, a in page.elements if "attempt" in a.get("class", "").split()]
    assert [(a["data-publication-id"], a["data-status"]) for a in attempts] == [
        (str(published.blocked_id), "blocked")
    ]
    checks = {r["mart"]: (r["success"], r["failed"]) for r in page.rows["checks"]}
    assert checks == {"fct_ltv": ("True", "0"), "fct_revenue_daily": ("False", "1")}
    assert "1 publication attempt(s) since were blocked" in page.all_text


def test_every_value_is_escaped(published: Published) -> None:
    # the blocked attempt's message holds markup: it reaches the page as text, not as tags
    assert "ngr_formula failed &lt;b&gt;3 rows&lt;/b&gt; &amp; more" in published.html
    assert "<b>3 rows</b>" not in published.html


def test_the_page_loads_nothing(published: Published) -> None:
    html = published.html
    # no external resource of any kind: scripts, styles, images, fonts, frames, imports
    assert not re.search(r"""\bsrc\s*=|<link\b|@import|url\(|<iframe|<img""", html, re.I)
    hrefs = re.findall(r"""href\s*=\s*["']([^"']*)""", html)
    assert hrefs and all(h.startswith("#") for h in hrefs), hrefs
    assert not re.search(r"https?://", html)


def _blocked_only(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        record_blocked(conn, MARTS, run_id="r", check_results=BLOCKED_CHECKS, message="x")


def test_an_empty_gold_gives_a_page_that_says_so(warehouse_url: str, tmp_path: Path) -> None:
    # a database the pipeline never touched: no audit schema, no gold
    written = write_report(tmp_path / "empty.html", warehouse_url)
    page = parse(written.path.read_text())
    assert any(a.get("id") == "no-publication" for _, a in page.elements)
    assert not page.rows and 'data-charts="0"' in written.path.read_text()
    # then an attempt that was blocked: still nothing published, the attempt is shown
    _blocked_only(warehouse_url)
    page = parse(write_report(tmp_path / "empty.html", warehouse_url).path.read_text())
    assert any(a.get("id") == "no-publication" for _, a in page.elements)
    assert [r["mart"] for r in page.rows["checks"]] == ["fct_ltv", "fct_revenue_daily"]


def test_currencies_without_a_rate_are_named_not_summed() -> None:
    # rendering only: a day whose USD row had no FX rate (NULL in the *_eur_minor columns)
    publication = Publication(
        1, "r", dt.datetime(2026, 3, 4, tzinfo=dt.UTC), "published", MARTS, {}, {}, None
    )
    data = ReportData(
        generated_at=dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
        latest=publication,
        revenue=[RevenueDay(dt.date(2024, 12, 31), "brand-a", 100, 90, 1)],
        currencies=[
            CurrencyTotal("brand-a", "EUR", 2, 100, 0, 100, 90, 0),
            CurrencyTotal("brand-a", "USD", 2, 700, 200, 500, 500, 1),
        ],
    )
    page = parse(render(data))
    assert any(a.get("id") == "unconverted" for _, a in page.elements)
    assert [r["unconverted-rows"] for r in page.rows["revenue-by-currency"]] == ["0", "1"]
    assert "1 rows not" in page.all_text


def _dwh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dwh.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dwh_report_command(published: Published, tmp_path: Path) -> None:
    env = {"DWH_DATABASE_URL": published.url, "DWH_HOME": str(tmp_path / "home")}
    default = _dwh("report", env=env)
    assert default.returncode == 0, default.stderr
    assert f"report of publication {published.publication_id}" in default.stdout
    assert "1 publication attempt(s) since were blocked" in default.stdout
    page = tmp_path / "home" / "report" / "index.html"  # DWH_HOME/report/index.html
    assert str(page) in default.stdout
    out = tmp_path / "elsewhere" / "gold.html"
    assert _dwh("report", "--out", str(out), env=env).returncode == 0
    # the same snapshot of gold gives the same page, but for the time it was generated
    generated = re.compile(r"Report generated [^<]*")
    assert generated.sub("", out.read_text()) == generated.sub("", published.html)
    assert generated.sub("", page.read_text()) == generated.sub("", published.html)


# -- in a real browser --------------------------------------------------------------------------
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is not installed, and the report's render test needs a headless browser: "
            "install it (Debian/Ubuntu: `apt-get install chromium`), then run the tests again",
            pytrace=False,
        )
    return found


def test_a_missing_chromium_fails_and_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a directory without any browser
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        chromium()


def run_chromium(page: Path, *args: str) -> str:
    """Chromium, headless, on `page` in a profile of its own; its stdout. Killed, with every
    child, when it takes longer than CHROMIUM_SECONDS."""
    profile = tempfile.mkdtemp(prefix="dwh-chromium-")
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends the renderers too
    )
    try:
        out, err = proc.communicate(timeout=CHROMIUM_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {CHROMIUM_SECONDS} s on {page}")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, err[-2000:]
    return out


def render_status(page: Path) -> dict[str, str]:
    """The attributes and text of #render-status in the DOM after the page's load event."""
    dom = run_chromium(page, "--dump-dom")
    match = re.search(r'<p id="render-status"([^>]*)>([^<]*)</p>', dom)
    assert match, dom[-2000:]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
    return {**attrs, "text": match.group(2)}


def test_the_report_renders_in_chromium_without_errors(published: Published) -> None:
    status = render_status(published.path)
    assert status["data-status"] == "ok", status["text"]
    assert status["data-charts-drawn"] == str(CHARTS)


def test_the_render_probe_catches_a_broken_page(published: Published, tmp_path: Path) -> None:
    # the same page with a script error and a chart that draws nothing: both reported
    broken = published.html.replace(
        "</body>",
        '<figure data-chart id="hollow"><svg viewBox="0 0 10 10"></svg></figure>'
        "<script>no_such_function();</script></body>",
    )
    path = tmp_path / "broken.html"
    path.write_text(broken, encoding="utf-8")
    status = render_status(path)
    assert status["data-status"] == "error"
    assert "no_such_function" in status["text"]
    assert "chart drew nothing: hollow" in status["text"]


def _png_byte_variety(png: bytes) -> int:
    """Distinct byte values in a PNG's decompressed image data: a blank page's rows filter to
    a handful of values, a page with text and charts to hundreds."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        if png[offset + 4 : offset + 8] == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(Counter(zlib.decompress(data)))


def test_the_report_screenshot_is_not_blank(published: Published, tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shots = {}
    for name, page in (("blank", blank), ("report", published.path)):
        shot = tmp_path / f"{name}.png"
        run_chromium(page, "--window-size=1000,1600", f"--screenshot={shot}")
        shots[name] = _png_byte_variety(shot.read_bytes())
    # the measure tells a blank page (4 values measured) from the report (256)
    assert shots["blank"] <= 8
    assert shots["report"] >= 64, shots
