"""The project's docs are its own: complete for every gold mart, linked inside the repository.

No database: these read the files of the repository (docs/, the dbt YAML, the payload contract).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ingestion.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MODELS = ROOT / "dbt_project" / "models"
MART_PAGES = ("metrics.md", "points.md", "affinity.md")
PAGES = (
    "README.md",
    "input-contract.md",
    "metrics.md",
    "points.md",
    "affinity.md",
    "decisions.md",
    "report.md",
    "semantic-layer.md",
    "api.md",
    "generator.md",
)
DOC_CALL = re.compile(r"""\{\{\s*doc\(\s*["']([a-z0-9_]+)["']\s*\)\s*\}\}""")


def _models(layer: str = "") -> list[tuple[Path, dict]]:
    found = []
    for path in sorted((MODELS / layer).rglob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            found.append((path, model))
    return found


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a page, plus its explicit <a id> anchors."""
    text = page.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ (.*)$", text, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def test_every_docs_page_exists() -> None:
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted(PAGES)


def test_no_tracked_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and (ROOT / name).suffix in {".md", ".py", ".sql", ".yml", ".yaml", ".toml", ".cfg"}
        and re.search(r"\.\./shared|shared/spec|shared/seeds", (ROOT / name).read_text())
        and name != "tests/test_docs.py"
    ]
    assert offenders == []


@pytest.mark.parametrize("page", PAGES)
def test_links_of_the_docs_resolve_inside_the_repository(page: str) -> None:
    source = DOCS / page
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", source.read_text()):
        if re.match(r"[a-z]+:", link):
            broken.append(f"{link}: the docs link only inside the repository")
            continue
        path, _, fragment = link.partition("#")
        target = (source.parent / path).resolve() if path else source
        if not target.exists() or ROOT not in target.parents:
            broken.append(f"{link}: no such file in the repository")
        elif fragment and target.suffix == ".md" and fragment not in _anchors(target):
            broken.append(f"{link}: no anchor #{fragment} in {target.name}")
    assert broken == []


def test_every_gold_mart_and_column_is_documented() -> None:
    index = (DOCS / "README.md").read_text()
    pages = "".join((DOCS / name).read_text() for name in MART_PAGES)
    missing = []
    for path, model in _models("gold"):
        if f"`{model['name']}" not in index:
            missing.append(f"{model['name']}: not in the docs/README.md table")
        for column in model.get("columns", []):
            if f"`{column['name']}`" not in pages and f".{column['name']}`" not in index:
                missing.append(f"{model['name']}.{column['name']} ({path.name})")
    assert missing == []


def test_doc_blocks_are_defined_and_used() -> None:
    blocks = set(re.findall(r"{%\s*docs\s+([a-z0-9_]+)\s*%}", (MODELS / "_docs.md").read_text()))
    used = {name for path in MODELS.rglob("*.yml") for name in DOC_CALL.findall(path.read_text())}
    assert used - blocks == set()  # dbt parse fails on these too; this says which
    assert blocks - used == set()


def test_brand_id_is_described_once() -> None:
    descriptions = {
        (model["name"], (column.get("description") or "").strip())
        for _, model in _models()
        for column in model.get("columns", [])
        if column["name"] == "brand_id"
    }
    assert len(descriptions) >= 20
    assert [m for m, d in descriptions if not d.startswith('{{ doc("brand_id") }}')] == []


def test_model_descriptions_name_no_outside_document() -> None:
    outside = re.compile(r"(?<![/\w])(marts|events|points|affinity)\.md|seed 00\d|\bthe spec\b")
    offenders = [
        model["name"] for _, model in _models() if outside.search(model.get("description", ""))
    ]
    assert offenders == []


def test_the_input_contract_page_lists_every_event_type_and_field() -> None:
    """docs/input-contract.md against the one definition of the catalog (the dbt macro)."""
    rows = [
        line
        for line in (DOCS / "input-contract.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    missing = []
    for event_type, fields in CATALOG.items():
        row = next((r for r in rows if f"`{event_type}`" in r.split("|")[1]), None)
        if row is None:
            missing.append(event_type)
            continue
        missing += [f"{event_type}.{f}" for f in fields if f"`{f}`" not in row]
    assert missing == []


def test_the_python_catalog_is_read_from_the_dbt_contract() -> None:
    # hand-checked against dbt_project/macros/payload_contract.sql
    assert len(CATALOG) == 32
    assert CATALOG["player.registered"] == ("channel?",)
    assert CATALOG["payment.captured"] == (
        "payment_id",
        "amount_minor",
        "currency",
        "method",
        "fee_minor?",
    )
    assert CATALOG["dungeon.complete"] == ()
