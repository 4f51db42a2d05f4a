"""The SQL of each endpoint, over gold (and the `api` views of silver)."""
