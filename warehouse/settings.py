"""Every setting the warehouse reads from the environment, in one place.

`DWH_DATABASE_URL` points at any PostgreSQL; without it the embedded server under `DWH_HOME`
is used. Everything else (dbt, Dagster, GX, the loader) asks this module, never the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    landing_dir: Path

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
    )
