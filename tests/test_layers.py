"""The packages import downward, and only the settings read the environment.

Layers, bottom up: the core (settings, schema names, the database connection); the
warehouse's operations (publication, access, seeds, audit tables, dbt); ingestion and the GX
suites beside them; orchestration (Dagster) and the analytics API (`api`); the entry points
(`dwh`) on top. The development
tooling (the embedded server) is used by the entry points and the tests only.

Read from the source with `ast`, so a lazy import inside a function counts as much as one at
the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from warehouse.settings import PROJECT_ROOT

CORE = {"warehouse.settings", "warehouse.schemas", "warehouse.database"}
OPERATIONS = {
    "warehouse.publish",
    "warehouse.access",
    "warehouse.seeds",
    "warehouse.audit",
    "warehouse.dbt",
    "warehouse.dbt_child",
}
PACKAGES = ("warehouse", "ingestion", "expectations", "orchestration", "api", "dwh", "devtools")

# layer -> the layers it may import (its own included)
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "operations": {"core", "operations"},
    "ingestion": {"core", "ingestion"},
    "expectations": {"core", "expectations"},
    "devtools": {"devtools"},
    "orchestration": {"core", "operations", "ingestion", "expectations", "orchestration"},
    # the analytics API reads gold (and silver through its views); the catalog of event types
    # comes from ingestion
    "api": {"core", "operations", "ingestion", "api"},
    "dwh": {
        "core",
        "operations",
        "ingestion",
        "expectations",
        "orchestration",
        "api",
        "devtools",
        "dwh",
    },
}

# (module, imported module) -> why it is allowed for now. Each one is a known debt.
IMPORT_EXCEPTIONS: dict[tuple[str, str], str] = {}

# Modules that may touch os.environ / os.getenv, and why.
ENVIRONMENT_READERS: dict[str, str] = {
    "warehouse.settings": "the one reader of the environment, and child_environment / "
    "exported_to_children for subprocesses (dagster-dbt takes dbt's environment from "
    "os.environ, dagster_dbt/core/resource.py)",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            modules[_module_name(path)] = path
    return modules


def layer_of(module: str) -> str | None:
    if module in CORE or module == "warehouse":
        return "core"
    if module in OPERATIONS:
        return "operations"
    top = module.split(".")[0]
    if top == "warehouse":
        return "operations"  # a new warehouse module is an operation until it says otherwise
    return top if top in PACKAGES else None


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = module.split(".")[: -node.level]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    # `from warehouse import schemas` imports the module warehouse.schemas
    return [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]


def imported_modules(module: str, tree: ast.AST) -> set[str]:
    names: set[str] = set()
    known = _modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            candidates = _resolve(module, node)
            # `from pkg import name`: the submodule if there is one, else the package
            found = [c for c in candidates[:-1] if c in known]
            names.update(found or candidates[-1:])
    return {name for name in names if layer_of(name) is not None}


def layer_violations(module: str, source: str) -> list[str]:
    layer = layer_of(module)
    assert layer is not None, module
    violations = []
    for imported in sorted(imported_modules(module, ast.parse(source))):
        target = layer_of(imported)
        if target in ALLOWED[layer] or (module, imported) in IMPORT_EXCEPTIONS:
            continue
        violations.append(f"{module} ({layer}) imports {imported} ({target})")
    return violations


def environment_uses(source: str) -> list[int]:
    """Lines that read or write the process environment."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source)) if _touches_environment(node))


_ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _touches_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):  # os.environ[...], os.getenv(...)
        return (
            isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and (node.attr in _ENVIRONMENT)
        )
    if isinstance(node, ast.ImportFrom):  # from os import environ
        return node.module == "os" and bool({a.name for a in node.names} & _ENVIRONMENT)
    return False


# -- the checker itself, on small sources whose verdicts are known ------------------------------
@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("warehouse.database", "from warehouse.settings import Settings", []),
        (
            "warehouse.database",
            "def f():\n    from devtools.embedded import EmbeddedPostgres",
            ["warehouse.database (core) imports devtools.embedded (devtools)"],
        ),
        (
            "warehouse.settings",
            "from warehouse import publish",
            ["warehouse.settings (core) imports warehouse.publish (operations)"],
        ),
        (
            "orchestration.automation",
            "import dwh.runner",
            ["orchestration.automation (orchestration) imports dwh.runner (dwh)"],
        ),
        (
            "ingestion.landing",
            "from orchestration.resources import WarehouseResource",
            ["ingestion.landing (ingestion) imports orchestration.resources (orchestration)"],
        ),
        ("dwh.cli", "from devtools.embedded import DATABASE\nimport orchestration", []),
    ],
)
def test_the_checker_finds_an_import_against_the_layers(
    module: str, source: str, expected: list[str]
) -> None:
    assert layer_violations(module, source) == expected


def test_the_checker_finds_every_use_of_the_environment() -> None:
    source = (
        "import os\n"
        "a = os.environ.get('X')\n"
        "os.environ['Y'] = '1'\n"
        "b = os.getenv('Z')\n"
        "from os import environ\n"
        "c = os.path.join('a', 'b')\n"
    )
    assert environment_uses(source) == [2, 3, 4, 5]


# -- the project ----------------------------------------------------------------------------------
def test_every_package_imports_only_the_layers_below_it() -> None:
    violations = [
        violation
        for module, path in _modules().items()
        for violation in layer_violations(module, path.read_text())
    ]
    assert violations == []


def test_the_import_exceptions_are_still_needed() -> None:
    # an exception that no longer applies is removed, so the list says what is true
    modules = _modules()
    for module, imported in IMPORT_EXCEPTIONS:
        tree = ast.parse(modules[module].read_text())
        assert imported in imported_modules(module, tree), (module, imported)


def test_only_the_settings_read_or_write_the_environment() -> None:
    uses = {
        module: lines
        for module, path in _modules().items()
        if (lines := environment_uses(path.read_text())) and module not in ENVIRONMENT_READERS
    }
    assert uses == {}
    # and the settings do read it (the check above is not vacuous)
    assert environment_uses(_modules()["warehouse.settings"].read_text())


def test_the_entry_points_and_the_tooling_are_where_a_reader_expects_them() -> None:
    modules = _modules()
    for module in ("dwh.cli", "dwh.runner", "dwh.bench", "devtools.embedded"):
        assert module in modules
    for module in ("warehouse.cli", "warehouse.runner", "warehouse.bench", "warehouse.embedded"):
        assert module not in modules
