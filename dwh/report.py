"""`dwh report`: one self-contained HTML page from gold, to open in any browser, offline.

GGR/NGR per day and brand, DAU/WAU/MAU, a retention heat map per cohort type, LTV curves, the
deposit funnel, and the latest publication with its checks (docs/report.md). The page holds
its CSS, its SVG charts and one small script; it loads nothing, so it can be mailed or
archived as it is. Reading: dwh/report_data.py; the page: dwh/report_page.py; the charts:
dwh/report_svg.py.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dwh.report_data import ReportData, read_report_data
from dwh.report_page import render
from warehouse.settings import load_settings


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    data: ReportData


def default_path() -> Path:
    return load_settings().home / "report" / "index.html"


def write_report(path: Path | None = None, url: str | None = None) -> WrittenReport:
    """Read gold (at `url`, default the settings') and write the page to `path` (default
    DWH_HOME/report/index.html). Written to a temporary file and renamed: a browser or a
    web server never sees half a page."""
    path = (path or default_path()).expanduser().resolve()
    data = read_report_data(url)
    html = render(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(html)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the page from a web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return WrittenReport(path, data)


def cmd_report(args: argparse.Namespace) -> int:
    written = write_report(Path(args.out) if args.out else None)
    latest = written.data.latest
    if latest is None:
        print(f"no publication yet: gold is empty; the report says so: {written.path}")
    else:
        print(
            f"report of publication {latest.publication_id} "
            f"({latest.attempted_at:%Y-%m-%d %H:%M} UTC): {written.path}"
        )
    if written.data.later_attempt_count:
        print(f"note: {written.data.later_attempt_count} publication attempt(s) since were blocked")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `dwh report` to the CLI's subcommands."""
    report = sub.add_parser(
        "report", help="write a self-contained HTML report of gold (opens offline)"
    )
    report.add_argument(
        "--out", metavar="PATH", help="the HTML file to write (default DWH_HOME/report/index.html)"
    )
    report.set_defaults(func=cmd_report)
