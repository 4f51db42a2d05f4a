"""The GX Data Docs site, readable without internet.

GX 1.x renders every page with Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome
from CDNs (render/view/templates/page.j2, js_script_imports.j2), its logo from S3, and its
index page's table in the browser with bootstrap-table: offline, the index is empty and the
pages unstyled. The templates cannot be replaced (GX's own loader is asked before a project's
`custom_data_docs/views`), so after each build this module:

- removes the remote `<script src>` and `<link href>` tags from the pages built, and points
  the logo at the site's own `static/images/`;
- gives every page a small stylesheet of its own (`STYLESHEET`: the Bootstrap classes the
  pages use, and characters for the icons), inserted before `</head>`;
- writes the index itself, as static HTML: every suite with its page and its latest result,
  then every kept result, newest first (GX's index is not built at all: `build_index=False`).

The status of each result is read once from its JSON and kept in `index.json` beside the
index, so an index build reads only the results it has not seen.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

INDEX = "index.html"
STATUS_CACHE = "index.json"
REMOTE_TAG = re.compile(
    r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*"
    r"|<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*",
    re.IGNORECASE,
)
# GX's newsletter footer: an invitation, nothing of the warehouse's
NEWSLETTER = re.compile(r"<p>Stay current on everything GX.*?</p>", re.DOTALL)
REMOTE_IMAGE = re.compile(
    r"(<img\b[^>]*\bsrc=\")https?://[^\"]*?/([\w.-]+\.(?:png|svg|gif))[^\"]*\""
)
RUN_TIME = re.compile(r"^(\d{8}T\d{6})(?:\.\d+)?Z$")

# What the pages need of Bootstrap 4 to read well, and the Font Awesome icons they use as
# characters. The first line marks a page that has it.
STYLESHEET = """/* dwh: Data Docs offline */
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #212529; line-height: 1.45; }
a { color: #0a58ca; }
.container-fluid { padding: 1rem 2rem; }
.row { display: flex; flex-wrap: wrap; }
.col-md-2, .col-lg-2 { flex: 0 0 16%; max-width: 16%; }
.col-md-10, .col-lg-10 { flex: 0 0 82%; max-width: 82%; }
.col-12 { flex: 0 0 100%; }
.navbar { display: flex; align-items: center; padding: 0 1rem; border-bottom: 1px solid #dee2e6; }
.breadcrumb { display: flex; list-style: none; gap: .5rem; margin: 0 1rem; padding: 0; }
.breadcrumb-item + .breadcrumb-item::before { content: "/ "; color: #6c757d; }
.nav { list-style: none; padding-left: 0; }
.nav-link { display: block; padding: .2rem 0; }
.card { border: 1px solid #dee2e6; border-radius: .25rem; margin-bottom: 1rem; }
.card-header { background: #f7f7f9; padding: .5rem 1rem; border-bottom: 1px solid #dee2e6; }
.card-body { padding: .5rem 1rem; }
.alert { padding: .5rem 1rem; border: 1px solid #d6d8db; background: #e2e3e5;
  border-radius: .25rem; }
.table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
.table th, .table td { border-top: 1px solid #dee2e6; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
.table-responsive { overflow-x: auto; }
.btn { display: none; }
.text-success { color: #198754; }
.text-danger { color: #dc3545; }
.text-warning { color: #b58105; }
.d-none { display: none; }
.cooltip > .top { display: none; }
.fas::before { font-style: normal; font-weight: bold; }
.fa-check-circle::before { content: "\\2714"; }
.fa-times::before, .fa-times-circle::before { content: "\\2718"; }
.fa-exclamation-triangle::before { content: "\\26A0"; }
.fa-question-circle::before { content: "?"; }
.dwh-index td.failed { color: #dc3545; font-weight: bold; }
.dwh-index td.passed { color: #198754; }
"""


def make_offline(page: Path, site: Path) -> None:
    """Remove the page's remote scripts and stylesheets, add the offline stylesheet, take
    the logo from the site's images. Idempotent."""
    text = page.read_text(encoding="utf-8")
    images = os.path.relpath(site / "static" / "images", page.parent)
    offline = NEWSLETTER.sub("", REMOTE_TAG.sub("", text))
    if STYLESHEET.splitlines()[0] not in offline:
        offline = offline.replace("</head>", f"<style>{STYLESHEET}</style>\n</head>", 1)
    offline = REMOTE_IMAGE.sub(lambda m: f'{m[1]}{images}/{m[2]}"', offline)
    if offline != text:
        page.write_text(offline, encoding="utf-8")


def make_site_offline(site: Path, pages: Iterable[Path] | None = None) -> None:
    """`pages` (default: every page of the site) made offline, then the index written."""
    for page in site.rglob("*.html") if pages is None else pages:
        if page.exists() and page.name != INDEX:
            make_offline(page, site)
    write_index(site)


@dataclass(frozen=True)
class Result:
    suite: str
    run_time: dt.datetime
    page: str  # relative to the site
    success: bool | None  # None: the result could not be read
    passed: int
    evaluated: int


def _run_time(segment: str) -> dt.datetime | None:
    match = RUN_TIME.match(segment)
    if match is None:
        return None
    return dt.datetime.strptime(match[1], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


def _results(site: Path, store: Path) -> list[Result]:
    """Every validation result kept in `store` whose page is in the site, newest first."""
    cache_path = site / STATUS_CACHE
    try:
        cache: dict[str, list] = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    results, seen = [], {}
    for path in store.rglob("*.json"):
        relative = path.relative_to(store)
        page = Path("validations") / relative.with_suffix(".html")
        run_time = _run_time(relative.parent.name)
        if run_time is None or not (site / page).exists():
            continue
        key = relative.as_posix()
        if key not in cache:
            try:
                data = json.loads(path.read_text())
                stats = data.get("statistics") or {}
                cache[key] = [
                    data.get("suite_name") or relative.parent.parent.name,
                    bool(data.get("success")),
                    int(stats.get("successful_expectations") or 0),
                    int(stats.get("evaluated_expectations") or 0),
                ]
            except (OSError, ValueError):
                cache[key] = [relative.parent.parent.name, None, 0, 0]
        seen[key] = cache[key]
        suite, success, passed, evaluated = cache[key]
        results.append(Result(suite, run_time, page.as_posix(), success, passed, evaluated))
    cache_path.write_text(json.dumps(seen))  # forgets pruned results
    return sorted(results, key=lambda r: (r.run_time, r.suite), reverse=True)


def _suites(site: Path) -> dict[str, str]:
    """Suite name -> its page, relative to the site (expectations/<schema>/<mart>.html)."""
    root = site / "expectations"
    return {
        ".".join(page.relative_to(root).with_suffix("").parts): page.relative_to(site).as_posix()
        for page in sorted(root.rglob("*.html"))
    }


def _status(result: Result | None) -> tuple[str, str]:
    if result is None:
        return "", "no result kept"
    if result.success is None:
        return "failed", "unreadable"
    word = "passed" if result.success else "FAILED"
    return ("passed" if result.success else "failed"), f"{word} {result.passed}/{result.evaluated}"


def write_index(site: Path) -> Path:
    """The site's index as static HTML (no script): suites, then every kept result."""
    store = site.parents[1] / "validations"  # uncommitted/validations, beside data_docs
    results = _results(site, store) if store.exists() else []
    suites = _suites(site)
    latest: dict[str, Result] = {}
    for result in results:
        latest.setdefault(result.suite, result)
    esc = html.escape
    rows = []
    for suite in sorted(set(suites) | set(latest)):
        result = latest.get(suite)
        css, status = _status(result)
        suite_cell = (
            f'<a href="{esc(suites[suite])}">{esc(suite)}</a>' if suite in suites else esc(suite)
        )
        run = (
            f'<a href="{esc(result.page)}">{result.run_time:%Y-%m-%d %H:%M:%S} UTC</a>'
            if result
            else ""
        )
        rows.append(f'<tr><td>{suite_cell}</td><td class="{css}">{status}</td><td>{run}</td></tr>')
    history = []
    for result in results:
        css, status = _status(result)
        history.append(
            f'<tr><td><a href="{esc(result.page)}">{result.run_time:%Y-%m-%d %H:%M:%S} UTC</a>'
            f'</td><td>{esc(result.suite)}</td><td class="{css}">{status}</td></tr>'
        )
    failed = sum(1 for r in latest.values() if not r.success)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Data Docs: the warehouse's expectation suites</title>
<style>{STYLESHEET}</style>
</head>
<body>
<div class="container-fluid dwh-index">
<h1>Data Docs: the warehouse's expectation suites</h1>
<p>Each gold mart is validated in <code>gold_candidate</code> by its Great Expectations suite
before publication to <code>gold</code>; a failed suite blocks the publication. A suite's page
lists its expectations; a result's page, what each expectation found.
{len(latest)} suites with a result, {failed} failing in their latest result.</p>
<h2>Suites</h2>
<table class="table">
<thead><tr><th>suite</th><th>latest result</th><th>validated</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<h2>Every kept result, newest first</h2>
<table class="table">
<thead><tr><th>validated</th><th>suite</th><th>result</th></tr></thead>
<tbody>
{chr(10).join(history)}
</tbody>
</table>
</div>
</body>
</html>
"""
    index = site / INDEX
    partial = index.with_name(f".{INDEX}.{os.getpid()}")
    partial.write_text(page, encoding="utf-8")
    partial.replace(index)  # a reader sees the old index or the new one
    return index
