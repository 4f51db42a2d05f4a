"""The report as one HTML page: inline CSS, inline SVG charts, one inline script, no URL.

Each section has its chart and, next to it, the numbers as a table whose rows carry the
values in data attributes (integers in minor units, as gold holds them), so a reader can
check a chart and a test can read the page. Money: EUR charts and tables use the `*_eur_minor`
columns (EUR cents); amounts in a row's own currency are shown in that currency only.

The script is the render probe: it records every error of the page (scripts, resources), and
on load checks that each chart drew marks with a size, then writes the outcome into
`#render-status` (`data-status` ok or error). A headless browser reading the DOM then knows
whether the page rendered (tests/test_report.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dwh.report_data import (
    ActiveDay,
    CurrencyTotal,
    FunnelTotal,
    LtvPoint,
    Publication,
    ReportData,
    RetentionCell,
    RevenueDay,
)
from dwh.report_svg import Series, esc, funnel_bars, heat_map, line_chart

EUR_UNITS = 2  # *_eur_minor columns are EUR cents
RETENTION_COHORTS_SHOWN = 60  # the most recent cohort days in each heat map
RETENTION_TABLE_OFFSETS = (0, 1, 7, 14, 30)
MESSAGE_CHARS = 4000

PROBE = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { errors.push('resource ' + (t.src || t.href)); }
    else { errors.push(String(e.message || e.type)); }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled rejection: ' + String(e.reason));
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push('console: ' + Array.prototype.join.call(arguments, ' '));
    return consoleError.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var charts = document.querySelectorAll('[data-chart]');
    var expected = Number(document.body.getAttribute('data-charts'));
    var drawn = 0;
    for (var i = 0; i < charts.length; i++) {
      var svg = charts[i].querySelector('svg');
      var box = svg ? svg.getBoundingClientRect() : null;
      var marks = svg ? svg.querySelectorAll('[data-mark]') : [];
      var sized = 0;
      for (var j = 0; j < marks.length; j++) {
        var b = marks[j].getBBox();
        if (b.width > 0 || b.height > 0) { sized++; }
      }
      if (box && box.width > 0 && box.height > 0 && sized > 0) { drawn++; }
      else { errors.push('chart drew nothing: ' + charts[i].id); }
    }
    if (charts.length !== expected) {
      errors.push('charts in the page: ' + charts.length + ', expected ' + expected);
    }
    var status = document.getElementById('render-status');
    status.setAttribute('data-status', errors.length ? 'error' : 'ok');
    status.setAttribute('data-charts-drawn', String(drawn));
    status.textContent = errors.length ? 'render errors: ' + errors.join('; ')
                                       : 'rendered ' + drawn + ' charts';
  });
})();
"""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 0 auto; max-width: 1040px; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta, .note, figcaption, #render-status { color: #555; font-size: 13px; }
.warning { background: #fff4e5; border-left: 4px solid #e69f00; padding: 8px 12px; }
.empty { background: #f3f6fa; border-left: 4px solid #0072b2; padding: 12px 16px; }
figure { margin: 8px 0 16px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: 3px 10px; text-align: right; }
th { background: #f6f6f6; } td.l, th.l { text-align: left; }
details > summary { cursor: pointer; color: #0072b2; margin: 4px 0; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.ok { color: #00704a; } .bad { color: #b00020; }
"""


def money(minor: int, units: int | None = EUR_UNITS) -> str:
    """Integer minor units as a decimal amount, '1,234.56'; unknown units: the minor units."""
    if units is None:
        return f"{minor:,} (minor units)"
    return f"{Decimal(minor).scaleb(-units):,.{units}f}"


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ordinal_label(x: float) -> str:
    return dt.date.fromordinal(round(x)).isoformat()


def _eur(minor: float) -> float:
    return minor / 10**EUR_UNITS


def _eur_axis(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def _attrs(**values: object) -> str:
    return "".join(f' data-{k.replace("_", "-")}="{esc(v)}"' for k, v in values.items())


def _table(
    name: str, head: Sequence[str], rows: Iterable[tuple[dict[str, object], Sequence[str]]]
) -> str:
    """A table whose first column is left-aligned; each row: (data attributes, cells)."""
    parts = [f'<table data-table="{esc(name)}"><thead><tr>']
    parts += [f'<th class="{"l" if i == 0 else ""}">{esc(h)}</th>' for i, h in enumerate(head)]
    parts.append("</tr></thead><tbody>")
    for attrs, cells in rows:
        parts.append(f"<tr{_attrs(**attrs)}>")
        parts += [f'<td class="{"l" if i == 0 else ""}">{esc(c)}</td>' for i, c in enumerate(cells)]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


class _Page:
    """Collects the sections and counts the charts the probe must find."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.charts = 0

    def add(self, html: str) -> None:
        self.parts.append(html)

    def chart(self, chart_id: str, svg: str, caption: str) -> None:
        self.charts += 1
        self.parts.append(
            f'<figure class="chart" data-chart id="{esc(chart_id)}-figure">'
            f"<figcaption>{esc(caption)}</figcaption>{svg}</figure>"
        )


def render(data: ReportData) -> str:
    page = _Page()
    _header(page, data)
    if data.latest is not None:
        _revenue(page, data.revenue, data.currencies, "fct_revenue_daily" in data.missing_marts)
        _active(page, data.active)
        _retention(page, data.retention)
        _ltv(page, data.ltv)
        _funnel(page, data.funnel)
    _publication(page, data)
    title = "gaming-dwh report"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style><script>{PROBE}</script></head>"
        f'<body data-charts="{page.charts}">'
        + "".join(page.parts)
        + '<p id="render-status" data-status="pending">not rendered by a browser yet</p>'
        "</body></html>\n"
    )


# -- header -------------------------------------------------------------------------------------
def _header(page: _Page, data: ReportData) -> None:
    page.add("<h1>gaming-dwh report</h1>")
    latest = data.latest
    if latest is None:
        page.add(
            '<div class="empty" id="no-publication"><strong>No publication yet: gold is '
            "empty.</strong> Nothing has passed its checks and been published. Run "
            "<code>dwh run</code> (or <code>dwh demo</code>), then <code>dwh report</code> "
            "again.</div>"
        )
    else:
        days = sorted({r.day for r in data.revenue} | {a.day for a in data.active})
        period = f"{days[0]} to {days[-1]} (UTC days)" if days else "no days"
        summary = _attrs(publication_id=latest.publication_id)
        page.add(
            f'<p class="meta" id="publication-summary"{summary}>'
            f"Gold as of publication {latest.publication_id}, published "
            f"{esc(_utc(latest.attempted_at))}. Data: {esc(period)}. Report generated "
            f"{esc(_utc(data.generated_at))}.</p>"
        )
    if data.later_attempt_count:
        page.add(
            f'<p class="warning" id="blocked-since">{data.later_attempt_count} publication '
            "attempt(s) since were blocked by their checks; gold still holds "
            + (f"publication {latest.publication_id}" if latest else "nothing")
            + ' (see <a href="#publication">the publication section</a>).</p>'
        )
    if data.missing_marts:
        page.add(
            f'<p class="warning" id="missing-marts">Not in gold: '
            f"{esc(', '.join(data.missing_marts))}.</p>"
        )


# -- revenue ------------------------------------------------------------------------------------
def _calendar(days: Iterable[dt.date]) -> list[int]:
    ordinals = [d.toordinal() for d in days]
    return list(range(min(ordinals), max(ordinals) + 1)) if ordinals else []


def _eur_per_brand(
    days: Sequence[RevenueDay], column: str, calendar: Sequence[int]
) -> list[Series]:
    """A series per brand of one EUR column over every day of the calendar, in EUR; 0 where
    the brand has no row (no revenue that day)."""
    by_brand: dict[str, dict[int, float]] = defaultdict(dict)
    for row in days:
        by_brand[row.brand_id][row.day.toordinal()] = _eur(getattr(row, column))
    return [
        Series(brand, [(x, by_brand[brand].get(x, 0.0)) for x in calendar])
        for brand in sorted(by_brand)
    ]


def _revenue(
    page: _Page, days: list[RevenueDay], currencies: list[CurrencyTotal], missing: bool
) -> None:
    page.add('<h2 id="revenue">GGR and NGR per day and brand</h2>')
    if missing or not days:
        page.add('<p class="note">No revenue in gold.fct_revenue_daily.</p>')
        return
    page.add(
        '<p class="note">In EUR: the sum of <code>ggr_eur_minor</code> and '
        "<code>ngr_eur_minor</code> of gold.fct_revenue_daily over the brand's regions and "
        "currencies, each row converted at the rate of its day. A day without a row has no "
        "revenue (0).</p>"
    )
    unconverted = sum(d.unconverted_rows for d in days)
    if unconverted:
        page.add(
            f'<p class="warning" id="unconverted">{unconverted} row(s) of gold.fct_revenue_daily '
            "are in a currency without an FX rate on or before their day: they are not in the "
            "EUR figures; the table by currency below shows them in their own currency.</p>"
        )
    calendar = _calendar(d.day for d in days)
    for key, label in (("ggr", "GGR"), ("ngr", "NGR")):
        series = _eur_per_brand(days, f"{key}_eur_minor", calendar)
        page.chart(
            f"chart-{key}",
            line_chart(
                f"chart-{key}",
                f"{label} per day and brand, EUR",
                series,
                x_label=_ordinal_label,
                y_unit="EUR",
                y_format=_eur_axis,
            ),
            f"{label} per UTC day, one line per brand, EUR.",
        )
    table = _table(
        "revenue",
        ("day", "brand", "GGR (EUR)", "NGR (EUR)", "rows not in EUR"),
        (
            (
                {
                    "day": d.day.isoformat(),
                    "brand": d.brand_id,
                    "ggr_eur_minor": d.ggr_eur_minor,
                    "ngr_eur_minor": d.ngr_eur_minor,
                    "unconverted_rows": d.unconverted_rows,
                },
                (
                    d.day.isoformat(),
                    d.brand_id,
                    money(d.ggr_eur_minor),
                    money(d.ngr_eur_minor),
                    str(d.unconverted_rows),
                ),
            )
            for d in days
        ),
    )
    page.add(_details(f"GGR and NGR per day and brand, EUR ({len(days)} rows)", table))
    page.add("<h3>By brand and currency, whole period, in the currency itself</h3>")
    page.add(
        _table(
            "revenue-by-currency",
            ("brand", "currency", "stake", "win", "GGR", "NGR", "in EUR figures"),
            (
                (
                    {
                        "brand": c.brand_id,
                        "currency": c.currency,
                        "stake_minor": c.stake_minor,
                        "win_minor": c.win_minor,
                        "ggr_minor": c.ggr_minor,
                        "ngr_minor": c.ngr_minor,
                        "unconverted_rows": c.unconverted_rows,
                    },
                    (
                        c.brand_id,
                        c.currency,
                        money(c.stake_minor, c.minor_units),
                        money(c.win_minor, c.minor_units),
                        money(c.ggr_minor, c.minor_units),
                        money(c.ngr_minor, c.minor_units),
                        "yes" if not c.unconverted_rows else f"{c.unconverted_rows} rows not",
                    ),
                )
                for c in currencies
            ),
        )
    )


# -- active players -----------------------------------------------------------------------------
def _active(page: _Page, rows: list[ActiveDay]) -> None:
    page.add('<h2 id="active">Active players: DAU, WAU, MAU</h2>')
    if not rows:
        page.add('<p class="note">No rows in gold.fct_active_players_daily.</p>')
        return
    page.add(
        '<p class="note">gold.fct_active_players_daily: distinct active players of the brand on '
        "the day (<code>dau</code>), over the 7 days (<code>wau</code>) and the 30 days "
        "(<code>mau</code>) ending that day. A player is a brand's player, so brands are "
        "shown apart.</p>"
    )
    by_brand: dict[str, list[ActiveDay]] = defaultdict(list)
    for row in rows:
        by_brand[row.brand_id].append(row)
    for number, brand in enumerate(sorted(by_brand)):
        brand_rows = by_brand[brand]
        series = [
            Series(
                metric.upper(), [(r.day.toordinal(), float(getattr(r, metric))) for r in brand_rows]
            )
            for metric in ("dau", "wau", "mau")
        ]
        chart_id = f"chart-active-{number}"
        page.chart(
            chart_id,
            line_chart(
                chart_id,
                f"Active players of {brand}",
                series,
                x_label=_ordinal_label,
                y_unit="players",
                y_format=lambda v: f"{v:,.0f}",
            ),
            f"{brand}: DAU, WAU and MAU per UTC day.",
        )
    table = _table(
        "active",
        ("day", "brand", "DAU", "WAU", "MAU"),
        (
            (
                {
                    "day": r.day.isoformat(),
                    "brand": r.brand_id,
                    "dau": r.dau,
                    "wau": r.wau,
                    "mau": r.mau,
                },
                (r.day.isoformat(), r.brand_id, f"{r.dau:,}", f"{r.wau:,}", f"{r.mau:,}"),
            )
            for r in rows
        ),
    )
    page.add(_details(f"DAU, WAU, MAU per day and brand ({len(rows)} rows)", table))


# -- retention ----------------------------------------------------------------------------------
def _retention(page: _Page, cells: list[RetentionCell]) -> None:
    page.add('<h2 id="retention">Retention per cohort</h2>')
    if not cells:
        page.add('<p class="note">No rows in gold.fct_retention.</p>')
        return
    page.add(
        '<p class="note">gold.fct_retention, all brands together: the share of a cohort '
        "(players whose first registration, or first captured deposit, fell on the cohort day) "
        "with a return event exactly N days later; the sum of <code>retained_players</code> "
        "over the sum of <code>cohort_size</code>. Only mature offsets have a cell; the number "
        f"in a cell is the percentage. The {RETENTION_COHORTS_SHOWN} most recent cohort days "
        "are shown.</p>"
    )
    by_type: dict[str, list[RetentionCell]] = defaultdict(list)
    for cell in cells:
        by_type[cell.cohort_type].append(cell)
    for number, kind in enumerate(sorted(by_type)):
        kind_cells = by_type[kind]
        cohorts = sorted({c.cohort_date for c in kind_cells})[-RETENTION_COHORTS_SHOWN:]
        recent = set(cohorts)
        shown = [c for c in kind_cells if c.cohort_date in recent]
        offsets = sorted({c.day_offset for c in shown})
        values = {
            (c.cohort_date.isoformat(), c.day_offset): (
                c.retained_players / c.cohort_size if c.cohort_size else 0.0,
                f"{kind} cohort {c.cohort_date}, day {c.day_offset}: {c.retained_players} of "
                f"{c.cohort_size} ({_ratio(c.retained_players, c.cohort_size)})",
            )
            for c in shown
        }
        chart_id = f"chart-retention-{number}"
        page.add(f"<h3>Cohort: {esc(kind)}</h3>")
        page.chart(
            chart_id,
            heat_map(
                chart_id,
                f"Day-N retention, {kind} cohorts",
                [d.isoformat() for d in cohorts],
                offsets,
                values,
            ),
            f"{kind} cohorts (rows, by cohort day) and day offset N (columns), retention in %.",
        )
        per_cohort: dict[dt.date, dict[int, RetentionCell]] = defaultdict(dict)
        for c in shown:
            per_cohort[c.cohort_date][c.day_offset] = c
        rows = []
        for cohort in cohorts:
            row = per_cohort[cohort]
            size = row[min(row)].cohort_size
            attrs: dict[str, object] = {
                "cohort_type": kind,
                "cohort": cohort.isoformat(),
                "size": size,
            }
            cells_text = [cohort.isoformat(), f"{size:,}"]
            for n in RETENTION_TABLE_OFFSETS:
                if n in row:
                    attrs[f"d{n}"] = row[n].retained_players
                    cells_text.append(_ratio(row[n].retained_players, row[n].cohort_size))
                else:
                    cells_text.append("not mature")
            rows.append((attrs, cells_text))
        head = ("cohort day", "players", *(f"D{n}" for n in RETENTION_TABLE_OFFSETS))
        page.add(
            _details(
                f"{kind}: D0, D1, D7, D14, D30 per cohort", _table(f"retention-{kind}", head, rows)
            )
        )


# -- LTV ----------------------------------------------------------------------------------------
def _ltv_cents(point: LtvPoint) -> Decimal:
    return (
        (Decimal(point.cumulative_ngr_eur_minor) / point.players) if point.players else Decimal(0)
    )


def _ltv(page: _Page, points: list[LtvPoint]) -> None:
    page.add('<h2 id="ltv">LTV curves</h2>')
    if not points:
        page.add('<p class="note">No rows in gold.fct_ltv.</p>')
        return
    page.add(
        '<p class="note">gold.fct_ltv, per brand: at day offset N, the summed '
        "<code>cumulative_ngr_eur_minor</code> of every cohort mature at N over their summed "
        "<code>cohort_size</code>, in EUR per player. Later offsets hold only the older "
        "cohorts (the table gives how many).</p>"
    )
    by_type: dict[str, list[LtvPoint]] = defaultdict(list)
    for point in points:
        by_type[point.cohort_type].append(point)
    for number, kind in enumerate(sorted(by_type)):
        kind_points = by_type[kind]
        by_brand: dict[str, list[LtvPoint]] = defaultdict(list)
        for point in kind_points:
            by_brand[point.brand_id].append(point)
        series = [
            Series(brand, [(p.day_offset, float(_ltv_cents(p)) / 100) for p in by_brand[brand]])
            for brand in sorted(by_brand)
        ]
        chart_id = f"chart-ltv-{number}"
        page.add(f"<h3>Cohort: {esc(kind)}</h3>")
        page.chart(
            chart_id,
            line_chart(
                chart_id,
                f"LTV per player, {kind} cohorts, EUR",
                series,
                x_label=lambda x: f"D{round(x)}",
                y_unit="EUR per player",
                y_format=_eur_axis,
            ),
            f"{kind} cohorts: cumulative NGR per player by day offset, one line per brand, EUR.",
        )
        rows = [
            (
                {
                    "cohort_type": kind,
                    "brand": p.brand_id,
                    "offset": p.day_offset,
                    "cohorts": p.cohorts,
                    "players": p.players,
                    "cumulative_ngr_eur_minor": p.cumulative_ngr_eur_minor,
                },
                (
                    p.brand_id,
                    f"D{p.day_offset}",
                    f"{p.cohorts:,}",
                    f"{p.players:,}",
                    money(p.cumulative_ngr_eur_minor),
                    money(int(_ltv_cents(p).quantize(Decimal(1), ROUND_HALF_UP))),
                ),
            )
            for p in kind_points
        ]
        head = ("brand", "offset", "cohorts", "players", "cumulative NGR (EUR)", "LTV (EUR)")
        page.add(
            _details(
                f"{kind}: LTV per brand and day offset ({len(rows)} rows)",
                _table(f"ltv-{kind}", head, rows),
            )
        )


# -- deposit funnel -----------------------------------------------------------------------------
FUNNEL_STEPS = ("intents", "authorized", "captured", "credited")


def _funnel(page: _Page, totals: list[FunnelTotal]) -> None:
    page.add('<h2 id="funnel">Deposit funnel</h2>')
    if not totals:
        page.add('<p class="note">No rows in gold.fct_deposit_funnel_daily.</p>')
        return
    page.add(
        '<p class="note">gold.fct_deposit_funnel_daily over every day, region and method: '
        "payments with an intent, and of those the ones authorized, captured and credited "
        "within the funnel window. Deposit success is captured / intents.</p>"
    )
    steps = [(step, sum(getattr(t, step) for t in totals)) for step in FUNNEL_STEPS]
    page.chart(
        "chart-funnel",
        funnel_bars("chart-funnel", "Deposit funnel, all brands", steps),
        "Payments reaching each step, all brands, whole period; % of intents.",
    )
    page.add(
        _table(
            "funnel",
            ("brand", "intents", "authorized", "captured", "credited", "deposit success"),
            (
                (
                    {"brand": t.brand_id, **{s: getattr(t, s) for s in FUNNEL_STEPS}},
                    (
                        t.brand_id,
                        f"{t.intents:,}",
                        f"{t.authorized:,} ({_ratio(t.authorized, t.intents)})",
                        f"{t.captured:,} ({_ratio(t.captured, t.intents)})",
                        f"{t.credited:,} ({_ratio(t.credited, t.intents)})",
                        _ratio(t.captured, t.intents),
                    ),
                )
                for t in totals
            ),
        )
    )


# -- publication --------------------------------------------------------------------------------
def _checks(results: dict[str, Any]) -> str:
    """A publication's recorded check results: per mart its expectations (GX outcomes), or
    the blocking checks that had no passing result."""
    if not results:
        return ""
    parts = []
    unmet = results.get("unmet_blocking_checks")
    if isinstance(unmet, dict):
        parts.append(
            _table(
                "unmet-checks",
                ("blocking check", "state"),
                (({"check": k}, (k, str(v))) for k, v in sorted(unmet.items())),
            )
        )
    rows = []
    other = {}
    for mart, result in sorted(results.items()):
        if mart == "unmet_blocking_checks":
            continue
        if not (isinstance(result, dict) and "success" in result):
            other[mart] = result
            continue
        outcomes = result.get("outcomes") or []
        failed = [o for o in outcomes if isinstance(o, dict) and not o.get("success")]
        names = ", ".join(
            f"{o.get('expectation')} ({o.get('unexpected_count')} rows)"
            if o.get("unexpected_count") is not None
            else str(o.get("expectation"))
            for o in failed
        )
        rows.append(
            (
                {"mart": mart, "success": bool(result["success"]), "failed": len(failed)},
                (
                    mart,
                    "passed" if result["success"] else "FAILED",
                    str(len(outcomes)),
                    names or "-",
                ),
            )
        )
    if rows:
        parts.append(
            _table("checks", ("mart", "suite", "expectations", "failed expectations"), rows)
        )
    if other:
        parts.append(f"<pre>{esc(json.dumps(other, indent=2, default=str)[:MESSAGE_CHARS])}</pre>")
    return "".join(parts)


def _attempt(attempt: Publication) -> str:
    message = (attempt.message or "")[:MESSAGE_CHARS]
    attrs = _attrs(publication_id=attempt.publication_id, status=attempt.status)
    return (
        f'<div class="attempt"{attrs}>'
        f"<h3>Attempt {attempt.publication_id}: "
        f'<span class="bad">{esc(attempt.status)}</span>, {esc(_utc(attempt.attempted_at))}</h3>'
        f'<p class="meta">run {esc(attempt.run_id)}</p>'
        + (f"<pre>{esc(message)}</pre>" if message else "")
        + _checks(attempt.check_results)
        + "</div>"
    )


def _publication(page: _Page, data: ReportData) -> None:
    page.add('<h2 id="publication">Latest publication and its checks</h2>')
    latest = data.latest
    if latest is None:
        page.add('<p class="note">audit.publications holds no publication.</p>')
    else:
        page.add(
            f'<div id="latest-publication"{_attrs(publication_id=latest.publication_id)}>'
            f"<p>Publication <strong>{latest.publication_id}</strong>: "
            f'<span class="ok">{esc(latest.status)}</span> {esc(_utc(latest.attempted_at))}, '
            f"run {esc(latest.run_id)}, {len(latest.marts)} marts. A publication happens only "
            "when every blocking check of its run passed (the GX suite of every mart and the "
            "blocking dbt tests).</p>"
        )
        checks = _checks(latest.check_results)
        page.add(
            checks
            or '<p class="note">This publication recorded no per-check details in '
            "audit.publications.check_results.</p>"
        )
        page.add(
            _details(
                f"Rows published per mart ({len(latest.row_counts)} marts)",
                _table(
                    "published-rows",
                    ("mart", "rows"),
                    (
                        ({"mart": mart, "rows": rows}, (mart, f"{rows:,}"))
                        for mart, rows in sorted(latest.row_counts.items())
                    ),
                ),
            )
        )
        page.add("</div>")
    if data.later_attempts:
        shown = len(data.later_attempts)
        page.add(
            f"<h3>Blocked since: {data.later_attempt_count} attempt(s)"
            + (f", the latest {shown} shown" if shown < data.later_attempt_count else "")
            + "</h3>"
        )
        for attempt in data.later_attempts:
            page.add(_attempt(attempt))
