"""Test harness: a real PostgreSQL (embedded unless DWH_TEST_DATABASE_URL names a server),
a fresh database per test, and dbt with its own target directory per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from warehouse.dbt import run_dbt
from warehouse.embedded import EmbeddedPostgres


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
    home = tmp_path_factory.mktemp("dwh_home")
    server = EmbeddedPostgres(home)
    state = server.start()
    try:
        yield state.url("postgres")
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _dbt_paths(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Each test session gets its own dbt target and log directories, so concurrent sessions
    # on one checkout never share a manifest or partial-parse state.
    base = tmp_path_factory.mktemp("dbt")
    os.environ["DBT_TARGET_PATH"] = str(base / "target")
    os.environ["DBT_LOG_PATH"] = str(base / "logs")


@pytest.fixture
def warehouse_url(pg_server_url: str, monkeypatch: pytest.MonkeyPatch,
                  tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database; DWH_DATABASE_URL points at it for the test's duration."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = _with_database(pg_server_url, name)
    monkeypatch.setenv("DWH_DATABASE_URL", url)
    monkeypatch.setenv("DWH_HOME", str(tmp_path / "dwh_home"))
    try:
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def dbt(warehouse_url: str):  # type: ignore[no-untyped-def]
    """Run dbt against the test's database: `dbt("build", "--select", "...")`."""

    def run(*args: str, check: bool = True):  # type: ignore[no-untyped-def]
        return run_dbt(list(args), warehouse_url, check=check)

    return run
