"""The warehouse: core (settings, schemas, database) and its operations (landing aside:
ingestion/): publication, access, seeds, audit, dbt. Imports nothing above it."""
