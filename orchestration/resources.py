"""Resources, configured from environment variables."""

import os

import dagster as dg
import psycopg

from warehouse.database import connect, database_url, dbt_env
from warehouse.settings import load_settings


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database: DWH_DATABASE_URL, or the embedded server under DWH_HOME.

    The environment is read when the resource is used, not when the definitions load, so a
    long-lived code server follows the environment of each run. `database_url` overrides it.
    """

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or database_url(load_settings())

    def connect(self) -> psycopg.Connection:
        return connect(self.url())

    def export_dbt_env(self) -> None:
        # dbt's profile reads the connection from the environment of its subprocess, which
        # dagster-dbt copies from this process.
        os.environ.update(dbt_env(self.url()))
