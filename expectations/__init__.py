"""Great Expectations suites that gate the publication of the gold marts.

One suite per gold mart (`suites/`, one module per gold domain): the mart's dbt contract read
from the dbt manifest (`contract.py`) plus the rules of docs/ that only GX checks; and a
schema-wide PII check (`pii.py`). `validate_mart` and `validate_pii` run them with GX
against a schema (the candidate schema before publication), keep the results as Data Docs
under `gx_home`, and report every rule as an `ExpectationOutcome`; inside
`validation_session`, the Data Docs pages of many validations are written in one build.
"""

from expectations.runner import (
    MARTS,
    ExpectationOutcome,
    MartValidation,
    validate_mart,
    validate_pii,
    validation_session,
)

__all__ = [
    "MARTS",
    "ExpectationOutcome",
    "MartValidation",
    "validate_mart",
    "validate_pii",
    "validation_session",
]
