"""Every setting the warehouse reads from the environment, in one place.

`DWH_DATABASE_URL` points at any PostgreSQL; without it the embedded server under `DWH_HOME`
is used (started by the `dwh` command, devtools/embedded.py). Everything else (dbt, Dagster,
GX, the loader) asks this module, never the environment; a subprocess gets its environment
from `child_environment`, explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# The window of accepted `occurred_at` values (see landing): not before the earliest date, not
# after the time of landing plus the tolerance. 2000-01-01 lets an operator replay decades of
# history, yet keeps a mistyped year (0001, 1970 from a zeroed clock) out of the date spines.
DEFAULT_EARLIEST_EVENT_DATE = date(2000, 1, 1)
DEFAULT_FUTURE_TOLERANCE = timedelta(days=1)
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", re.ASCII)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    landing_dir: Path
    earliest_event_date: date = DEFAULT_EARLIEST_EVENT_DATE
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE
    load_workers: int | None = None  # None: the number of cores, up to 4
    # dbt's artifacts (DBT_TARGET_PATH): tests and parallel sessions point it elsewhere so
    # they never share a manifest or partial-parse state.
    dbt_target_path: Path = DBT_PROJECT_DIR / "target"
    dagster_home: Path | None = None  # DAGSTER_HOME; None: home / "dagster"
    debug: bool = False  # DWH_DEBUG: the CLI shows tracebacks
    # The analytics API's rate limit per client (api/ratelimit.py): a token bucket refilled at
    # DWH_API_RATE requests per second, holding at most DWH_API_BURST.
    api_rate_per_second: float = 50.0
    api_burst: int = 100
    api_pool_size: int = 8  # DWH_API_POOL_SIZE: database connections of one API process

    @property
    def uses_embedded(self) -> bool:
        return self.database_url is None


def load_settings() -> Settings:
    home = Path(os.environ.get("DWH_HOME", PROJECT_ROOT / ".dwh")).expanduser().resolve()
    landing = os.environ.get("DWH_LANDING_DIR")
    return Settings(
        home=home,
        database_url=os.environ.get("DWH_DATABASE_URL") or None,
        landing_dir=Path(landing).expanduser().resolve() if landing else home / "landing",
        earliest_event_date=_date_setting("DWH_EARLIEST_EVENT_DATE", DEFAULT_EARLIEST_EVENT_DATE),
        future_tolerance=_duration_setting("DWH_FUTURE_TOLERANCE", DEFAULT_FUTURE_TOLERANCE),
        load_workers=_workers_setting("DWH_LOAD_WORKERS"),
        dbt_target_path=Path(os.environ.get("DBT_TARGET_PATH") or DBT_PROJECT_DIR / "target"),
        dagster_home=_path_setting("DAGSTER_HOME"),
        debug=bool(os.environ.get("DWH_DEBUG")),
        api_rate_per_second=_positive_setting("DWH_API_RATE", 50.0),
        api_burst=int(_positive_setting("DWH_API_BURST", 100)),
        api_pool_size=int(_positive_setting("DWH_API_POOL_SIZE", 8)),
    )


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a subprocess: this process's, plus `extra`; passed as `env=`."""
    return {**os.environ, **(extra or {})}


@contextmanager
def exported_to_children(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in this process's environment while the block runs, as they were after.

    The one write to the environment, for one library: dagster-dbt's DbtCliResource starts
    dbt with a copy of `os.environ` and takes no environment of its own
    (dagster_dbt/core/resource.py, `cli`), and dbt's profile reads the connection from it.
    Scoped to the call that starts the subprocess, so nothing else sees the values."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _path_setting(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _date_setting(name: str, default: date) -> date:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def parse_duration(value: str) -> timedelta:
    """'36h', '1d', '90m', '45s' or a number of seconds -> a timedelta."""
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"not a duration (e.g. 1d, 36h, 90m, 3600s): {value!r}")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _duration_setting(name: str, default: timedelta) -> timedelta:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return parse_duration(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be a duration (e.g. 1d, 36h, 90m), got {value!r}") from None


def _workers_setting(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number of processes, got {value!r}")
    return int(value)


def _positive_setting(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number
