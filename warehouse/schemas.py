"""The warehouse's schemas, named once for the Python side.

The dbt project names the same schemas in its own configuration (dbt_project.yml, sources);
every Python module takes them from here.
"""

from __future__ import annotations

RAW = "raw"
BRONZE = "bronze"
SILVER = "silver"
CANDIDATE = "gold_candidate"  # dbt builds the gold marts here; the checks run here
GOLD = "gold"  # what BI reads: the last publication whose checks all passed
AUDIT = "audit"
REFERENCE = "reference"  # the dbt seeds
SECURITY = "security"  # the readers' scopes (warehouse/access.py)
SEMANTIC = "semantic"  # the semantic layer's time spine (dbt_project/models/semantic/)

# Every schema the pipeline creates, from the landing to the publication.
WAREHOUSE_SCHEMAS = (RAW, BRONZE, SILVER, CANDIDATE, GOLD, AUDIT, SEMANTIC)
