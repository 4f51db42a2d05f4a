"""dagster-dbt's dbt resource, without two things it does before every dbt command.

`DbtCliResource.cli` first runs `dbt --version` in a subprocess (to tell dbt Core from the
Fusion engine), and then opens a dbt Core adapter in this process (importing dbt, loading the
profile, the project and dbt's base macros). The adapter only serves `fetch_row_counts` and
`fetch_column_metadata`, which this project does not call, and the version is that of the
installed dbt-core package, which runs every command (warehouse/dbt.py's wrapper). Together
they were 3.9 s of every run's dbt step before dbt's first line (measured on the benchmark's
incremental run: about a tenth of that run).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION

if TYPE_CHECKING:
    from packaging.version import Version


class WarehouseDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> Version:
        # the dbt-core of this interpreter, which dagster-dbt imported: what `dbt --version`
        # prints for the wrapper every command runs through
        if DBT_PYTHON_VERSION is None:
            return super()._cli_version
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        # No adapter: dagster-dbt passes None on, as it does when opening one fails, and
        # needs one only for row counts and column metadata.
        return None
