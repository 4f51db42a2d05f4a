"""`dwh docs`: the dbt docs (overview, exposures, gold as BI reads it, documented sources) and
the GX Data Docs (suite pages, a static index, nothing from a CDN), served from one address.

One warehouse for the module: a small generated data set, one run of the job in-process (so
gold is published and every suite has a result), then `dwh docs --no-serve`.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dwh import cli
from dwh.docs_site import make_server
from dwh.runner import run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from tests.test_warehouse_job import MARTS

SUITES = len(MARTS) + 1  # one per mart, and the PII scan of the schema


@pytest.fixture(scope="module")
def site(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("docs_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWH_HOME", str(home))
        generate(
            GeneratorConfig(players=40, days=2, seed=8, start_date=date(2026, 5, 1)),
            home / "landing",
        )
        report = run_warehouse_job(ephemeral_instance=True, landing_dir=home / "landing")
        assert report.success, report.failure
        assert cli.main(["docs", "--no-serve"]) == 0
        yield home / "docs" / "site"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


class _References(HTMLParser):
    """What a page loads (scripts, images, stylesheets) and where its anchors lead."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.loads.append(values["src"])
        if tag == "link" and values.get("href"):
            self.loads.append(values["href"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])


def _references(page: Path) -> _References:
    parser = _References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


# -- dbt docs ---------------------------------------------------------------------------------
def test_gold_marts_are_shown_as_gold(site: Path) -> None:
    manifest, catalog = _json(site / "dbt" / "manifest.json"), _json(site / "dbt" / "catalog.json")
    marts = {
        node["name"]: (unique_id, node)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1] == "gold"
    }
    assert sorted(marts) == sorted(MARTS)
    for name, (unique_id, node) in marts.items():
        assert node["schema"] == "gold", name
        assert node["relation_name"].endswith(f'"gold"."{name}"'), node["relation_name"]
        assert catalog["nodes"][unique_id]["metadata"]["schema"] == "gold"
        # the catalog's columns are the mart's contract columns
        assert set(catalog["nodes"][unique_id]["columns"]) == set(node["columns"]), name
    assert not any(node.get("schema") == "gold_candidate" for node in manifest["nodes"].values())


def test_the_overview_says_what_the_warehouse_is(site: Path) -> None:
    manifest = _json(site / "dbt" / "manifest.json")
    overview = manifest["docs"]["doc.gaming_dwh.__overview__"]["block_contents"]
    assert "Welcome!" not in overview
    assert "what BI reads" in overview and "gold_candidate" in overview
    # its link to the Data Docs: the server's /dbt/ and /gx/ are siblings
    assert "(../gx/index.html)" in overview
    assert (site / "gx" / "index.html").is_file()


def test_exposures_name_the_consumers_of_gold(site: Path) -> None:
    manifest = _json(site / "dbt" / "manifest.json")
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert sorted(exposures) == ["analytics_api", "bi_readers_of_gold", "dwh_report"]
    # BI reads every mart
    bi = exposures["bi_readers_of_gold"]["depends_on"]["nodes"]
    assert sorted(n.split(".")[-1] for n in bi) == sorted(MARTS)
    for exposure in exposures.values():
        assert exposure["description"].strip()
        assert all(
            manifest["nodes"][n]["schema"] == "gold" for n in exposure["depends_on"]["nodes"]
        )


def test_every_raw_source_column_is_documented(site: Path) -> None:
    manifest, catalog = _json(site / "dbt" / "manifest.json"), _json(site / "dbt" / "catalog.json")
    sources = {s["name"]: s for s in manifest["sources"].values() if s["source_name"] == "raw"}
    assert sorted(sources) == [
        "events",
        "load_batches",
        "load_failures",
        "load_skips",
        "quarantine",
    ]
    for unique_id, source in manifest["sources"].items():
        if source["source_name"] != "raw":
            continue
        # the columns of the table as it is in the database, from the catalog
        in_database = set(catalog["sources"][unique_id]["columns"])
        documented = {name for name, c in source["columns"].items() if c["description"].strip()}
        assert in_database and in_database <= documented, (source["name"], in_database - documented)


def test_the_dbt_docs_page_loads_nothing_remote(site: Path) -> None:
    page = site / "dbt" / "index.html"
    assert [url for url in _references(page).loads if _remote(url)] == []
    # its one remote script, dbt's usage tracker, loads only when the manifest asks for it
    manifest = _json(site / "dbt" / "manifest.json")
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False


# -- GX Data Docs -----------------------------------------------------------------------------
def test_data_docs_pages_load_nothing_remote(site: Path) -> None:
    gx = site / "gx"
    pages = sorted(gx.rglob("*.html"))
    # the index, a page per suite and at least one result page per suite
    assert len(pages) >= 1 + 2 * SUITES
    for page in pages:
        remote = [url for url in _references(page).loads if _remote(url)]
        assert remote == [], (page, remote)
        assert "bootstrapTable" not in page.read_text(encoding="utf-8")


def test_every_link_of_the_data_docs_index_resolves(site: Path) -> None:
    gx = site / "gx"
    links = [url for url in _references(gx / "index.html").links if not _remote(url)]
    suites = [url for url in links if url.startswith("expectations/")]
    results = [url for url in links if url.startswith("validations/")]
    assert len(suites) == SUITES
    # each suite's latest result in the first table, then every kept result (one run: one each)
    assert len(results) == 2 * SUITES
    for url in links:
        target = gx / urlsplit(url).path
        assert target.is_file(), url
    index = (gx / "index.html").read_text()
    assert index.count(">passed ") == 2 * SUITES and "FAILED" not in index


def test_suite_pages_list_their_expectations(site: Path) -> None:
    page = site / "gx" / "expectations" / "gold_candidate" / "fct_revenue_daily.html"
    text = page.read_text(encoding="utf-8")
    assert "ggr_minor = stake_minor - win_minor" in text or "ggr_is_stake_minus_win" in text


# -- one address ------------------------------------------------------------------------------
def test_one_local_address_serves_both_sites(site: Path) -> None:
    server = make_server(site, "127.0.0.1", 0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:

        def get(path: str) -> bytes:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                assert answer.status == 200, path
                return answer.read()

        landing = get("/").decode()
        assert 'href="dbt/index.html"' in landing and 'href="gx/index.html"' in landing
        assert b"<html" in get("/dbt/index.html")
        assert b'"gold"' in get("/dbt/manifest.json")
        get("/dbt/catalog.json")
        index = get("/gx/index.html").decode()
        first = next(url for url in _links_of(index) if url.startswith("validations/"))
        assert b"fct_" in get(f"/gx/{first}")
    finally:
        server.shutdown()
        server.server_close()


def _links_of(text: str) -> list[str]:
    parser = _References()
    parser.feed(text)
    return parser.links
