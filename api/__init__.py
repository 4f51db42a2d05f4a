"""The analytics API over gold: per-client tokens, brand isolation by row-level security."""
