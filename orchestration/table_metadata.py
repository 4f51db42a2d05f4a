"""Dagster's metadata keys for assets that are tables (its TableMetadataSet, which `dagster`
does not export): the UI shows them as the table's name, row count and columns."""

TABLE_NAME = "dagster/table_name"
ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"
