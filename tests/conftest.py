"""Test harness: a real PostgreSQL (embedded unless DWH_TEST_DATABASE_URL names a server),
a fresh database per test, and dbt with its own target directory per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from devtools.embedded import EmbeddedPostgres
from warehouse.dbt import run_dbt


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a server the tests may create databases on."""
    external = os.environ.get("DWH_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's base temp: pytest keeps that 0700, and as root the server runs as
    # its own user, which must be able to reach its data directory.
    home = Path(tempfile.mkdtemp(prefix="dwh-test-"))
    server = EmbeddedPostgres(home, port=0)
    state = server.start()
    try:
        yield state.admin_url()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


# Each test session gets its own dbt target and log directories, so concurrent sessions on
# one checkout never share a manifest or partial-parse state. Set when this file is imported,
# before any test module: orchestration.project fixes its DbtProject's target when a module
# first imports it, at collection time for a test module importing orchestration.marts.
# DWH_HOME likewise (GX project, Dagster instance, logs), unless a test names its own: the
# checkout's .dwh stays the developer's, and parallel workers (`make test` runs two) never
# share one.
_DBT_BASE = Path(tempfile.mkdtemp(prefix="dwh-test-dbt-"))
os.environ["DBT_TARGET_PATH"] = str(_DBT_BASE / "target")
os.environ["DBT_LOG_PATH"] = str(_DBT_BASE / "logs")
os.environ["DWH_HOME"] = str(_DBT_BASE / "home")


@pytest.fixture(scope="session", autouse=True)
def _dbt_paths() -> Iterator[None]:
    yield
    shutil.rmtree(_DBT_BASE, ignore_errors=True)


class DatabaseFactory:
    """Creates empty databases on the test server and drops them at the end of the session."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: list[str] = []

    def create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        self.names.append(name)
        return _with_database(self.server_url, name)

    def drop_all(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def databases(pg_server_url: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_server_url)
    try:
        yield factory
    finally:
        factory.drop_all()


@pytest.fixture(scope="module")
def module_warehouse_url(databases: DatabaseFactory) -> Iterator[str]:
    """A fresh database shared by the tests of one module (build once, assert many times).
    DWH_DATABASE_URL points at it while the module's tests run."""
    url = databases.create()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWH_DATABASE_URL", url)
        yield url


@pytest.fixture
def warehouse_url(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """A fresh, empty database; DWH_DATABASE_URL points at it for the test's duration."""
    url = databases.create()
    monkeypatch.setenv("DWH_DATABASE_URL", url)
    monkeypatch.setenv("DWH_HOME", str(tmp_path / "dwh_home"))
    return url


@pytest.fixture
def dbt(warehouse_url: str):  # type: ignore[no-untyped-def]
    """Run dbt against the test's database: `dbt("build", "--select", "...")`."""

    def run(*args: str, check: bool = True):  # type: ignore[no-untyped-def]
        return run_dbt(list(args), warehouse_url, check=check)

    return run
