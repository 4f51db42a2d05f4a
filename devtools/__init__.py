"""Development tooling: the embedded PostgreSQL server of `dwh db` and the tests."""
