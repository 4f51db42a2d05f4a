"""`dwh docs`: the dbt docs and the GX Data Docs, built and served from one local address.

    http://127.0.0.1:8081/        what is here, with links to both
    http://127.0.0.1:8081/dbt/    dbt docs: models, sources, exposures, lineage
    http://127.0.0.1:8081/gx/     Data Docs: every suite, every kept validation result

Gold as BI reads it. dbt builds the gold marts into `gold_candidate`, and publication copies
them to `gold` (warehouse/publish.py), so `dbt docs generate` names every mart
`gold_candidate.<mart>`. After generating, `show_gold` renames each published mart
`gold.<mart>` in the manifest and the catalog the site reads. The columns, types and comments
are the candidate's, which the contract fixes and publication copies as they are. A renaming
of the generated artifacts is preferred to a dbt alias or a schema macro for docs: the built
project stays the one the job runs (its fingerprint, its manifest for Dagster and GX), and a
mart that was never published keeps its candidate name, which tells the truth.

No internet needed: dbt's index.html carries its scripts and styles inline; its one remote
script (usage tracking) loads only when the manifest says `send_anonymous_usage_stats`, which
the project turns off (and `show_gold` sets false in case). The Data Docs are made offline by
expectations/data_docs.py.

Served with Python's http.server from DWH_HOME/docs/site, which links the two sites'
directories (no copy).
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from warehouse import schemas
from warehouse.database import connect, database_url
from warehouse.settings import Settings, load_settings

INDEX = "index.html"


@dataclass(frozen=True)
class DocsSite:
    root: Path  # served: index.html, dbt/ and gx/
    dbt: Path  # dbt's target directory of the docs: index.html, manifest.json, catalog.json
    gx: Path  # the Data Docs site
    published: tuple[str, ...]  # marts shown as gold.<mart>
    unpublished: tuple[str, ...]  # marts with no table in gold yet (shown in gold_candidate)


def register(sub: Any) -> None:
    """`dwh docs` on the CLI's subparsers."""
    docs = sub.add_parser(
        "docs", help="build the dbt docs and the GX Data Docs, and serve both on one address"
    )
    docs.add_argument("--host", default="127.0.0.1", help="address to listen on")
    docs.add_argument("--port", type=int, default=8081, help="port to listen on")
    docs.add_argument(
        "--no-serve", action="store_true", help="build both sites and print where they are"
    )
    docs.set_defaults(func=cmd_docs)


def cmd_docs(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    site = build(echo=_echo)
    _echo(f"built in {time.perf_counter() - started:.1f} s under {site.root}")
    if args.no_serve:
        _echo(f"  dbt docs:  {site.dbt / INDEX}")
        _echo(f"  Data Docs: {site.gx / INDEX}")
        return 0
    server = make_server(site.root, args.host, args.port)
    host, port = server.server_address[:2]
    _echo(f"serving on http://{host}:{port}/  (dbt docs: /dbt/, Data Docs: /gx/; Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _echo(message: str) -> None:
    print(message, flush=True)


# -- building -----------------------------------------------------------------------------------
def build(settings: Settings | None = None, url: str | None = None, echo: Any = None) -> DocsSite:
    """Both sites and the page linking them, under DWH_HOME/docs."""
    from expectations.project import Project
    from warehouse.dbt import run_dbt

    settings = settings or load_settings()
    url = url or database_url(settings)
    say = echo or (lambda _message: None)
    docs = settings.home / "docs"
    dbt_dir = docs / "dbt"
    say("dbt docs: generating (dbt docs generate: compiles every model, reads the catalog)")
    run_dbt(["docs", "generate"], url, target=dbt_dir)
    published, unpublished = show_gold(dbt_dir, gold_tables(url))
    say(
        f"dbt docs: {len(published)} marts shown as {schemas.GOLD}.<mart>"
        + (f", {len(unpublished)} not published yet" if unpublished else "")
    )
    say("Data Docs: building the suite pages and the index")
    gx_index = Project.at(settings.home / "gx").build_site()
    root = docs / "site"
    root.mkdir(parents=True, exist_ok=True)
    _link(root / "dbt", dbt_dir)
    _link(root / "gx", gx_index.parent)
    site = DocsSite(root, dbt_dir, gx_index.parent, tuple(published), tuple(unpublished))
    (root / INDEX).write_text(_landing_page(site), encoding="utf-8")
    return site


def gold_tables(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            [schemas.GOLD],
        ).fetchall()
    return {row[0] for row in rows}


def show_gold(target: Path, published: set[str]) -> tuple[list[str], list[str]]:
    """Rename the candidate marts that have a table in gold `gold.<mart>` in the generated
    manifest and catalog. Returns (renamed, left as candidates)."""
    manifest_path, catalog_path = target / "manifest.json", target / "catalog.json"
    manifest = json.loads(manifest_path.read_text())
    catalog = json.loads(catalog_path.read_text())
    renamed, left = [], []
    quoted = f'"{schemas.CANDIDATE}".'
    for unique_id, node in manifest["nodes"].items():
        if node.get("resource_type") != "model" or node.get("schema") != schemas.CANDIDATE:
            continue
        if node["name"] not in published:
            left.append(node["name"])
            continue
        node["schema"] = schemas.GOLD
        if node.get("relation_name"):
            node["relation_name"] = node["relation_name"].replace(quoted, f'"{schemas.GOLD}".')
        entry = catalog.get("nodes", {}).get(unique_id)
        if entry is not None:
            entry["metadata"]["schema"] = schemas.GOLD
        renamed.append(node["name"])
    # dbt docs loads its usage tracker from a CDN when this is true
    manifest.setdefault("metadata", {})["send_anonymous_usage_stats"] = False
    manifest_path.write_text(json.dumps(manifest))
    catalog_path.write_text(json.dumps(catalog))
    return sorted(renamed), sorted(left)


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == target.resolve():
            return
        link.unlink()
    link.symlink_to(target.resolve(), target_is_directory=True)


def _landing_page(site: DocsSite) -> str:
    unpublished = (
        "<p>Not published yet (shown as <code>gold_candidate</code>): "
        + ", ".join(f"<code>{html.escape(m)}</code>" for m in site.unpublished)
        + "</p>"
        if site.unpublished
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gaming-dwh docs</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto;
  line-height: 1.5; color: #212529; }}
a {{ color: #0a58ca; }}
</style>
</head>
<body>
<h1>gaming-dwh docs</h1>
<ul>
<li><a href="dbt/index.html">dbt docs</a>: every model, source and exposure, its columns,
tests, SQL and lineage. The {len(site.published)} gold marts are shown as BI reads them,
<code>gold.&lt;mart&gt;</code>.</li>
<li><a href="gx/index.html">Data Docs</a>: each gold mart's Great Expectations suite and its
kept validation results; a failed suite blocks publication to gold.</li>
</ul>
{unpublished}
</body>
</html>
"""


# -- serving ------------------------------------------------------------------------------------
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_server(root: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A static file server of `root` (port 0: a free one)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)
