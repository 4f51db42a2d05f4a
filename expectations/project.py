"""The file-backed GX project under `gx_home`: datasources, suites, runs and Data Docs.

- One context per `gx_home` per process, created once (reading the project files is the slow
  part of a context) and made GX's current project before each use, since GX 1.x keeps one
  current project per process.
- One datasource per database. Its connection string in great_expectations.yml is a
  `${DWH_GX_URL_<hash>}` reference, resolved from the context's runtime environment: a dict
  of this project object that GX reads when it substitutes config variables (GX 1.x reads it
  last, after config_variables.yml and the process environment, so it wins). The
  password never lands in the project files, and the process environment is left alone.
  Sessions run in UTC.
- Files shared by concurrent processes (great_expectations.yml, the Data Docs index) are
  written under an exclusive lock file; the validation queries run outside it.
- Retention: the newest `keep_results` results of each suite are kept (JSON and HTML page).
  GX's Data Docs index read every stored result on each build (measured: about +2 ms per
  stored result); the index is now the project's own (data_docs.py), which reads each result
  once, and the retention keeps the site's size bounded.
- Data Docs: each build renders the pages of its results and of their suites (the index links
  to both), and makes them readable offline (data_docs.py: no CDN, a static index).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.context_factory import project_manager
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from expectations import data_docs
from warehouse.database import connection_parts, sqlalchemy_url

BATCH_DEFINITION = "whole_table"
LOCK_FILE = ".expectations.lock"
KEEP_RESULTS = 100  # per suite

_process_lock = threading.RLock()
_projects: dict[Path, Project] = {}


@dataclass(frozen=True)
class Run:
    result: Any  # ExpectationSuiteValidationResult
    docs_path: Path | None


def _url_key(database_url: str) -> str:
    """A stable name for a database: host, port, database and user, never the password."""
    parts = connection_parts(database_url)  # refuses a URL without host and port
    ident = f"{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
    return hashlib.sha256(ident.encode()).hexdigest()[:12]


def _file_path(url: str | None) -> Path | None:
    if not url:
        return None
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


class Project:
    """A GX file context under `home`, reused by every validation of this process."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        # identifiers of runs whose Data Docs pages wait for one build (see batched_docs), and
        # the suites whose old results wait for one prune, with how many to keep
        self._pending_docs: list[ValidationResultIdentifier] | None = None
        self._pending_prune: dict[str, int] = {}
        # GX keeps this very dict as its runtime environment: connection URLs added to it
        # later are seen at the next substitution (see datasource)
        self._urls: dict[str, str] = {}
        with self.locked():
            self.context = gx.get_context(
                mode="file", project_root_dir=str(home), runtime_environment=self._urls
            )
            _compact_config_variables(self.context)
        # Progress bars are noise in job logs (in memory only: the project file is shared).
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )

    @classmethod
    def at(cls, home: Path) -> Project:
        key = home.resolve()
        with _process_lock:
            project = _projects.get(key)
            if project is None:
                project = _projects[key] = cls(key)
            project_manager.set_project(project.context)
            return project

    @contextmanager
    def locked(self) -> Iterator[None]:
        with _process_lock, open(self.home / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- data -------------------------------------------------------------------------------

    def datasource(self, database_url: str) -> Any:
        key = _url_key(database_url)
        variable = f"DWH_GX_URL_{key.upper()}"
        self._urls[variable] = sqlalchemy_url(database_url)
        name = f"warehouse_{key}"
        try:
            return self.context.data_sources.get(name)
        except KeyError:
            pass
        with self.locked():
            return self.context.data_sources.add_postgres(
                name,
                connection_string="${" + variable + "}",
                kwargs={
                    "connect_args": {
                        "options": "-c timezone=UTC",
                        "application_name": "gx-expectations",
                    }
                },
            )

    def table_batch(self, database_url: str, schema: str, table: str) -> Any:
        source = self.datasource(database_url)
        name = f"{schema}.{table}"
        try:
            asset = source.get_asset(name)
        except LookupError:
            with self.locked():
                asset = source.add_table_asset(name, table_name=table, schema_name=schema)
        return self._whole(asset)

    def query_batch(self, database_url: str, name: str, query: str) -> Any:
        source = self.datasource(database_url)
        try:
            asset = source.get_asset(name)
            if asset.query != query:
                raise LookupError(name)
        except LookupError:
            with self.locked():
                if any(a.name == name for a in source.assets):
                    source.delete_asset(name)
                asset = source.add_query_asset(name, query=query)
        return self._whole(asset)

    def _whole(self, asset: Any) -> Any:
        try:
            return asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            with self.locked():
                return asset.add_batch_definition_whole_table(BATCH_DEFINITION)

    # --- runs -------------------------------------------------------------------------------

    def run(
        self,
        name: str,
        batch_definition: Any,
        expectations: Sequence[Any],
        keep_results: int | None = KEEP_RESULTS,
        notes: str | None = None,
    ) -> Run:
        """Validate the batch against a suite `name` of these expectations, keep the result in
        the project's validation store, render its Data Docs page."""
        context = self.context
        suite = gx.ExpectationSuite(name=name, expectations=list(expectations), notes=notes)
        definition = gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        with self.locked():
            suite = context.suites.add_or_update(suite)
            definition = context.validation_definitions.add_or_update(definition)
        run_id = RunIdentifier(run_name=name, run_time=dt.datetime.now(dt.UTC))
        result = definition.run(run_id=run_id, result_format="SUMMARY")
        active = result.meta.get("active_batch_definition") or {}
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=name),
            run_id=run_id,
            batch_identifier=f"{active.get('datasource_name')}-{active.get('data_asset_name')}",
        )
        with self.locked():
            if self._pending_docs is None:
                if keep_results is not None:
                    self._prune({name: max(1, keep_results)})
                self._build_docs([identifier])
            else:
                if keep_results is not None:
                    self._pending_prune[name] = max(1, keep_results)
                self._pending_docs.append(identifier)
        if self._pending_docs is not None:
            return Run(result, self._page(identifier, only_if_exists=False))
        path = self._page(identifier)
        if path is None or not path.exists():
            index = context.get_docs_sites_urls()
            path = _file_path(index[0].get("site_url")) if index else None
        return Run(result, path)

    def _page(
        self, identifier: ValidationResultIdentifier, only_if_exists: bool = True
    ) -> Path | None:
        urls = self.context.get_docs_sites_urls(
            resource_identifier=identifier, only_if_exists=only_if_exists
        )
        return _file_path(urls[0].get("site_url")) if urls else None

    @contextmanager
    def batched_docs(self) -> Iterator[None]:
        """Runs inside render their Data Docs pages in one build on leaving, after one prune
        of old results. A build also renders the index and compiles GX's page templates
        again: about two thirds of a small suite's time when done once per run; a prune lists
        every stored result of every suite: 0.16 s per suite on a warehouse's 18 suites
        (profiled)."""
        with _process_lock:
            if self._pending_docs is not None:  # nested: the outer block builds
                yield
                return
            self._pending_docs = []
            try:
                yield
            finally:
                pending, self._pending_docs = self._pending_docs, None
                prune, self._pending_prune = self._pending_prune, {}
                if pending or prune:
                    with self.locked():
                        removed = self._prune(prune)
                        # a suite run twice with one result kept: the first run's page is gone
                        pending = [i for i in pending if i not in removed]
                        if pending:
                            self._build_docs(pending)

    # --- Data Docs --------------------------------------------------------------------------

    def site_directory(self) -> Path:
        """The Data Docs site: <home>/gx/uncommitted/data_docs/local_site (GX's layout)."""
        urls = self.context.get_docs_sites_urls(only_if_exists=False)
        index = _file_path(urls[0].get("site_url")) if urls else None
        if index is None:
            raise RuntimeError(f"the GX project under {self.home} has no local Data Docs site")
        return index.parent

    def _suite_page(self, name: str) -> Path:
        return self.site_directory() / "expectations" / Path(*name.split(".")).with_suffix(".html")

    def _build_docs(self, identifiers: Sequence[ValidationResultIdentifier]) -> None:
        """The pages of these results and of their suites, offline, and the index. Called
        under the lock."""
        names = sorted({i.expectation_suite_identifier.name for i in identifiers})
        suites = [ExpectationSuiteIdentifier(name=name) for name in names]
        self.context.build_data_docs(
            resource_identifiers=[*identifiers, *suites], build_index=False
        )
        pages = [self._page(i, only_if_exists=False) for i in identifiers]
        pages += [self._suite_page(name) for name in names]
        data_docs.make_site_offline(self.site_directory(), [p for p in pages if p is not None])

    def build_site(self) -> Path:
        """Every suite's page, every page offline, the index: the whole site, for `dwh docs`
        (results keep the pages their runs rendered). Returns the index."""
        with _process_lock, self.locked():
            suites = [ExpectationSuiteIdentifier(name=s.name) for s in self.context.suites.all()]
            if suites:
                self.context.build_data_docs(resource_identifiers=suites, build_index=False)
            site = self.site_directory()
            site.mkdir(parents=True, exist_ok=True)
            data_docs.make_site_offline(site)
        return site / data_docs.INDEX

    def _prune(self, keep: dict[str, int]) -> set[ValidationResultIdentifier]:
        """Forget all but the newest `keep[name]` results of each suite `name`, and their
        pages, listing the store once. Returns the identifiers forgotten."""
        if not keep:
            return set()
        store = self.context.validation_results_store
        by_suite: dict[str, list[ValidationResultIdentifier]] = {}
        for key in store.list_keys():
            if isinstance(key, ValidationResultIdentifier):
                name = key.expectation_suite_identifier.name
                if name in keep:
                    by_suite.setdefault(name, []).append(key)
        old: list[ValidationResultIdentifier] = []
        for name, keys in by_suite.items():
            keys.sort(key=lambda key: str(key.run_id.run_time))
            old += keys[: -keep[name]]
        for key in old:
            store.remove_key(key)
            for site in self.context.get_docs_sites_urls(
                resource_identifier=key, only_if_exists=False
            ):
                page = _file_path(site.get("site_url"))
                if page is not None:
                    page.unlink(missing_ok=True)
                    _remove_empty_parents(page.parent, stop=self.home)
        return set(old)


def _compact_config_variables(context: Any) -> None:
    """Drop the page of comments that GX writes at the top of the project's
    config_variables.yml when it creates the project. GX reads and parses that file again
    whenever it reads one of its settings, about 600 times in a warehouse run's validations,
    and its YAML parser goes through the comments character by character (about 3 ms a read,
    profiled). What follows the leading comments (GX's `instance_id`) stays as it is."""
    relative = context.config.config_variables_file_path
    if not relative:
        return
    path = Path(context.root_directory) / relative
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    lines = text.splitlines()
    first = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")),
        len(lines),
    )
    if first == 0:
        return
    kept = lines[first:]
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    # an empty file would not parse as a mapping: GX expects one
    partial.write_text("\n".join(kept) + "\n" if kept else "{}\n", encoding="utf-8")
    partial.replace(path)


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
