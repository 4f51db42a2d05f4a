"""Warehouse runtime: settings, the database connection, the embedded server and the CLI."""
