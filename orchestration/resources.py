"""Resources: the warehouse database, as the settings (or the run's config) name it."""

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from warehouse.database import (
    acquire_run_lock,
    connect,
    database_url,
    release_run_lock,
)
from warehouse.settings import load_settings


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database: DWH_DATABASE_URL, or the server the entry point registered
    (warehouse.database.use_server: `dwh` registers the embedded one; `dwh dagster` hands its
    URL to Dagster's processes as DWH_DATABASE_URL).

    The settings are read when the resource is used, not when the definitions load, so a
    long-lived code server follows the environment of each run. `database_url` (in the run's
    config: `dwh run` passes the URL it holds the lock on) overrides them.

    A run holds the warehouse's run lock from its first step to its end (warehouse/database.py),
    whoever launched it: `dwh run` (which takes it earlier, and is not asked twice), the
    Dagster daemon, or the UI. A second run waits for the first, or with `wait_for_lock` off
    fails at once. Sensors use the resource without a run, and take no lock.
    """

    database_url: str | None = None
    wait_for_lock: bool = True
    _locked_url: str | None = PrivateAttr(default=None)

    def url(self) -> str:
        return self.database_url or database_url(load_settings())

    def connect(self) -> psycopg.Connection:
        return connect(self.url())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        if run is None:
            return
        url = self.url()
        log = context.log

        def waiting(message: str) -> None:
            if log is not None:
                log.warning(message)

        if acquire_run_lock(
            url, wait=self.wait_for_lock, holder=f"dagster run {run.run_id}", on_wait=waiting
        ):
            self._locked_url = url

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._locked_url is not None:
            release_run_lock(self._locked_url)
            self._locked_url = None
